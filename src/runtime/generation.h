// One generation from a prompt: the sampler, the incremental detokenizer, the
// stop strings, the limits, the tokens drawn and the finish reason, in one
// place. `run` (runtime/generate.h), `chat` (runtime/chat_session.h) and the
// server's scheduler (server/scheduler.h) each drive one; the caller owns the
// forward passes and hands over the logits after each one.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sampling/sampler.h"

namespace pocketllm {

struct Model;
class StreamDecoder;
namespace grammar {
class Matcher;
}

// Holds back streamed text that might be the start of a stop string.
class StopStringFilter {
 public:
  explicit StopStringFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {}
  // Feeds new text; returns what can be shown now. Sets stopped() once a stop string appears.
  std::string push(const std::string& text);
  std::string flush();  // what is left when generation ends without a stop string
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
};

enum class Finish {
  None,        // still generating
  Eog,         // the model ended its turn (an end-of-generation token)
  StopString,  // a stop string appeared (it and what follows are not shown)
  Length,      // max_tokens reached
  Context,     // no position left in the sequence to run the next token
  Cancelled,   // the caller stopped it
};
// OpenAI's finish_reason: "length" for Length and Context, else "stop".
const char* finish_reason_name(Finish f);

struct GenerationLimits {
  int64_t max_tokens = -1;         // answer tokens (not counting an end-of-generation token); < 0: no limit
  std::vector<std::string> stop;   // stop strings
  // End-of-generation test; default: the tokenizer's (none without a tokenizer).
  std::function<bool(int32_t)> is_eog;
  // Grammar constraint (runtime/grammar_constraint.h): every token drawn must fit
  // it (logits of the others are -inf before sampling, greedy included), and
  // end-of-generation is allowed only where the grammar may stop.
  std::shared_ptr<grammar::Matcher> grammar;
  // >= 0: record each answer token's log-probability and this many of the most
  // likely alternatives (Sampler::set_logprobs), for take_logprobs().
  int32_t logprobs = -1;
};

// One answer token with its log-probability (OpenAI's logprobs).
struct TokenLogprob {
  int32_t id = 0;
  float logprob = 0;
  std::vector<TokenProb> top;  // the most likely tokens of the same draw, best first
  std::string bytes;           // the token's raw bytes (a byte token may be part of a character)
  int64_t offset = 0;          // where its text starts in the answer's text, in bytes
};

class Generation {
 public:
  Generation(const Model& m, Sampler sampler, GenerationLimits limits);
  ~Generation();
  Generation(Generation&&) noexcept;

  // The whole prompt as the sequence holds it, cached prefix included (the
  // repetition penalties look at it). Call once, before the first step. With
  // echo_prompt the answer continues the prompt's text (a completion): returns
  // the prompt as the detokenizer shows it, and the answer's first piece keeps
  // its leading space. Else the answer is text of its own (a chat turn).
  std::string start(std::span<const int32_t> prompt, bool echo_prompt = false);
  // Draws the next token from the logits after the last token run, and decides
  // whether the generation ends. `room`: positions left in the sequence (n_ctx -
  // n_past), one of which the drawn token needs to be run. Returns the text that
  // can be shown now (the tail of the answer when it ends).
  std::string step(const float* logits, int64_t room);
  // step() with the token already chosen (speculative decoding draws it from
  // a drafted row: runtime/speculator.h): records it exactly as step() does.
  std::string push(int32_t id, int64_t room);
  // The logits the next draw sees: `logits` with the grammar's mask applied
  // (tokens that do not fit at -inf; valid until the next call), or `logits`
  // itself without a grammar; null when no token fits (step() then ends the
  // generation or says why it cannot). Speculative decoding judges drafts
  // against this, so a draft the grammar forbids is never kept.
  const float* constrain(const float* logits);
  // The log-probabilities (GenerationLimits::logprobs) of the answer tokens whose
  // text has been shown since the last call; once the generation is over, of the
  // rest of the answer (a stop string's tokens and what follows left out).
  std::vector<TokenLogprob> take_logprobs();
  // Stops the generation (the caller's decision: a callback, a client gone).
  void cancel();

  bool done() const { return finish_ != Finish::None; }
  Finish finish() const { return finish_; }
  // The token to run next while !done(): the last one drawn.
  int32_t last() const { return tokens_.empty() ? -1 : tokens_.back(); }
  // Every token drawn, a final end-of-generation token included.
  const std::vector<int32_t>& tokens() const { return tokens_; }
  // Tokens of the answer (an end-of-generation token does not count).
  int64_t n_answer() const { return n_answer_; }
  // How many of tokens() a sequence holds once the generation is over: all but
  // the last, which was drawn but never run (an end-of-generation token included).
  int64_t n_run() const { return tokens_.empty() ? 0 : static_cast<int64_t>(tokens_.size()) - 1; }
  Sampler& sampler() { return sampler_; }
  // Time spent in the grammar (masks, checks, advancing it), for the overhead it adds.
  double grammar_ms() const { return grammar_ms_; }

 private:
  std::string end(Finish f, std::string shown);

  const Model* m_;
  Sampler sampler_;
  GenerationLimits lim_;
  std::unique_ptr<StreamDecoder> dec_;  // null without a tokenizer
  StopStringFilter stops_;
  std::vector<int32_t> tokens_;
  bool top_k_shortcut() const;
  std::vector<float> masked_;  // logits with the grammar's mask applied
  std::vector<int32_t> order_, fit_;  // the top-k shortcut's token order and the tokens that fit
  double grammar_ms_ = 0;
  std::vector<TokenLogprob> logprobs_;  // not yet taken
  bool drawn_here_ = false;  // push() comes from step(): the sampler's logprobs are this token's
  int64_t decoded_bytes_ = 0, shown_bytes_ = 0;  // answer text out of the detokenizer / past the stop strings
  int64_t n_answer_ = 0;
  Finish finish_ = Finish::None;
};

// How many leading tokens of `prompt` a sequence holding `cached` can keep:
// their longest common prefix, less one when it covers the whole prompt (at
// least one token must run to produce the logits of the next).
size_t reusable_prefix(const std::vector<int32_t>& cached, const std::vector<int32_t>& prompt);

}  // namespace pocketllm
