// A multi-turn conversation over one Context. Each turn renders the whole
// conversation, keeps the longest common prefix with the ids already in the KV
// cache, and prefills only the rest (re-tokenized history may differ from the
// generated ids: the common prefix absorbs that).
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "runtime/chat_format.h"
#include "runtime/generate.h"
#include "runtime/generation.h"
#include "runtime/grammar_constraint.h"

namespace pocketllm {

struct TurnResult {
  std::string text;          // the answer (special tokens and stop strings removed)
  GenerateStats stats;       // stats.n_prompt = tokens actually prefilled this turn
  int64_t reused = 0;        // prompt tokens served from the cache
  int64_t prompt_tokens = 0; // length of the rendered conversation in tokens
  int dropped_turns = 0;     // oldest turns removed to fit the context
  std::string finish_reason; // "stop" or "length"
  std::vector<int32_t> prompt_ids;  // the rendered conversation, tokenized
  std::vector<int32_t> generated;   // every sampled token (incl. a final end-of-turn token)
};

class ChatSession {
 public:
  ChatSession(Context& ctx, const ChatFormatter& fmt, const SamplingParams& sp);

  void set_system(const std::string& system);  // empty: no system message
  void clear();                                 // new conversation (cache kept for reuse)
  const std::vector<ChatMessage>& messages() const { return msgs_; }
  Sampler& sampler() { return sampler_; }
  // Speculative decoding for the answers (null: plain decoding); not owned.
  void set_speculator(Speculator* spec) { spec_ = spec; }

  struct TurnOptions {
    int64_t n_predict = -1;
    std::vector<std::string> stop;                       // stop strings
    std::function<void(const std::string&)> on_text;     // streamed answer text
    const std::atomic<bool>* cancel = nullptr;           // set to stop the answer early
    std::function<void(const std::string&)> on_notice;   // e.g. "context full: dropped 1 turn"
    std::shared_ptr<const grammar::Grammar> grammar;     // constrains the answer (null: free text)
  };
  // Adds the user message, generates and records the answer.
  TurnResult respond(const std::string& user, const TurnOptions& opt);

 private:
  std::vector<int32_t> render_ids(int& dropped, const std::function<void(const std::string&)>& notice,
                                  int64_t reserve);

  Context& ctx_;
  const ChatFormatter& fmt_;
  Sampler sampler_;
  Speculator* spec_ = nullptr;
  std::string system_;
  std::vector<ChatMessage> msgs_;  // user/assistant turns (system kept apart)
  std::vector<int32_t> cached_;    // ids whose K/V are in the context, in order
};

}  // namespace pocketllm
