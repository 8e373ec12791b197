// The tool-call parser of every family, fed the answer piece by piece as it is
// decoded; it reports content text, the start of a call (its name), fragments of
// the call's arguments and the call's end, as soon as each is decided. The whole-
// answer parser (parse_tool_calls) is this parser fed the whole text, so for any
// split of an answer the events concatenate to the non-streamed result.
//
// Rules (docs/STRUCTURED.md, "Tool calls"):
// - A call is an object {"name": <a function of tools>, "arguments"|"parameters":
//   <object, a JSON string holding one, or null>} in the family's syntax. It is
//   sent once its name is known and its arguments begin; from then on it stands.
//   Missing or null arguments are {}. Text that turns out not to be a call (an
//   unknown name, not JSON, arguments that are not an object) is content, sent
//   when that is decided.
// - Arguments are the object as the model wrote it, whitespace outside strings
//   removed (streamed as they come); a JSON string is unwrapped. An answer that
//   ends inside the arguments (max_tokens) keeps the call with what was written.
// - Content is the text outside calls. Whitespace is sent once more content
//   follows it: whitespace just before a call, and at the end of an answer with
//   calls, is dropped; an answer without calls is content byte for byte. Text
//   after a call that cannot continue the calls is content. UTF-8 sequences are
//   never split between two events.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "server/tool_calls.h"

namespace pocketllm::server {

struct ToolCallEvent {
  enum Kind { Content, CallStart, Arguments, CallEnd } kind;
  std::string text;  // Content: text; CallStart: the function's name; Arguments: a fragment
  int call = -1;     // CallStart, Arguments, CallEnd: the call's index
};

class ToolCallStream {
 public:
  ToolCallStream(ToolFormat f, const std::vector<ToolSpec>& tools);
  // The events the answer's next piece decides (pieces may split anything, even UTF-8).
  std::vector<ToolCallEvent> feed(std::string_view piece);
  // The answer ended: what was held back is decided.
  std::vector<ToolCallEvent> finish();
  int calls() const { return calls_; }

 private:
  enum class State {
    Start,         // nothing but whitespace yet
    Content,       // scanning content for the family's marker
    PlainContent,  // the rest is content (no call can start any more)
    AfterMarker,   // Qwen: after <tool_call>; Mistral: after [TOOL_CALLS] (then '[')
    LlamaTag,      // Llama 3: after <|python_tag|>, before '{'
    GenericOpen,   // Generic: '{' read, expecting "tool_calls" : [
    ArrayItem,     // Mistral/Generic: expecting a call object (after '[' or ',')
    ArrayNext,     // Mistral/Generic: after a call, expecting ',' or ']'
    GenericClose,  // Generic: after ']', expecting '}'
    Object,        // inside a call object (obj_ tells where)
    QwenClose,     // Qwen: after a call, expecting </tool_call>
  };
  enum class Obj { Key, Colon, Value, Args, After };
  enum class Step { More, Progress };

  Step step(bool eof);
  Step object_step(bool eof);
  Step content_scan(bool eof, std::string_view marker);
  Step object_end();
  void begin_call_text(State next);  // a call may start at pos_: hold the text from here
  void start_object();
  void fail();  // what is held cannot be (the rest of) a call: it is content
  void call_started();
  void call_ended();
  void content(std::string_view s);
  void emit(ToolCallEvent::Kind k, std::string s);

  ToolFormat f_;
  std::vector<std::string> names_;  // the functions of tools
  std::string buf_;  // the answer so far
  size_t pos_ = 0;   // where parsing resumes
  size_t hold_ = 0;  // start of text held while a call is undecided
  State state_ = State::Start;
  int calls_ = 0;
  // The call object being read.
  Obj obj_ = Obj::Key;
  std::string key_, name_, args_;
  bool have_args_ = false, started_ = false;
  int depth_ = 0;
  bool in_string_ = false, escape_ = false;
  // Output: whitespace waiting for content after it; bytes of an unfinished UTF-8 sequence.
  std::string ws_, utf8_content_, utf8_args_;
  std::vector<ToolCallEvent> out_;
};

}  // namespace pocketllm::server
