#include "server/scheduler.h"

#include <algorithm>
#include <optional>

#include "core/error.h"
#include "runtime/generation.h"
#include "runtime/lookup_draft.h"
#include "runtime/model_draft.h"
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

int64_t GenJob::now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

GenTimings GenJob::timings() const {
  GenTimings t;
  const int64_t admitted = admitted_us_.load(), prompt_done = prompt_done_us_.load(), last = last_token_us_.load();
  if (admitted < 0 || prompt_done < 0) return t;  // never ran (max_tokens 0, cancelled while queued)
  t.prompt_n = prompt_tokens() - cached_tokens();
  t.prompt_ms = static_cast<double>(prompt_done - admitted) / 1000.0;
  t.predicted_n = completion_tokens();
  t.predicted_ms = static_cast<double>(std::max<int64_t>(0, last - prompt_done)) / 1000.0;
  return t;
}

// A sequence slot: its own KV cache plus the state of the request it serves.
struct Scheduler::Slot {
  int id = 0;
  Sequence seq;
  std::vector<int32_t> cached;  // ids whose K/V are in seq (size == seq.n_past())
  std::shared_ptr<GenJob> job;  // null: free
  std::optional<Generation> gen;
  int64_t prefill_pos = -1;  // >= 0: prompt tokens [0, prefill_pos) are in seq, the rest still to run
  std::unique_ptr<Speculator> spec;  // with --lookup or --draft: this slot's drafts and adaptive length

  explicit Slot(Sequence s) : seq(std::move(s)) {}
  // Its last drawn token waits for its forward pass.
  bool decoding() const { return job && prefill_pos < 0 && gen && !gen->done() && !gen->tokens().empty(); }
};

namespace {
EngineParams engine_params(const SchedulerOptions& o) {
  // One step runs every slot's decode row (and its drafts) and one prefill chunk.
  const int64_t per_slot = 1 + (o.speculates() ? o.spec.draft_max : 0);
  return {std::max<int64_t>(1, o.ctx.n_batch) + o.n_slots * per_slot, o.ctx.n_threads};
}
}  // namespace

Scheduler::Scheduler(const Model& m, const SchedulerOptions& o) : m_(m), opt_(o), engine_(m, engine_params(o)) {
  if (!m.tokenizer) fail("the server needs a tokenizer");
  if (opt_.n_slots < 1) fail("--parallel must be at least 1");
  for (int i = 0; i < opt_.n_slots; ++i) {
    auto s = std::make_unique<Slot>(engine_.new_sequence(opt_.ctx.n_ctx, opt_.ctx.kv_type));
    s->id = i;
    if (opt_.lookup > 0) s->spec = std::make_unique<Speculator>(std::make_unique<LookupDraft>(opt_.lookup), opt_.spec);
    if (opt_.draft) {
      // A short batch: a round's catch-up is a token or two; a new prompt takes a few batches.
      const EngineParams dp{64, 0, &engine_.pool()};
      s->spec = std::make_unique<Speculator>(
          std::make_unique<ModelDraft>(opt_.draft, m, s->seq.n_ctx(), SamplingParams{}, dp), opt_.spec);
    }
    slots_.push_back(std::move(s));
  }
  n_ctx_ = slots_[0]->seq.n_ctx();
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
  if (r.logprobs >= 0 && opt_.speculates())
    bad_request("logprobs cannot be combined with the server's speculative decoding (--lookup, --draft) yet");
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
          {"max_batch_rows", max_batch_rows_},
          {"drafted", spec_drafted_},
          {"draft_accepted", spec_accepted_}};
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
    step();
    std::lock_guard<std::mutex> lk(mu_);
    for (size_t i = 0; i < slots_.size(); ++i) n_past_snapshot_[i] = slots_[i]->seq.n_past();
  }
  // Shutting down: tell every waiting client.
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& s : slots_)
    if (s->job) s->job->push({"", true, "", "the server is shutting down", {}});
  for (auto& j : queue_) j->push({"", true, "", "the server is shutting down", {}});
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
      const size_t lcp = reusable_prefix(s->cached, job->request().prompt);
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
// rest is prefilled by step(), one chunk per step.
void Scheduler::start(Slot& s) {
  const GenRequest& r = s.job->request();
  s.job->mark_admitted();
  GenerationLimits lim;
  lim.max_tokens = r.max_tokens;
  lim.stop = r.stop;
  lim.grammar = make_grammar_matcher(r.grammar, m_.tokenizer);
  lim.logprobs = r.logprobs;
  s.gen.emplace(m_, Sampler(r.sampling, m_.n_sampleable()), std::move(lim));
  if (s.spec) s.spec->set_sampling(r.sampling);
  s.gen->start(r.prompt);
  if (s.gen->done()) {  // max_tokens 0
    finish(s, finish_reason_name(s.gen->finish()));
    return;
  }
  const size_t lcp = reusable_prefix(s.cached, r.prompt);
  s.seq.truncate(static_cast<int64_t>(lcp));
  s.cached.resize(lcp);
  s.job->set_cached_tokens(static_cast<int64_t>(lcp));
  s.prefill_pos = static_cast<int64_t>(lcp);
}

// The slot whose prompt gets this step's prefill chunk: the slots take turns.
Scheduler::Slot* Scheduler::next_prefill() {
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = *slots_[(prefill_turn_ + i) % slots_.size()];
    if (s.job && s.prefill_pos >= 0) {
      prefill_turn_ = (prefill_turn_ + i + 1) % slots_.size();
      return &s;
    }
  }
  return nullptr;
}

