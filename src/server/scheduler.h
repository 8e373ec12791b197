// The generation scheduler: one thread owns the model's Engine (one thread pool,
// one set of activation buffers) and a Sequence per slot, admits queued requests
// into free slots (reusing each slot's cached prompt prefix), and runs ONE
// forward pass per step holding the next token of every generating slot and at
// most one chunk (n_batch tokens) of one prompt being prefilled (continuous
// batching), so a long prompt does not stall the other streams. Each request's
// sampling, stop strings and limits are a Generation (runtime/generation.h).
// HTTP threads talk to it through GenJob.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "model/context.h"
#include "model/engine.h"
#include "runtime/generation.h"
#include "runtime/grammar_constraint.h"
#include "runtime/speculator.h"
#include "sampling/sampler.h"

namespace pocketllm::server {

struct GenRequest {
  std::vector<int32_t> prompt;  // non-empty, shorter than the slot context
  SamplingParams sampling;
  int64_t max_tokens = -1;  // < 0: until the context is full
  std::vector<std::string> stop;
  std::shared_ptr<const grammar::Grammar> grammar;  // "grammar" or response_format (null: free text)
  int32_t logprobs = -1;  // >= 0: each token's log-probability and this many alternatives (GenEvent::logprobs)
};

// One piece of output: text, or the end (done) with its reason or an error.
struct GenEvent {
  std::string text;
  bool done = false;
  std::string finish_reason;  // "stop" | "length" (when done without error)
  std::string error;          // non-empty: generation failed
  std::vector<TokenLogprob> logprobs;  // with GenRequest::logprobs: the tokens of `text` (Generation::take_logprobs)
};

// Where a request's time went, as llama.cpp's server reports it ("timings"): the prompt
// tokens run (the cached prefix excluded) from admission to the first answer token
// (that token comes out of the prompt's last pass), then the answer tokens up to the last.
struct GenTimings {
  int64_t prompt_n = 0;
  double prompt_ms = 0;
  int64_t predicted_n = 0;
  double predicted_ms = 0;
};

// A request in flight: the scheduler pushes events, the HTTP thread pops them.
class GenJob {
 public:
  explicit GenJob(GenRequest r) : req_(std::move(r)) {}
  // Waits up to `wait` for the next event; false on timeout.
  bool next(GenEvent& ev, std::chrono::milliseconds wait);
  // The client went away: the scheduler frees the slot at its next step.
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }
  const GenRequest& request() const { return req_; }
  int64_t prompt_tokens() const { return static_cast<int64_t>(req_.prompt.size()); }
  int64_t completion_tokens() const { return completion_tokens_.load(); }
  int64_t cached_tokens() const { return cached_tokens_.load(); }
  // Complete once the last event (done) was popped.
  GenTimings timings() const;

  // The producer's side (the scheduler's thread).
  void push(GenEvent ev);
  void set_completion_tokens(int64_t n) { completion_tokens_.store(n); }
  void set_cached_tokens(int64_t n) { cached_tokens_.store(n); }
  // Timestamps: admitted to a slot, prompt run (first answer token drawn), latest answer token.
  void mark_admitted() { admitted_us_.store(now_us()); }
  void mark_prompt_done() { prompt_done_us_.store(now_us()); }
  void mark_token() { last_token_us_.store(now_us()); }

 private:
  GenRequest req_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<GenEvent> events_;
  std::atomic<bool> cancelled_{false};
  std::atomic<int64_t> completion_tokens_{0};
  std::atomic<int64_t> cached_tokens_{0};
  static int64_t now_us();
  std::atomic<int64_t> admitted_us_{-1}, prompt_done_us_{-1}, last_token_us_{-1};
};

struct SchedulerOptions {
  int n_slots = 1;
  ContextParams ctx;       // per slot (n_ctx, kv_type); n_batch: the prefill chunk per step; n_threads: the engine's
  size_t max_queue = 64;   // requests waiting for a slot before 503
  int lookup = 0;          // > 0: prompt-lookup drafts of n-grams up to this size (runtime/lookup_draft.h)
  // Or a draft model of the same vocabulary (runtime/model_draft.h): each slot
  // keeps a draft sequence of its own, on the engine's threads.
  std::shared_ptr<const Model> draft;
  SpeculatorParams spec;   // draft lengths with lookup or a draft model
  bool speculates() const { return lookup > 0 || draft != nullptr; }
};

class Scheduler {
 public:
  Scheduler(const Model& m, const SchedulerOptions& o);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request. Throws ApiError: 400 when the prompt does not fit the
  // slot context, 503 when the queue is full.
  std::shared_ptr<GenJob> submit(GenRequest r);
  int64_t n_ctx() const { return n_ctx_; }
  // {"slots":[{"id","busy","n_past"}],"slots_idle","slots_busy","queued","decode_steps","prefill_chunks",
  //  "decode_steps_while_prefilling","max_batch_rows","drafted","draft_accepted"}
  nlohmann::json state() const;

 private:
  struct Slot;
  void run();
  void admit(std::vector<Slot*>& started);
  void start(Slot& s);
  void on_logits(Slot& s, const float* logits);
  void on_verified(Slot& s, const float* logits, int64_t base);
  void deliver(Slot& s, std::string text);
  void finish(Slot& s, const std::string& reason, const std::string& error = "");
  void fail_job(Slot& s, const std::string& error);
  void release(Slot& s);
  Slot* next_prefill();
  void step();

  const Model& m_;
  SchedulerOptions opt_;
  Engine engine_;
  int64_t n_ctx_ = 0;
  std::vector<std::unique_ptr<Slot>> slots_;
  size_t prefill_turn_ = 0;  // round robin over the slots being prefilled
  mutable std::mutex mu_;  // guards queue_, the slots' job pointers and the state snapshot
  std::condition_variable cv_;
  std::deque<std::shared_ptr<GenJob>> queue_;
  std::vector<int64_t> n_past_snapshot_;
  // Batching evidence for /slots.
  int64_t decode_steps_ = 0, max_batch_rows_ = 0, prefill_chunks_ = 0, decode_steps_while_prefilling_ = 0;
  int64_t spec_drafted_ = 0, spec_accepted_ = 0;  // with --lookup, over every slot
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace pocketllm::server
