// OpenAI request parsing (with type checks that become 400 errors) and the
// response / stream-chunk bodies of /v1/chat/completions and /v1/completions.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "runtime/chat_format.h"
#include "server/scheduler.h"

namespace pocketllm::server {

struct CompletionRequest {
  GenRequest gen;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
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
};

// OpenAI usage; cached_tokens (prompt tokens served from the slot's KV cache) in prompt_tokens_details.
nlohmann::json usage_json(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens);
// A whole (non-streamed) chat.completion or text_completion.
nlohmann::json full_response(const ResponseMeta& m, const std::string& text, const std::string& finish_reason,
                             const nlohmann::json& usage);
// One stream chunk (without "usage"). For chat, `role_only` gives the first delta
// {role:"assistant"}; `finish_reason` non-empty gives the last chunk with a choice.
nlohmann::json stream_chunk(const ResponseMeta& m, const std::string& text, bool role_only,
                            const std::string& finish_reason);
// stream_options.include_usage: the extra chunk before [DONE], "choices": [] and the usage.
nlohmann::json stream_usage_chunk(const ResponseMeta& m, const nlohmann::json& usage);

}  // namespace pocketllm::server
