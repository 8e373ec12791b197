// /v1/chat/completions requests: messages (with tool calls and tool results),
// logprobs, tools and tool_choice, rendered through the model's chat template.
#include "core/bounded_json.h"
#include "core/error.h"
#include "runtime/grammar_constraint.h"
#include "server/api_error.h"
#include "server/openai_json.h"

namespace pocketllm::server {
namespace {

using ojson = nlohmann::ordered_json;

const ojson* field(const ojson& o, const char* name) {
  auto it = o.find(name);
  if (it == o.end() || it->is_null()) return nullptr;
  return &*it;
}

// A message content: a string, or an array of {type:"text", text} parts.
std::string message_content(const ojson& c) {
  if (c.is_null()) return "";
  if (c.is_string()) return c.get<std::string>();
  if (!c.is_array()) bad_request("a message 'content' must be a string or an array of text parts");
  std::string out;
  for (auto& part : c) {
    const ojson* type = part.is_object() ? field(part, "type") : nullptr;
    const ojson* text = part.is_object() ? field(part, "text") : nullptr;
    if (!type || *type != "text" || !text || !text->is_string())
      bad_request("only text content parts ({\"type\":\"text\",\"text\":...}) are supported");
    out += text->get_ref<const std::string&>();
  }
  return out;
}

// An assistant message's tool_calls as templates read them (transformers'
// convention): {"id","type":"function","function":{"name","arguments"}} with the
// arguments as an object when the client's string parses as one.
ojson read_tool_calls(const ojson& calls, size_t mi) {
  const std::string where = fmt::format("messages[{}].tool_calls", mi);
  if (!calls.is_array()) bad_request(where + " must be an array");
  ojson out = ojson::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    const ojson& c = calls[i];
    const std::string at = fmt::format("{}[{}]", where, i);
    if (!c.is_object()) bad_request(at + " must be an object");
    const ojson* fn = field(c, "function");
    if (!fn || !fn->is_object()) bad_request(at + ".function must be an object");
    const ojson* name = field(*fn, "name");
    if (!name || !name->is_string()) bad_request(at + ".function.name must be a string");
    const ojson* args = field(*fn, "arguments");
    ojson a = ojson::object();
    if (args && args->is_string()) {
      a = ojson::parse(args->get<std::string>(), nullptr, false);
      if (a.is_discarded()) a = *args;  // not JSON: the template gets the string as it came
    } else if (args && args->is_object()) {
      a = *args;
    } else if (args) {
      bad_request(at + ".function.arguments must be a string (JSON) or an object");
    }
    const ojson* id = field(c, "id");
    if (id && !id->is_string()) bad_request(at + ".id must be a string");
    ojson call = ojson::object();
    if (id) call["id"] = *id;
    call["type"] = "function";
    call["function"] = {{"name", *name}, {"arguments", a}};
    out.push_back(std::move(call));
  }
  return out;
}

// The Generic form has no template syntax: calls become the JSON the model was
// taught to write, results a user message that says what they answer.
void to_generic(ojson& msg) {
  if (msg["role"] == "assistant" && msg.contains("tool_calls")) {
    ojson calls = ojson::array();
    for (auto& c : msg["tool_calls"]) calls.push_back({{"name", c["function"]["name"]}, {"arguments", c["function"]["arguments"]}});
    std::string content = msg["content"].get<std::string>();
    msg["content"] = (content.empty() ? "" : content + "\n") + ojson{{"tool_calls", calls}}.dump();
    msg.erase("tool_calls");
  } else if (msg["role"] == "tool") {
    std::string who = msg.contains("name") && msg["name"].is_string() ? msg["name"].get<std::string>() : "";
    if (who.empty() && msg.contains("tool_call_id") && msg["tool_call_id"].is_string())
      who = msg["tool_call_id"].get<std::string>();
    msg = {{"role", "user"}, {"content", "Result of the function call" + (who.empty() ? "" : " " + who) + ":\n" +
                                             msg["content"].get<std::string>()}};
  }
}

ojson read_messages(const ojson& msgs, ToolFormat format) {
  if (!msgs.is_array() || msgs.empty()) bad_request("'messages' must be a non-empty array");
  ojson out = ojson::array();
  for (size_t i = 0; i < msgs.size(); ++i) {
    const ojson& m = msgs[i];
    if (!m.is_object()) bad_request("each message must be an object");
    const ojson* role = field(m, "role");
    if (!role || !role->is_string()) bad_request("each message needs a string 'role'");
    const ojson* content = field(m, "content");
    ojson msg = {{"role", *role}, {"content", content ? message_content(*content) : std::string()}};
    for (const char* key : {"name", "tool_call_id"}) {
      if (const ojson* v = field(m, key)) {
        if (!v->is_string()) bad_request(fmt::format("messages[{}].{} must be a string", i, key));
        msg[key] = *v;
      }
    }
    if (const ojson* calls = field(m, "tool_calls")) {
      if (*role != "assistant") bad_request(fmt::format("messages[{}]: only assistant messages carry tool_calls", i));
      msg["tool_calls"] = read_tool_calls(*calls, i);
    }
    if (format == ToolFormat::Generic) to_generic(msg);
    out.push_back(std::move(msg));
  }
  return out;
}

int32_t read_chat_logprobs(const ojson& body) {
  bool on = false;
  if (const ojson* v = field(body, "logprobs")) {
    if (!v->is_boolean()) bad_request("'logprobs' must be a boolean");
    on = v->get<bool>();
  }
  int64_t top = 0;
  if (const ojson* v = field(body, "top_logprobs")) {
    if (!v->is_number_integer()) bad_request("'top_logprobs' must be an integer");
    top = v->is_number_unsigned() && v->get<uint64_t>() > kMaxTopLogprobs ? kMaxTopLogprobs + 1 : v->get<int64_t>();
    if (top < 0 || top > kMaxTopLogprobs) bad_request(fmt::format("'top_logprobs' must be between 0 and {}", kMaxTopLogprobs));
    if (!on) bad_request("'top_logprobs' needs 'logprobs': true");
  }
  return on ? static_cast<int32_t>(top) : -1;
}

}  // namespace

