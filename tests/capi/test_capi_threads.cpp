// The C API's threading rules: a session is one thread's at a time (a second caller
// gets PLLM_ERR_BUSY, not a race), pllm_session_cancel works from anywhere, a
// session freed during a generation is freed when it returns, and one model serves
// sessions on several threads at once. Every wait is bounded.
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "capi/capi_fixture.h"

using namespace capitest;
using namespace std::chrono_literals;

namespace {

// A callback that reports the first token and then holds the generating thread
// until released (or 20 s pass: a test must never hang).
struct Gate {
  std::promise<void> started, release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> calls{0};
  static int cb(void* self, int32_t, const char*, size_t) {
    auto* g = static_cast<Gate*>(self);
    if (g->calls++ == 0) {
      g->started.set_value();
      g->released.wait_for(20s);
    }
    return 0;
  }
};

void append_prompt(pllm_session* s) {
  ASSERT_EQ(pllm_session_append_text(s, "Once upon a time", 16, PLLM_TOKENIZE_ADD_SPECIAL), PLLM_OK);
}

}  // namespace

TEST(CapiThreads, ASecondCallerGetsBusyAndCancelStopsTheGeneration) {
  auto m = load_stories();
  auto s = new_session(m.get());
  append_prompt(s.get());
  Gate gate;
  pllm_generate_params g = greedy(-1);
  g.on_token = &Gate::cb;
  g.user_data = &gate;
  pllm_generate_result r{};
  auto gen = std::async(std::launch::async, [&] { return pllm_session_generate(s.get(), &g, &r); });
  ASSERT_EQ(gate.started.get_future().wait_for(20s), std::future_status::ready);

  pllm_session_info info;
  const int32_t tok = 403;
  EXPECT_EQ(pllm_session_get_info(s.get(), &info), PLLM_ERR_BUSY);
  EXPECT_NE(std::string(pllm_last_error()).find("in use"), std::string::npos) << pllm_last_error();
  EXPECT_EQ(pllm_session_append_tokens(s.get(), &tok, 1), PLLM_ERR_BUSY);
  EXPECT_EQ(pllm_session_generate(s.get(), &g, nullptr), PLLM_ERR_BUSY);
  EXPECT_EQ(pllm_session_reset(s.get()), PLLM_ERR_BUSY);
  EXPECT_EQ(pllm_session_save(s.get(), "/tmp/never-written.pllm"), PLLM_ERR_BUSY);
  // The busy refusals are this thread's: the session's own message stays the generating thread's.
  EXPECT_STREQ(pllm_session_last_error(s.get()), "");

  EXPECT_EQ(pllm_session_cancel(s.get()), PLLM_OK);
  gate.release.set_value();
  ASSERT_EQ(gen.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(gen.get(), PLLM_OK);
  EXPECT_EQ(r.finish, PLLM_FINISH_CANCELLED);
  EXPECT_LE(r.generated_tokens, 2);  // the token being shown, at most one more
  // Idle again: calls work, and a cancel between calls does not stop the next one.
  EXPECT_EQ(pllm_session_cancel(s.get()), PLLM_OK);
  pllm_generate_params more = greedy(5);
  ASSERT_EQ(pllm_session_generate(s.get(), &more, &r), PLLM_OK);
  EXPECT_EQ(r.finish, PLLM_FINISH_LENGTH);
  EXPECT_EQ(r.generated_tokens, 5);
}

TEST(CapiThreads, TheCallbackCannotReenterTheSessionButCanCancelIt) {
  auto m = load_stories();
  auto s = new_session(m.get());
  append_prompt(s.get());
  struct Probe {
    pllm_session* s;
    pllm_status inner = PLLM_OK;
    int calls = 0;
    static int cb(void* self, int32_t, const char*, size_t) {
      auto* p = static_cast<Probe*>(self);
      if (p->calls++ == 2) {
        pllm_session_info i;
        p->inner = pllm_session_get_info(p->s, &i);
        pllm_session_cancel(p->s);
      }
      return 0;
    }
  } probe{s.get()};
  pllm_generate_params g = greedy(50);
  g.on_token = &Probe::cb;
  g.user_data = &probe;
  pllm_generate_result r;
  ASSERT_EQ(pllm_session_generate(s.get(), &g, &r), PLLM_OK);
  EXPECT_EQ(probe.inner, PLLM_ERR_BUSY);
  EXPECT_EQ(r.finish, PLLM_FINISH_CANCELLED);
  EXPECT_EQ(r.generated_tokens, 3);
}

TEST(CapiThreads, FreeingASessionDuringAGenerationFreesItWhenTheCallReturns) {
  auto m = load_stories();
  pllm_session* s = nullptr;
  ASSERT_EQ(pllm_session_create(m.get(), nullptr, &s), PLLM_OK);
  append_prompt(s);
  Gate gate;
  pllm_generate_params g = greedy(-1);
  g.on_token = &Gate::cb;
  g.user_data = &gate;
  pllm_generate_result r{};
  auto gen = std::async(std::launch::async, [&] { return pllm_session_generate(s, &g, &r); });
  ASSERT_EQ(gate.started.get_future().wait_for(20s), std::future_status::ready);
  pllm_session_free(s);  // returns at once; the generating call frees it (ASan: no leak, no use after free)
  gate.release.set_value();
  ASSERT_EQ(gen.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(gen.get(), PLLM_OK);
  EXPECT_EQ(r.finish, PLLM_FINISH_CANCELLED);
}

TEST(CapiThreads, OneModelServesSessionsOnSeveralThreadsAtOnce) {
  auto m = load_stories();
  const auto& cases = golden()["cases"];
  std::vector<std::vector<int32_t>> got(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&, t] {
      auto s = new_session(m.get());
      const std::string prompt = cases[t]["prompt"];
      pllm_session_append_text(s.get(), prompt.data(), prompt.size(), PLLM_TOKENIZE_ADD_SPECIAL);
      pllm_generate_params g = greedy(static_cast<int64_t>(cases[t]["generated_ids"].size()));
      Collected c;
      c.attach(g);
      if (pllm_session_generate(s.get(), &g, nullptr) == PLLM_OK) got[t] = c.tokens;
      // Text calls on the shared model at the same time.
      size_t n = 0;
      int32_t ids[16];
      pllm_tokenize(m.get(), prompt.data(), prompt.size(), 0, ids, 16, &n);
    });
  for (auto& t : threads) t.join();
  for (int t = 0; t < 3; ++t) EXPECT_EQ(got[t], ids_of(cases[t]["generated_ids"])) << "thread " << t;
}
