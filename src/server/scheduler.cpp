#include "server/scheduler.h"

#include <algorithm>

#include "core/error.h"
#include "runtime/chat_session.h"
#include "server/api_error.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::server {

bool GenJob::next(GenEvent& ev, std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lk(mu_);
  if (!cv_.wait_for(lk, wait, [&] { return !events_.empty(); })) return false;
  ev = std::move(events_.front());
  events_.pop_front();
  return true;
}

void GenJob::push(GenEvent ev) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    events_.push_back(std::move(ev));
  }
  cv_.notify_all();
}

// A sequence slot: its own KV cache plus the state of the request it serves.
struct Scheduler::Slot {
  int id = 0;
  std::unique_ptr<Context> ctx;
  std::vector<int32_t> cached;  // ids whose K/V are in ctx (size == ctx->n_past())
  std::shared_ptr<GenJob> job;  // null: free
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<StreamDecoder> dec;
  std::unique_ptr<StopStringFilter> stops;
  int64_t n_gen = 0;
  int32_t pending = -1;  // sampled, shown, not yet decoded
  int64_t prefill_pos = -1;  // >= 0: prompt tokens [0, prefill_pos) are in ctx, the rest still to run
};

Scheduler::Scheduler(const Model& m, const SchedulerOptions& o) : m_(m), opt_(o) {
  if (!m.tokenizer) fail("the server needs a tokenizer");
  if (opt_.n_slots < 1) fail("--parallel must be at least 1");
  for (int i = 0; i < opt_.n_slots; ++i) {
    auto s = std::make_unique<Slot>();
    s->id = i;
    s->ctx = std::make_unique<Context>(m, opt_.ctx);
    slots_.push_back(std::move(s));
  }
  n_ctx_ = slots_[0]->ctx->n_ctx();
  n_past_snapshot_.assign(slots_.size(), 0);
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::shared_ptr<GenJob> Scheduler::submit(GenRequest r) {
  if (r.prompt.empty()) bad_request("the prompt is empty");
  if (static_cast<int64_t>(r.prompt.size()) >= n_ctx_)
    throw ApiError(400, "exceed_context_size_error",
                   fmt::format("the prompt has {} tokens; the context of a slot holds {} (prompt and answer)",
                               r.prompt.size(), n_ctx_));
  for (int32_t id : r.prompt)
    if (id < 0 || id >= m_.cfg.n_vocab) bad_request(fmt::format("token id {} is outside the vocabulary", id));
  auto job = std::make_shared<GenJob>(std::move(r));
  {
    std::lock_guard<std::mutex> lk(mu_);
    // Free slots take requests at once; max_queue more may wait for one.
    const size_t free_slots = static_cast<size_t>(
        std::count_if(slots_.begin(), slots_.end(), [](auto& s) { return s->job == nullptr; }));
    if (queue_.size() >= opt_.max_queue + free_slots)
      throw ApiError(503, "unavailable_error", "the server is busy: too many queued requests, retry later");
    queue_.push_back(job);
  }
  cv_.notify_all();
  return job;
}

nlohmann::json Scheduler::state() const {
  std::lock_guard<std::mutex> lk(mu_);
  nlohmann::json slots = nlohmann::json::array();
  int busy = 0;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const bool b = slots_[i]->job != nullptr;
    busy += b;
    slots.push_back({{"id", i}, {"busy", b}, {"n_past", n_past_snapshot_[i]}});
  }
  return {{"slots", slots},
          {"slots_busy", busy},
          {"slots_idle", static_cast<int>(slots_.size()) - busy},
          {"queued", queue_.size()},
          {"decode_steps", decode_steps_},
          {"prefill_chunks", prefill_chunks_},
          {"decode_steps_while_prefilling", decode_steps_while_prefilling_},
          {"max_batch_rows", max_batch_rows_}};
}