// One forward pass: the pending token of every generating slot, then the next
// chunk of one prompt being prefilled (whose last chunk gives the logits of its
// first answer token).
void Scheduler::step() {
  std::vector<Slot*> decoding;
  std::vector<Engine::Row> rows;
  std::vector<int64_t> first_row, base;  // per decoding slot: its first row, its n_past before the pass
  for (auto& s : slots_)
    if (s->decoding()) {
      decoding.push_back(s.get());
      first_row.push_back(static_cast<int64_t>(rows.size()));
      base.push_back(s->seq.n_past());
      rows.push_back({&s->seq, s->gen->last(), true});
      if (s->spec)
        for (int32_t t : s->spec->draft(s->seq, *s->gen, s->job->request().prompt, 1 + opt_.spec.draft_max))
          rows.push_back({&s->seq, t, true});
    }
  const auto n_decode_rows = static_cast<int64_t>(rows.size());
  Slot* pre = next_prefill();
  int64_t chunk = 0;
  bool prompt_done = false;
  if (pre) {
    const std::vector<int32_t>& prompt = pre->job->request().prompt;
    chunk = std::min<int64_t>({std::max<int64_t>(1, opt_.ctx.n_batch), static_cast<int64_t>(prompt.size()) - pre->prefill_pos,
                               engine_.n_batch() - static_cast<int64_t>(rows.size())});
    prompt_done = pre->prefill_pos + chunk == static_cast<int64_t>(prompt.size());
    for (int64_t i = 0; i < chunk; ++i)
      rows.push_back({&pre->seq, prompt[static_cast<size_t>(pre->prefill_pos + i)], prompt_done && i + 1 == chunk});
  }
  if (rows.empty()) return;
  const float* logits = nullptr;
  try {
    logits = engine_.forward(rows);
  } catch (const std::exception& e) {
    // forward() changes no sequence when it fails: each slot keeps what it had.
    for (Slot* s : decoding) finish(*s, "", e.what());
    if (pre) finish(*pre, "", e.what());
    return;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    decode_steps_ += !decoding.empty();
    decode_steps_while_prefilling_ += !decoding.empty() && pre;
    prefill_chunks_ += pre != nullptr;
    max_batch_rows_ = std::max<int64_t>(max_batch_rows_, static_cast<int64_t>(decoding.size()));
  }
  const int64_t n_vocab = m_.cfg.n_vocab;
  for (size_t i = 0; i < decoding.size(); ++i) {
    Slot& s = *decoding[i];
    if (s.spec) {
      on_verified(s, logits + first_row[i] * n_vocab, base[i]);
      continue;
    }
    s.cached.push_back(s.gen->last());
    on_logits(s, logits + first_row[i] * n_vocab);
  }
  if (opt_.speculates()) {
    std::lock_guard<std::mutex> lk(mu_);
    spec_drafted_ = spec_accepted_ = 0;
    for (auto& s : slots_) {
      spec_drafted_ += s->spec->stats().drafted;
      spec_accepted_ += s->spec->stats().accepted;
    }
  }
  if (pre) {
    const std::vector<int32_t>& prompt = pre->job->request().prompt;
    pre->cached.insert(pre->cached.end(), prompt.begin() + pre->prefill_pos, prompt.begin() + pre->prefill_pos + chunk);
    pre->prefill_pos += chunk;
    if (prompt_done) {
      pre->prefill_pos = -1;
      pre->job->mark_prompt_done();
      on_logits(*pre, logits + n_decode_rows * n_vocab);
    }
  }
}

// Draws the slot's next token; streams what can be shown; ends the request when the Generation ends.
void Scheduler::on_logits(Slot& s, const float* logits) {
  std::string text;
  try {
    text = s.gen->step(logits, s.seq.n_ctx() - s.seq.n_past());
  } catch (const std::exception& e) {
    return fail_job(s, e.what());
  }
  deliver(s, std::move(text));
}

// Keeps the drafts the slot's sampling agrees with (the rest are rolled back);
// the sequence then holds what plain decoding would have run.
void Scheduler::on_verified(Slot& s, const float* logits, int64_t base) {
  const std::vector<int32_t>& prompt = s.job->request().prompt;
  std::string text;
  try {
    text = s.spec->verify(logits, m_.cfg.n_vocab, s.seq, *s.gen, prompt);
  } catch (const std::exception& e) {
    s.seq.truncate(static_cast<int64_t>(s.cached.size()));  // what cached says it holds
    return fail_job(s, e.what());
  }
  // cached mirrors the sequence: add the tokens it now holds past `base`.
  const auto P = static_cast<int64_t>(prompt.size());
  const auto& t = s.gen->tokens();
  s.cached.insert(s.cached.end(), t.begin() + (base - P), t.begin() + s.gen->n_run());
  deliver(s, std::move(text));
}

// Streams what can be shown; ends the request when the Generation ends.
void Scheduler::deliver(Slot& s, std::string text) {
  try {
    s.job->set_completion_tokens(s.gen->n_answer());
    s.job->mark_token();
    GenEvent ev{std::move(text), false, "", "", s.gen->take_logprobs()};
    if (!ev.text.empty() || !ev.logprobs.empty()) s.job->push(std::move(ev));
    if (s.gen->done()) finish(s, finish_reason_name(s.gen->finish()));
  } catch (const std::exception& e) {
    fail_job(s, e.what());
  }
}

void Scheduler::finish(Slot& s, const std::string& reason, const std::string& error) {
  s.job->push({"", true, reason, error, {}});
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
  s.gen.reset();
  s.prefill_pos = -1;
}

}  // namespace pocketllm::server
