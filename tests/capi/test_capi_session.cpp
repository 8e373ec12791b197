// Sessions through the C API: greedy generation equal to llama2.c's golden output,
// continuing across calls, callbacks and stop strings, chat turns that reuse the
// cached prefix, metrics, the context's end, and calls in the wrong order.
#include <cmath>
#include <cstring>
#include <limits>

#include "capi/capi_fixture.h"

using namespace capitest;

namespace {

// The golden case's prompt appended as text, as examples/c/chat.c does.
void append_prompt(pllm_session* s, const std::string& prompt) {
  ASSERT_EQ(pllm_session_append_text(s, prompt.data(), prompt.size(),
                                     PLLM_TOKENIZE_ADD_SPECIAL | PLLM_TOKENIZE_PARSE_SPECIAL),
            PLLM_OK)
      << pllm_last_error();
}

pllm_session_info info_of(pllm_session* s) {
  pllm_session_info i{};
  EXPECT_EQ(pllm_session_get_info(s, &i), PLLM_OK);
  return i;
}

std::vector<int32_t> first(const std::vector<int32_t>& v, size_t n) { return {v.begin(), v.begin() + n}; }

}  // namespace

TEST(CapiSession, GreedyGenerationEqualsLlama2cGolden) {
  auto m = load_stories();
  for (const auto& c : golden()["cases"]) {
    auto s = new_session(m.get());
    append_prompt(s.get(), c["prompt"]);
    const auto want = ids_of(c["generated_ids"]);
    pllm_generate_params g = greedy(static_cast<int64_t>(want.size()));
    g.echo_prompt = 1;
    Collected got;
    got.attach(g);
    pllm_generate_result r;
    ASSERT_EQ(pllm_session_generate(s.get(), &g, &r), PLLM_OK) << pllm_session_last_error(s.get());
    EXPECT_EQ(got.tokens, want);
    EXPECT_EQ(got.text + "\n", c["run_c_cli_stdout"].get<std::string>());
    EXPECT_EQ(session_tokens(s.get()), ids_of(c["full_sequence_ids"]));
    EXPECT_EQ(r.finish, PLLM_FINISH_LENGTH);
    EXPECT_EQ(r.prompt_tokens, static_cast<int64_t>(c["prompt_ids"].size()));
    EXPECT_EQ(r.generated_tokens, static_cast<int64_t>(want.size()));
    EXPECT_GT(r.prefill_tokens_per_s, 0);
    EXPECT_GT(r.decode_tokens_per_s, 0);
    EXPECT_GT(r.decode_ms, 0);
    // Every token drawn but the last is in the cache.
    const pllm_session_info i = info_of(s.get());
    EXPECT_EQ(i.n_tokens, static_cast<int64_t>(c["full_sequence_ids"].size()));
    EXPECT_EQ(i.n_cached, i.n_tokens - 1);
  }
}

TEST(CapiSession, GeneratingInStepsContinuesWhereTheLastCallStopped) {
  auto m = load_stories();
  auto s = new_session(m.get());
  const auto& c = golden()["cases"][0];
  append_prompt(s.get(), c["prompt"]);
  const auto want = ids_of(c["generated_ids"]);
  pllm_generate_params g = greedy(20);
  pllm_generate_result r;
  ASSERT_EQ(pllm_session_generate(s.get(), &g, &r), PLLM_OK);
  g.max_tokens = 40;
  Collected rest;
  rest.attach(g);
  ASSERT_EQ(pllm_session_generate(s.get(), &g, &r), PLLM_OK);
  EXPECT_EQ(r.prompt_tokens, 1);  // only the last token drawn runs: the rest is cached
  EXPECT_EQ(rest.tokens, std::vector<int32_t>(want.begin() + 20, want.end()));
  EXPECT_EQ(session_tokens(s.get()), ids_of(c["full_sequence_ids"]));
}

TEST(CapiSession, TheCallbackStopsTheGenerationAndTheSessionKeepsWhatWasDrawn) {
  auto m = load_stories();
  auto s = new_session(m.get());
  const auto& c = golden()["cases"][1];
  append_prompt(s.get(), c["prompt"]);
  struct Stopper {
    int seen = 0;
    static int cb(void* self, int32_t, const char*, size_t) { return ++static_cast<Stopper*>(self)->seen == 5; }
  } stopper;
  pllm_generate_params g = greedy(-1);
  g.on_token = &Stopper::cb;
  g.user_data = &stopper;
  pllm_generate_result r;
  ASSERT_EQ(pllm_session_generate(s.get(), &g, &r), PLLM_OK);
  EXPECT_EQ(r.finish, PLLM_FINISH_CANCELLED);
  EXPECT_EQ(r.generated_tokens, 5);
  const auto prompt = ids_of(c["prompt_ids"]);
  const auto want = ids_of(c["generated_ids"]);
  std::vector<int32_t> expect = prompt;
  expect.insert(expect.end(), want.begin(), want.begin() + 5);
  EXPECT_EQ(session_tokens(s.get()), expect);
  // The next call goes on from there, as if never stopped.
  g = greedy(10);
  Collected more;
  more.attach(g);
  ASSERT_EQ(pllm_session_generate(s.get(), &g, &r), PLLM_OK);
  EXPECT_EQ(more.tokens, std::vector<int32_t>(want.begin() + 5, want.begin() + 15));
}

