// The scheduler in process (no HTTP): long prompts are prefilled one n_batch
// chunk per step, with the other slots decoding between chunks, and the answer
// is the same as with the whole prompt in one chunk.
#include <gtest/gtest.h>

#include "model/model.h"
#include "server/scheduler.h"
#include "support/model_helpers.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

namespace ts = testsupport;
using namespace pocketllm;

namespace {
std::unique_ptr<Model> stories() {
  LoadOptions lo;
  lo.tokenizer_path = (ts::shared_data() / "models/stories260K/tok512.bin").string();
  return load_model((ts::shared_data() / "models/stories260K/stories260K.bin").string(), lo);
}

server::GenRequest greedy(std::vector<int32_t> prompt, int64_t max_tokens) {
  server::GenRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temp = 0;
  r.max_tokens = max_tokens;
  return r;
}

// Waits for the job's end; returns its text (an error fails the test).
std::string collect(server::GenJob& job) {
  std::string text;
  for (server::GenEvent ev;;) {
    if (!job.next(ev, std::chrono::seconds(60))) {
      ADD_FAILURE() << "no event within 60 s";
      return text;
    }
    text += ev.text;
    if (ev.done) {
      EXPECT_EQ(ev.error, "");
      return text;
    }
  }
}

server::SchedulerOptions options(int64_t n_batch) {
  server::SchedulerOptions o;
  o.n_slots = 2;
  o.ctx.n_ctx = 512;
  o.ctx.n_batch = n_batch;
  o.ctx.n_threads = 1;
  return o;
}
}  // namespace

TEST(Scheduler, LongPromptsArePrefilledInChunksBetweenDecodeSteps) {
  auto m = stories();
  std::vector<int32_t> long_prompt = m->tokenizer->encode(ts::read_file(ts::shared_data() / "text/eval.txt"), true, false);
  ASSERT_GT(long_prompt.size(), 301u);
  long_prompt.resize(301);
  const std::vector<int32_t> short_prompt = m->tokenizer->encode("Once upon a time", true, false);

  std::string want;
  {
    server::Scheduler whole(*m, options(512));  // the whole prompt in one chunk
    want = collect(*whole.submit(greedy(long_prompt, 40)));
    EXPECT_EQ(whole.state()["prefill_chunks"], 1);
  }
  ASSERT_FALSE(want.empty());

  server::Scheduler chunked(*m, options(4));
  // A generates until its context is full; once it streams, B's prompt arrives.
  auto a = chunked.submit(greedy(short_prompt, -1));
  server::GenEvent first;
  ASSERT_TRUE(a->next(first, std::chrono::seconds(60)));
  auto b = chunked.submit(greedy(long_prompt, 40));
  EXPECT_EQ(collect(*b), want) << "chunked prefill must give the same answer";
  const auto st = chunked.state();
  EXPECT_GE(st["prefill_chunks"].get<int64_t>(), (301 + 3) / 4) << st.dump();
  EXPECT_GT(st["decode_steps_while_prefilling"].get<int64_t>(), 0) << "A must keep decoding during B's prefill";
  a->cancel();
}

// A model whose embedding is padded past its tokenizer (ids 400..511 have no text):
// those ids are never sampled, in prefill's first token or in batched decode steps.
// A sampled id without text used to throw on the scheduler thread: std::terminate.
TEST(Scheduler, NeverSamplesIdsWithoutAToken) {
  const auto dir = ts::temp_dir("sched-padded");
  auto m = load_model(ts::padded_vocab_stories(dir));
  ASSERT_EQ(m->tokenizer->n_vocab(), 400);
  ASSERT_EQ(m->cfg.n_vocab, 512);
  server::Scheduler s(*m, options(512));
  std::vector<std::shared_ptr<server::GenJob>> jobs;
  for (int64_t seed = 1; seed <= 4; ++seed) {
    server::GenRequest r = greedy(m->tokenizer->encode("Once upon a time", true, false), 120);
    r.sampling.temp = 3;
    r.sampling.top_k = 0;
    r.sampling.top_p = 1;
    r.sampling.min_p = 0;
    r.sampling.seed = seed;
    jobs.push_back(s.submit(r));
  }
  int64_t tokens = 0;
  for (auto& j : jobs) {
    collect(*j);  // fails the test on an error event
    tokens += j->completion_tokens();
  }
  EXPECT_GT(tokens, 100);  // plenty of draws (an end-of-text token may stop a request early)
}