void Scheduler::run() {
  for (;;) {
    std::vector<Slot*> started;
    {
      std::unique_lock<std::mutex> lk(mu_);
      auto any_busy = [&] {
        return std::any_of(slots_.begin(), slots_.end(), [](auto& s) { return s->job != nullptr; });
      };
      cv_.wait(lk, [&] { return stop_ || !queue_.empty() || any_busy(); });
      if (stop_) break;
      admit(started);
    }
    for (Slot* s : started) {
      try {
        start(*s);
      } catch (const std::exception& e) {
        fail_job(*s, e.what());
      }
    }
    // Clients that went away free their slots now, before any more work.
    for (auto& s : slots_)
      if (s->job && s->job->cancelled()) release(*s);
    step_prefill();
    step_decode();
    std::lock_guard<std::mutex> lk(mu_);
    for (size_t i = 0; i < slots_.size(); ++i) n_past_snapshot_[i] = slots_[i]->ctx->n_past();
  }
  // Shutting down: tell every waiting client.
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& s : slots_)
    if (s->job) s->job->push({"", true, "", "the server is shutting down"});
  for (auto& j : queue_) j->push({"", true, "", "the server is shutting down"});
}

// Moves queued requests into free slots (called with mu_ held). Each goes to the
// free slot whose cache shares the longest prefix with its prompt.
void Scheduler::admit(std::vector<Slot*>& started) {
  while (!queue_.empty()) {
    auto job = queue_.front();
    if (job->cancelled()) {
      queue_.pop_front();
      continue;
    }
    Slot* best = nullptr;
    size_t best_lcp = 0;
    for (auto& s : slots_) {
      if (s->job) continue;
      const size_t lcp = common_prefix(s->cached, job->request().prompt);
      if (!best || lcp > best_lcp) {
        best = s.get();
        best_lcp = lcp;
      }
    }
    if (!best) return;
    queue_.pop_front();
    best->job = std::move(job);
    started.push_back(best);
  }
}

// Sets up a newly admitted request: keeps the cached prefix of its prompt; the
// rest is prefilled by step_prefill, one chunk per step.
void Scheduler::start(Slot& s) {
  const GenRequest& r = s.job->request();
  const Tokenizer& tok = *m_.tokenizer;
  s.n_gen = 0;
  s.pending = -1;
  s.sampler = std::make_unique<Sampler>(r.sampling, m_.n_sampleable());
  s.dec = std::make_unique<StreamDecoder>(tok, true);
  s.stops = std::make_unique<StopStringFilter>(r.stop);
  if (r.max_tokens == 0) {
    finish(s, "length");
    return;
  }
  size_t lcp = std::min(common_prefix(r.prompt, s.cached), static_cast<size_t>(s.ctx->n_past()));
  if (lcp == r.prompt.size()) --lcp;  // one token must run to produce logits
  s.ctx->truncate(static_cast<int64_t>(lcp));
  s.cached.resize(lcp);
  s.job->cached_tokens_.store(static_cast<int64_t>(lcp));
  for (int32_t id : r.prompt) s.sampler->accept(id);
  s.prefill_pos = static_cast<int64_t>(lcp);
}

// Runs the next chunk (at most n_batch tokens) of every prompt being prefilled,
// so a long prompt does not stop the other slots' streams for its whole prefill:
// generating slots decode a token between chunks. A prompt's last chunk gives the
// logits of its first answer token.
void Scheduler::step_prefill() {
  const int64_t chunk = std::max<int64_t>(1, opt_.ctx.n_batch);
  for (auto& sp : slots_) {
    Slot& s = *sp;
    if (!s.job || s.prefill_pos < 0) continue;
    const std::vector<int32_t>& prompt = s.job->request().prompt;
    const int64_t n = std::min<int64_t>(chunk, static_cast<int64_t>(prompt.size()) - s.prefill_pos);
    try {
      const float* logits = s.ctx->eval(prompt.data() + s.prefill_pos, n);
      s.cached.insert(s.cached.end(), prompt.begin() + s.prefill_pos, prompt.begin() + s.prefill_pos + n);
      s.prefill_pos += n;
      {
        std::lock_guard<std::mutex> lk(mu_);
        prefill_chunks_ += 1;
      }
      if (s.prefill_pos < static_cast<int64_t>(prompt.size())) continue;
      s.prefill_pos = -1;
      on_token(s, s.sampler->sample(logits));
    } catch (const std::exception& e) {
      s.prefill_pos = -1;
      s.cached.resize(std::min(s.cached.size(), static_cast<size_t>(s.ctx->n_past())));
      s.ctx->truncate(static_cast<int64_t>(s.cached.size()));
      fail_job(s, e.what());
    }
  }
}