// max_tokens 0 prefills and draws nothing: the callback is never called (it would have
// no token to name; found by fuzz_capi_text as UB on an empty token list).
TEST(CapiSession, ZeroMaxTokensPrefillsAndNeverCallsTheCallback) {
  auto m = load_stories();
  auto s = new_session(m.get());
  const auto& c = golden()["cases"][0];
  append_prompt(s.get(), c["prompt"]);
  struct Counter {
    int calls = 0;
    static int cb(void* self, int32_t, const char*, size_t) { return ++static_cast<Counter*>(self)->calls, 0; }
  } counter;
  for (bool echo : {false, true}) {
    pllm_generate_params g = greedy(0);
    g.on_token = &Counter::cb;
    g.user_data = &counter;
    g.echo_prompt = echo;
    pllm_generate_result r;
    ASSERT_EQ(pllm_session_generate(s.get(), &g, &r), PLLM_OK) << pllm_last_error();
    EXPECT_EQ(r.generated_tokens, 0);
    EXPECT_EQ(r.finish, PLLM_FINISH_LENGTH);
    EXPECT_EQ(session_tokens(s.get()), ids_of(c["prompt_ids"]));
  }
  // echo_prompt shows the prompt's text once through the callback (token -1), nothing else.
  EXPECT_EQ(counter.calls, 1);
  // The next call draws the golden tokens as if the empty calls had not happened.
  pllm_generate_params g = greedy(5);
  Collected got;
  got.attach(g);
  pllm_generate_result r;
  ASSERT_EQ(pllm_session_generate(s.get(), &g, &r), PLLM_OK);
  const auto want = ids_of(c["generated_ids"]);
  EXPECT_EQ(got.tokens, std::vector<int32_t>(want.begin(), want.begin() + 5));
}

TEST(CapiSession, StopStringsEndTheTextBeforeThem) {
  auto m = load_stories();
  auto s = new_session(m.get());
  append_prompt(s.get(), "Once upon a time");
  pllm_generate_params g = greedy(60);
  const pllm_string stops[] = {{"zzz", 3}, {" named", 6}};
  g.stop = stops;
  g.n_stop = 2;
  Collected got;
  got.attach(g);
  pllm_generate_result r;
  ASSERT_EQ(pllm_session_generate(s.get(), &g, &r), PLLM_OK);
  EXPECT_EQ(r.finish, PLLM_FINISH_STOP_STRING);
  EXPECT_EQ(got.text, ", there was a little girl");  // golden: "..., there was a little girl named Lily."

  g.stop = nullptr;  // a NULL array with a count
  EXPECT_EQ(pllm_session_generate(s.get(), &g, &r), PLLM_ERR_INVALID_ARGUMENT);
  const pllm_string bad[] = {{"\xc3", 1}};
  g.stop = bad;
  g.n_stop = 1;
  EXPECT_EQ(pllm_session_generate(s.get(), &g, &r), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(pllm_session_last_error(s.get())).find("UTF-8"), std::string::npos);
}