// --lookup: every slot's greedy answer is the one without drafts, while the
// slots decode together and a later request reuses a slot's cached prefix.
TEST(Scheduler, LookupDraftsLeaveGreedyAnswersUnchanged) {
  auto m = stories();
  const std::vector<std::string> prompts = {
      "Once upon a time, there was a little girl named Lily. She loved to play outside. Once upon a time",
      "The cat sat on the mat. The dog sat on the log. The cat sat",
      "Tom had a big red ball. He liked to",
      "Once upon a time, there was a little girl named Lily. She loved to play outside. One day",
  };
  auto answers = [&](server::SchedulerOptions o) {
    server::Scheduler sched(*m, o);
    std::vector<std::shared_ptr<server::GenJob>> jobs;
    for (size_t i = 0; i < 3; ++i) jobs.push_back(sched.submit(greedy(m->tokenizer->encode(prompts[i], true, false), 40)));
    std::vector<std::string> out;
    for (auto& j : jobs) out.push_back(collect(*j));
    out.push_back(collect(*sched.submit(greedy(m->tokenizer->encode(prompts[3], true, false), 40))));
    return std::make_pair(out, sched.state());
  };
  server::SchedulerOptions o = options(512);
  const auto [plain, plain_state] = answers(o);
  o.lookup = 3;
  o.spec = {6, 1};
  const auto [fast, st] = answers(o);
  EXPECT_EQ(fast, plain);
  EXPECT_GT(st["draft_accepted"].get<int64_t>(), 0) << st.dump();
  EXPECT_LT(st["decode_steps"].get<int64_t>(), plain_state["decode_steps"].get<int64_t>()) << st.dump();
}

// --lookup with a grammar: drafts are checked against each request's grammar,
// and the constrained greedy answers are those without drafts.
TEST(Scheduler, LookupDraftsWithAGrammarLeaveAnswersUnchanged) {
  auto m = stories();
  const auto gr = compile_grammar(GrammarSpec{.gbnf = "root ::= [a-df-z ,.]+", .json_schema = {}, .json_object = false});
  const std::vector<std::string> prompts = {
      "The cat sat on the mat. The dog sat on the log. The cat sat",
      "Once upon a time, there was a little girl named Lily. She loved to play outside. Once upon a time",
  };
  auto answers = [&](server::SchedulerOptions o) {
    server::Scheduler sched(*m, o);
    std::vector<std::shared_ptr<server::GenJob>> jobs;
    for (const auto& p : prompts) {
      server::GenRequest r = greedy(m->tokenizer->encode(p, true, false), 40);
      r.grammar = gr;
      jobs.push_back(sched.submit(std::move(r)));
    }
    std::vector<std::string> out;
    for (auto& j : jobs) out.push_back(collect(*j));
    return std::make_pair(out, sched.state());
  };
  server::SchedulerOptions o = options(512);
  const auto [plain, plain_state] = answers(o);
  o.lookup = 2;
  o.spec = {6, 1};
  const auto [fast, st] = answers(o);
  EXPECT_EQ(fast, plain);
  for (const auto& t : fast) EXPECT_EQ(t.find_first_not_of("abcdfghijklmnopqrstuvwxyz ,."), std::string::npos) << t;
  EXPECT_GT(st["drafted"].get<int64_t>(), 0) << st.dump();
}

// --draft: each slot drafts with a model of its own sequence; greedy answers are
// those without drafts, a sampled request between them is served (the draft
// samples as each request does), and a model drafting for itself is always right.
TEST(Scheduler, DraftModelLeavesGreedyAnswersUnchanged) {
  auto m = stories();
  std::shared_ptr<const Model> draft = stories();
  const std::vector<std::string> prompts = {
      "Once upon a time, there was a little girl named Lily.",
      "Tom had a big red ball. He liked to",
      "The cat sat on the mat.",
  };
  auto answers = [&](server::SchedulerOptions o) {
    server::Scheduler sched(*m, o);
    std::vector<std::shared_ptr<server::GenJob>> jobs;
    for (const auto& p : prompts) jobs.push_back(sched.submit(greedy(m->tokenizer->encode(p, true, false), 32)));
    server::GenRequest sampled = greedy(m->tokenizer->encode(prompts[0], true, false), 24);
    sampled.sampling.temp = 0.8f;
    sampled.sampling.seed = 5;
    auto sj = sched.submit(std::move(sampled));
    std::vector<std::string> out;
    for (auto& j : jobs) out.push_back(collect(*j));
    EXPECT_GT(collect(*sj).size(), 0u);
    return std::make_pair(out, sched.state());
  };
  server::SchedulerOptions o = options(512);
  const auto [plain, plain_state] = answers(o);
  o.draft = draft;
  o.spec = {4, 1};
  const auto [fast, st] = answers(o);
  EXPECT_EQ(fast, plain);
  EXPECT_GT(st["draft_accepted"].get<int64_t>(), 0) << st.dump();
  EXPECT_LT(st["decode_steps"].get<int64_t>(), plain_state["decode_steps"].get<int64_t>()) << st.dump();
}