void Scheduler::on_token(Slot& s, int32_t id) {
  s.sampler->accept(id);
  if (m_.tokenizer->is_eog(id)) {
    finish(s, "stop");
    return;
  }
  s.n_gen += 1;
  s.job->completion_tokens_.store(s.n_gen);
  std::string text = s.stops->push(s.dec->push(id));
  if (!text.empty()) s.job->push({std::move(text), false, "", ""});
  if (s.stops->stopped()) {
    finish(s, "stop");
  } else if (s.job->request().max_tokens >= 0 && s.n_gen >= s.job->request().max_tokens) {
    finish(s, "length");
  } else if (s.ctx->n_past() >= s.ctx->n_ctx()) {
    finish(s, "length");  // no room left to decode this token
  } else {
    s.pending = id;
  }
}

void Scheduler::finish(Slot& s, const std::string& reason, const std::string& error) {
  if (error.empty() && !s.stops->stopped()) {
    std::string tail = s.stops->push(s.dec->flush());
    tail += s.stops->flush();
    if (!tail.empty()) s.job->push({std::move(tail), false, "", ""});
  }
  s.job->push({"", true, reason, error});
  release(s);
}

// Ends the slot's request with an error (when it still has one: the failure may
// come after finish() released it).
void Scheduler::fail_job(Slot& s, const std::string& error) {
  if (s.job) finish(s, "", error);
}

void Scheduler::release(Slot& s) {
  std::lock_guard<std::mutex> lk(mu_);
  s.job.reset();
  s.pending = -1;
  s.prefill_pos = -1;
}

// One batched forward pass: the pending token of every generating slot.
void Scheduler::step_decode() {
  std::vector<Slot*> active;
  std::vector<Context*> ctxs;
  std::vector<int32_t> tokens;
  for (auto& s : slots_)
    if (s->job && s->pending >= 0) {
      active.push_back(s.get());
      ctxs.push_back(s->ctx.get());
      tokens.push_back(s->pending);
    }
  if (active.empty()) return;
  const float* logits = nullptr;
  try {
    logits = decode_batch(ctxs, tokens);
  } catch (const std::exception& e) {
    for (Slot* s : active) {
      s->ctx->truncate(static_cast<int64_t>(s->cached.size()));
      fail_job(*s, e.what());
    }
    return;
  }
  const bool prefilling = std::any_of(slots_.begin(), slots_.end(), [](auto& s) { return s->job && s->prefill_pos >= 0; });
  {
    std::lock_guard<std::mutex> lk(mu_);
    decode_steps_ += 1;
    decode_steps_while_prefilling_ += prefilling;
    max_batch_rows_ = std::max<int64_t>(max_batch_rows_, static_cast<int64_t>(active.size()));
  }
  const int64_t n_vocab = m_.cfg.n_vocab;
  for (size_t i = 0; i < active.size(); ++i) {
    Slot& s = *active[i];
    s.cached.push_back(s.pending);
    s.pending = -1;
    try {
      on_token(s, s.sampler->sample(logits + static_cast<int64_t>(i) * n_vocab));
    } catch (const std::exception& e) {  // e.g. a token the tokenizer cannot show: this request fails, not the server
      fail_job(s, e.what());
    }
  }
}

}  // namespace pocketllm::server