CompletionRequest parse_chat_request(const nlohmann::json& body, const ChatFormatter& fmt,
                                     const SamplingParams& defaults, std::string_view raw) {
  CompletionRequest r = parse_common(body, defaults, raw);
  // Again in document order: tool schemas and arguments keep the client's key order.
  const ojson doc = raw.empty() ? ojson::parse(body.dump()) : parse_json_bounded<ojson>(raw, "the request body");
  r.gen.logprobs = read_chat_logprobs(doc);
  const ojson* tools = field(doc, "tools");
  if (tools) r.tools = parse_tools(*tools);
  r.tool_choice = parse_tool_choice(field(doc, "tool_choice"), r.tools);
  if (const ojson* p = field(doc, "parallel_tool_calls")) {
    if (!p->is_boolean()) bad_request("'parallel_tool_calls' must be a boolean");
    r.parallel_tool_calls = p->get<bool>();
  }
  r.tool_format = fmt.has_template() ? tool_format_for_template(fmt.template_text()) : ToolFormat::Generic;

  const ojson* msgs = field(doc, "messages");
  if (!msgs) bad_request("'messages' is required");
  ojson conv = read_messages(*msgs, r.tool_format);
  ojson template_tools;  // null: the template gets no `tools`
  if (r.tools_active()) {
    if (r.tool_format == ToolFormat::Generic) {
      const std::string how = generic_tool_instructions(*tools);
      if (conv[0]["role"] == "system") {
        conv[0]["content"] = conv[0]["content"].get<std::string>() + "\n\n" + how;
      } else {
        conv.insert(conv.begin(), ojson{{"role", "system"}, {"content", how}});
      }
    } else {
      template_tools = *tools;
    }
    if (r.tool_choice.mode == ToolChoice::Required || r.tool_choice.mode == ToolChoice::Named) {
      if (r.gen.grammar)
        bad_request("'tool_choice' 'required' or a named function cannot be combined with 'grammar' or 'response_format'");
      std::vector<ToolSpec> allowed;
      for (auto& t : r.tools)
        if (r.tool_choice.mode == ToolChoice::Required || t.name == r.tool_choice.name) allowed.push_back(t);
      try {
        r.gen.grammar = compile_grammar({tool_call_grammar(r.tool_format, allowed, r.parallel_tool_calls ? kMaxParallelCalls : 1), "", false});
      } catch (const Error& e) {
        bad_request(std::string("tools: ") + e.what());
      }
    }
  }
  std::string rendered;
  try {
    rendered = fmt.render_json(conv, template_tools, true);
  } catch (const Error& e) {
    bad_request(std::string("the chat template failed: ") + e.what());
  }
  r.gen.prompt = fmt.tokenize(rendered);
  return r;
}

}  // namespace pocketllm::server
