// OpenAI request parsing (with type checks that become 400 errors) and the
// response / stream-chunk bodies of /v1/chat/completions and /v1/completions.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "runtime/chat_format.h"
#include "server/scheduler.h"
#include "server/tool_calls.h"

namespace pocketllm::server {

constexpr int kMaxChoices = 16;      // 'n'
constexpr int kMaxTopLogprobs = 20;  // 'top_logprobs' (chat), 'logprobs' (completions)

struct CompletionRequest {
  GenRequest gen;  // gen.logprobs >= 0: the answer carries logprobs
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  int n = 1;                   // independent choices
  // Chat with tools (tool_choice not "none"): the answer is parsed for calls in tool_format.
  std::vector<ToolSpec> tools;
  ToolChoice tool_choice;
  ToolFormat tool_format = ToolFormat::Generic;
  bool parallel_tool_calls = true;  // false: a forced answer holds one call
  bool tools_active() const { return !tools.empty() && tool_choice.mode != ToolChoice::None; }
};

// Parses a JSON body; throws ApiError 400 when it is not a JSON object or nests
// deeper than kMaxJsonDepth (core/bounded_json.h).
nlohmann::json parse_body(const std::string& body);

// Sampling fields and limits common to both endpoints, over `defaults`.
// `raw` is the body's text: a response_format json_schema is read from it again
// in document order, so properties come out in the order the client wrote them.
CompletionRequest parse_common(const nlohmann::json& body, const SamplingParams& defaults, std::string_view raw = {});
// /v1/chat/completions: messages rendered with the chat template and tokenized.
CompletionRequest parse_chat_request(const nlohmann::json& body, const ChatFormatter& fmt,
                                     const SamplingParams& defaults, std::string_view raw = {});
// /v1/completions: a raw prompt (string, or an array of token ids).
CompletionRequest parse_completion_request(const nlohmann::json& body, const Tokenizer& tok,
                                           const SamplingParams& defaults, std::string_view raw = {});

// What an answer has in common across the response shapes.
struct ResponseMeta {
  std::string id, model;
  int64_t created = 0;
  bool chat = true;
  const Tokenizer* tok = nullptr;  // spells the tokens of logprobs
};

// One choice of an answer.
struct ChoiceOut {
  int index = 0;
  std::string text;  // content (chat) or text (completions)
  std::string finish_reason;
  bool with_logprobs = false;
  std::vector<TokenLogprob> logprobs;
  std::vector<ToolCall> calls;     // chat: the tool calls found in the answer
  std::vector<std::string> call_ids;  // one per call ("call_...")
};

// OpenAI usage; cached_tokens (prompt tokens served from the slot's KV cache) in prompt_tokens_details.
nlohmann::json usage_json(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens);
// llama.cpp's "timings" object (not OpenAI's): {prompt_n, prompt_ms, prompt_per_second,
// predicted_n, predicted_ms, predicted_per_second}; a rate is null when nothing was timed.
nlohmann::json timings_json(const GenTimings& t);
// A whole (non-streamed) chat.completion or text_completion.
nlohmann::json full_response(const ResponseMeta& m, const std::vector<ChoiceOut>& choices, const nlohmann::json& usage);
// One stream chunk (without "usage") of choice `index`. For chat, `role_only` gives
// the first delta {role:"assistant"}; `finish_reason` non-empty gives the last
// chunk of the choice. `logprobs`: the tokens of `text`, or null for none.
nlohmann::json stream_chunk(const ResponseMeta& m, const std::string& text, bool role_only,
                            const std::string& finish_reason, int index = 0,
                            const std::vector<TokenLogprob>* logprobs = nullptr);
// A chunk of choice `index` whose delta is one piece of a tool call, as OpenAI
// streams them: a call's first, with its index, id, type and name (arguments ""),
// then ones with its index and a fragment of its arguments.
nlohmann::json stream_call_start_chunk(const ResponseMeta& m, int index, int call, const std::string& id,
                                       const std::string& name, const std::vector<TokenLogprob>* logprobs);
nlohmann::json stream_call_arguments_chunk(const ResponseMeta& m, int index, int call, const std::string& fragment,
                                           const std::vector<TokenLogprob>* logprobs);
// The "logprobs" of a choice: chat {"content":[{token, logprob, bytes, top_logprobs}]},
// completions {tokens, token_logprobs, top_logprobs, text_offset}.
nlohmann::json logprobs_json(const ResponseMeta& m, const std::vector<TokenLogprob>& lp);
// stream_options.include_usage: the extra chunk before [DONE], "choices": [] and the usage.
nlohmann::json stream_usage_chunk(const ResponseMeta& m, const nlohmann::json& usage);

}  // namespace pocketllm::server