TEST(CapiSession, ChatTurnsReuseTheCachedPrefixAndAnswerAsAFreshSessionWould) {
  auto m = load_stories(kStoryTemplate);
  auto s = new_session(m.get());
  std::vector<std::string> texts = {"Once upon a time", "", "Lily went to the park"};
  std::vector<pllm_chat_message> conv = {{{"user", 4}, {texts[0].data(), texts[0].size()}}};
  size_t reused = 99;
  ASSERT_EQ(pllm_session_set_chat(s.get(), conv.data(), conv.size(), 1, &reused), PLLM_OK) << pllm_last_error();
  EXPECT_EQ(reused, 0u);
  pllm_generate_params g = greedy(12);
  Collected answer;
  answer.attach(g);
  pllm_generate_result r;
  ASSERT_EQ(pllm_session_generate(s.get(), &g, &r), PLLM_OK);
  ASSERT_FALSE(answer.text.empty());
  // The app adds the answer and the next turn, and passes the whole conversation again.
  texts[1] = answer.text;
  conv = {{{"user", 4}, {texts[0].data(), texts[0].size()}},
          {{"assistant", 9}, {texts[1].data(), texts[1].size()}},
          {{"user", 4}, {texts[2].data(), texts[2].size()}}};
  const size_t cached_before = static_cast<size_t>(info_of(s.get()).n_cached);
  ASSERT_EQ(pllm_session_set_chat(s.get(), conv.data(), conv.size(), 1, &reused), PLLM_OK);
  const auto prompt = session_tokens(s.get());
  EXPECT_GT(reused, 0u);
  EXPECT_LE(reused, cached_before);
  Collected second;
  second.attach(g);
  ASSERT_EQ(pllm_session_generate(s.get(), &g, &r), PLLM_OK);
  EXPECT_EQ(r.prompt_tokens, static_cast<int64_t>(prompt.size() - reused));

  // A fresh session given the same conversation prefills all of it and answers the same.
  auto fresh = new_session(m.get());
  ASSERT_EQ(pllm_session_set_chat(fresh.get(), conv.data(), conv.size(), 1, &reused), PLLM_OK);
  EXPECT_EQ(reused, 0u);
  Collected again;
  again.attach(g);
  ASSERT_EQ(pllm_session_generate(fresh.get(), &g, &r), PLLM_OK);
  EXPECT_EQ(r.prompt_tokens, static_cast<int64_t>(prompt.size()));
  EXPECT_EQ(again.tokens, second.tokens);
  EXPECT_EQ(again.text, second.text);
}

TEST(CapiSession, TheContextsEndIsAnErrorOrAFinishReasonNeverAnOverrun) {
  auto m = load_stories();
  auto s = new_session(m.get(), 16);
  EXPECT_EQ(info_of(s.get()).n_ctx, 16);
  std::vector<int32_t> many(17, 403);
  EXPECT_EQ(pllm_session_append_tokens(s.get(), many.data(), many.size()), PLLM_ERR_CONTEXT_FULL);
  EXPECT_EQ(info_of(s.get()).n_tokens, 0);  // nothing appended
  append_prompt(s.get(), "Once upon a time");
  pllm_generate_params g = greedy(-1);
  pllm_generate_result r;
  ASSERT_EQ(pllm_session_generate(s.get(), &g, &r), PLLM_OK);
  EXPECT_EQ(r.finish, PLLM_FINISH_CONTEXT);
  const auto tokens = session_tokens(s.get());
  EXPECT_GE(tokens.size(), 16u);
  EXPECT_EQ(tokens, first(ids_of(golden()["cases"][0]["full_sequence_ids"]), tokens.size()));
  // Full: another generate or append says so.
  EXPECT_EQ(pllm_session_generate(s.get(), &g, &r), PLLM_ERR_CONTEXT_FULL);
  EXPECT_NE(std::string(pllm_session_last_error(s.get())).find("full"), std::string::npos);
  const int32_t one = 403;
  EXPECT_EQ(pllm_session_append_tokens(s.get(), &one, 1), PLLM_ERR_CONTEXT_FULL);
  ASSERT_EQ(pllm_session_reset(s.get()), PLLM_OK);
  EXPECT_EQ(info_of(s.get()).n_tokens, 0);
}

TEST(CapiSession, CallsInTheWrongOrderOrWithBadArgumentsAreRefused) {
  auto m = load_stories();
  pllm_session* raw = reinterpret_cast<pllm_session*>(0x1);
  EXPECT_EQ(pllm_session_create(nullptr, nullptr, &raw), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_session_create(m.get(), nullptr, nullptr), PLLM_ERR_INVALID_ARGUMENT);
  pllm_session_params sp;
  pllm_session_default_params(&sp);
  sp.n_ctx = -1;
  EXPECT_EQ(pllm_session_create(m.get(), &sp, &raw), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(raw, nullptr);
  sp.n_ctx = int64_t{1} << 40;
  EXPECT_EQ(pllm_session_create(m.get(), &sp, &raw), PLLM_ERR_INVALID_ARGUMENT);
  pllm_session_default_params(&sp);
  const int negative = -2;  // as a C caller may pass it (out of a C++ enum's range)
  std::memcpy(&sp.kv_type, &negative, sizeof negative);
  EXPECT_EQ(pllm_session_create(m.get(), &sp, &raw), PLLM_ERR_INVALID_ARGUMENT);

  auto s = new_session(m.get());
  pllm_generate_params g = greedy(4);
  pllm_generate_result r;
  EXPECT_EQ(pllm_session_generate(s.get(), &g, &r), PLLM_ERR_STATE);  // nothing to continue
  EXPECT_NE(std::string(pllm_session_last_error(s.get())).find("empty"), std::string::npos);
  EXPECT_EQ(pllm_session_generate(s.get(), nullptr, &r), PLLM_ERR_INVALID_ARGUMENT);
  const int32_t out_of_vocab[] = {1, 512};
  EXPECT_EQ(pllm_session_append_tokens(s.get(), out_of_vocab, 2), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_session_append_tokens(s.get(), nullptr, 2), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_session_append_text(s.get(), "\xe2\x28\xa1", 3, 0), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(info_of(s.get()).n_tokens, 0);
  size_t n = 0;
  int32_t one = 0;
  append_prompt(s.get(), "Hi");
  EXPECT_EQ(pllm_session_get_tokens(s.get(), &one, 1, &n), PLLM_ERR_BUFFER_TOO_SMALL);
  EXPECT_EQ(n, 3u);  // BOS, "H", "i"
  EXPECT_EQ(pllm_session_get_tokens(s.get(), &one, 1, nullptr), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_session_get_info(s.get(), nullptr), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_session_set_chat(s.get(), nullptr, 1, 1, nullptr), PLLM_ERR_INVALID_ARGUMENT);

  // Sampling parameters that make no sense.
  for (auto spoil : std::vector<void (*)(pllm_generate_params&)>{
           [](pllm_generate_params& p) { p.sampling.temperature = std::numeric_limits<float>::quiet_NaN(); },
           [](pllm_generate_params& p) { p.sampling.top_p = std::numeric_limits<float>::infinity(); },
           [](pllm_generate_params& p) { p.sampling.repeat_penalty = 0; },
           [](pllm_generate_params& p) { p.sampling.repeat_last_n = -1; }}) {
    pllm_generate_params bad = greedy(4);
    spoil(bad);
    EXPECT_EQ(pllm_session_generate(s.get(), &bad, &r), PLLM_ERR_INVALID_ARGUMENT);
  }
  EXPECT_EQ(info_of(s.get()).n_tokens, 3);  // refused calls change nothing

  // Every session call refuses a NULL session, and says so on this thread.
  EXPECT_EQ(pllm_session_get_info(nullptr, nullptr), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(pllm_last_error()).find("session is NULL"), std::string::npos);
  EXPECT_EQ(pllm_session_generate(nullptr, &g, &r), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_session_append_tokens(nullptr, &one, 1), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_session_append_text(nullptr, "a", 1, 0), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_session_set_chat(nullptr, nullptr, 0, 1, nullptr), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_session_reset(nullptr), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_session_cancel(nullptr), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_session_save(nullptr, "/tmp/x"), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_session_load(nullptr, "/tmp/x"), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_session_get_tokens(nullptr, nullptr, 0, &n), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_STREQ(pllm_session_last_error(nullptr), "");
  pllm_session_free(nullptr);
  pllm_session_default_params(nullptr);
  pllm_generate_default_params(nullptr);
  pllm_model_default_params(nullptr);
}

TEST(CapiSession, SeededSamplingRepeatsAndTheSessionOutlivesItsModelHandle) {
  auto m = load_stories();
  auto a = new_session(m.get());
  auto b = new_session(m.get(), 0, PLLM_KV_F16);
  EXPECT_EQ(info_of(b.get()).kv_type, PLLM_KV_F16);
  EXPECT_EQ(info_of(a.get()).kv_type, PLLM_KV_F32);  // a float model's default
  m.reset();  // the sessions keep the model alive
  pllm_generate_params g;
  pllm_generate_default_params(&g);
  g.sampling.temperature = 1.0f;
  g.sampling.seed = 1234;
  g.max_tokens = 30;
  std::vector<int32_t> runs[2];
  for (auto* s : {a.get(), b.get()}) append_prompt(s, "Once upon a time");
  for (int i = 0; i < 2; ++i) {
    Collected got;
    got.attach(g);
    ASSERT_EQ(pllm_session_generate(a.get(), &g, nullptr), PLLM_OK) << pllm_session_last_error(a.get());
    runs[i] = got.tokens;
    ASSERT_EQ(pllm_session_reset(a.get()), PLLM_OK);
    append_prompt(a.get(), "Once upon a time");
  }
  EXPECT_EQ(runs[0].size(), 30u);
  EXPECT_EQ(runs[0], runs[1]);
  g.on_token = nullptr;  // the collector above is gone
  ASSERT_EQ(pllm_session_generate(b.get(), &g, nullptr), PLLM_OK) << pllm_session_last_error(b.get());
}
