// The C API's library, model and text calls: versions, loading (and failing to),
// model info, tokenize/detokenize against llama2.c's ids, chat rendering, and the
// hostile arguments each of them must refuse with a status and a message.
#include <cstring>
#include <thread>

#include "capi/capi_fixture.h"

using namespace capitest;
namespace ts = testsupport;

TEST(CapiLibrary, VersionsAndStatusNames) {
  EXPECT_EQ(pllm_api_version(), PLLM_API_VERSION);
  const std::string v = std::to_string(PLLM_VERSION_MAJOR) + "." + std::to_string(PLLM_VERSION_MINOR) + "." +
                        std::to_string(PLLM_VERSION_PATCH);
  EXPECT_EQ(std::string(pllm_version()), v);
  EXPECT_STREQ(pllm_status_name(PLLM_OK), "PLLM_OK");
  EXPECT_STREQ(pllm_status_name(PLLM_ERR_BUSY), "PLLM_ERR_BUSY");
  EXPECT_STREQ(pllm_status_name(static_cast<pllm_status>(999)), "PLLM_ERR_UNKNOWN");
}

TEST(CapiModel, LoadsStoriesAndDescribesIt) {
  auto m = load_stories();
  ASSERT_TRUE(m);
  pllm_model_info info;
  ASSERT_EQ(pllm_model_get_info(m.get(), &info), PLLM_OK);
  EXPECT_EQ(std::string(info.architecture.data, info.architecture.len), "llama");
  const auto& cfg = golden()["config"];
  EXPECT_EQ(info.n_vocab, cfg["vocab_size"].get<int64_t>());
  EXPECT_EQ(info.n_embd, cfg["dim"].get<int64_t>());
  EXPECT_EQ(info.n_layers, cfg["n_layers"].get<int64_t>());
  EXPECT_EQ(info.n_heads, cfg["n_heads"].get<int64_t>());
  EXPECT_EQ(info.n_kv_heads, cfg["n_kv_heads"].get<int64_t>());
  EXPECT_EQ(info.n_ctx_train, cfg["seq_len"].get<int64_t>());
  EXPECT_EQ(info.bos, 1);
  EXPECT_EQ(info.has_tokenizer, 1);
  EXPECT_GT(info.n_params, 200000u);
  EXPECT_EQ(info.chat_template.len, 0u);  // llama2.c checkpoints carry no template
}

TEST(CapiModel, LoadFailuresSayWhyPerThread) {
  pllm_model* m = reinterpret_cast<pllm_model*>(0x1);
  EXPECT_EQ(pllm_model_load("/nonexistent/model.gguf", nullptr, &m), PLLM_ERR_IO);
  EXPECT_EQ(m, nullptr);  // never a dangling handle
  EXPECT_NE(std::string(pllm_last_error()).find("/nonexistent/model.gguf"), std::string::npos) << pllm_last_error();

  EXPECT_EQ(pllm_model_load(nullptr, nullptr, &m), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_model_load(stories_bin().c_str(), nullptr, nullptr), PLLM_ERR_INVALID_ARGUMENT);

  // A file that is not a model: a format error, not a crash.
  const auto dir = ts::temp_dir("capi_load");
  ts::write_file(dir / "junk.gguf", "GGUF\x03\0\0\0 not really");
  EXPECT_EQ(pllm_model_load((dir / "junk.gguf").c_str(), nullptr, &m), PLLM_ERR_FORMAT);
  EXPECT_EQ(m, nullptr);

  pllm_model_params p;
  pllm_model_default_params(&p);
  p.n_threads = -3;
  EXPECT_EQ(pllm_model_load(stories_bin().c_str(), &p, &m), PLLM_ERR_INVALID_ARGUMENT);
  pllm_model_default_params(&p);
  p.kv_type = static_cast<pllm_kv_type>(7);
  EXPECT_EQ(pllm_model_load(stories_bin().c_str(), &p, &m), PLLM_ERR_INVALID_ARGUMENT);
  pllm_model_default_params(&p);
  p.chat_template = "\xff\xfe";
  p.tokenizer_path = "/nonexistent/tok.bin";
  EXPECT_EQ(pllm_model_load(stories_bin().c_str(), &p, &m), PLLM_ERR_IO);

  // Another thread's failures do not touch this thread's message.
  const std::string mine = pllm_last_error();
  std::thread([] {
    EXPECT_STREQ(pllm_last_error(), "");
    pllm_model* other = nullptr;
    EXPECT_EQ(pllm_model_load("/elsewhere/x.gguf", nullptr, &other), PLLM_ERR_IO);
  }).join();
  EXPECT_EQ(std::string(pllm_last_error()), mine);
}

TEST(CapiModel, WithoutATokenizerTextCallsAreUnsupported) {
  pllm_model* raw = nullptr;
  ASSERT_EQ(pllm_model_load(stories_bin().c_str(), nullptr, &raw), PLLM_OK) << pllm_last_error();
  ModelPtr m(raw);
  pllm_model_info info;
  ASSERT_EQ(pllm_model_get_info(m.get(), &info), PLLM_OK);
  EXPECT_EQ(info.has_tokenizer, 0);
  size_t n = 0;
  EXPECT_EQ(pllm_tokenize(m.get(), "a", 1, 0, nullptr, 0, &n), PLLM_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(pllm_model_last_error(m.get())).find("tokenizer"), std::string::npos);
  // Token ids still work: the model runs without text.
  auto s = new_session(m.get());
  const int32_t bos = 1;
  ASSERT_EQ(pllm_session_append_tokens(s.get(), &bos, 1), PLLM_OK);
  pllm_generate_params g = greedy(8);
  pllm_generate_result r;
  ASSERT_EQ(pllm_session_generate(s.get(), &g, &r), PLLM_OK) << pllm_session_last_error(s.get());
  EXPECT_EQ(r.generated_tokens, 8);
  // The first token drawn after BOS is llama2.c's (golden case with the empty prompt).
  EXPECT_EQ(session_tokens(s.get())[1], golden()["cases"][3]["generated_ids"][0].get<int32_t>());
}

TEST(CapiText, TokenizeMatchesLlama2cAndDetokenizeRoundTrips) {
  auto m = load_stories();
  for (const auto& c : golden()["cases"]) {
    const std::string prompt = c["prompt"];
    const auto want = ids_of(c["prompt_ids"]);
    size_t n = 0;
    // Asking for the size first.
    ASSERT_EQ(pllm_tokenize(m.get(), prompt.data(), prompt.size(), PLLM_TOKENIZE_ADD_SPECIAL, nullptr, 0, &n),
              PLLM_ERR_BUFFER_TOO_SMALL);
    EXPECT_EQ(n, want.size());
    std::vector<int32_t> ids(n);
    ASSERT_EQ(pllm_tokenize(m.get(), prompt.data(), prompt.size(), PLLM_TOKENIZE_ADD_SPECIAL, ids.data(), ids.size(),
                            &n),
              PLLM_OK);
    EXPECT_EQ(ids, want) << prompt;

    const auto full = ids_of(c["full_sequence_ids"]);
    size_t len = 0;
    ASSERT_EQ(pllm_detokenize(m.get(), full.data(), full.size(), PLLM_DETOKENIZE_SKIP_SPECIAL, nullptr, 0, &len),
              PLLM_ERR_BUFFER_TOO_SMALL);
    std::string text(len + 1, '\0');
    ASSERT_EQ(pllm_detokenize(m.get(), full.data(), full.size(), PLLM_DETOKENIZE_SKIP_SPECIAL, text.data(),
                              text.size(), &len),
              PLLM_OK);
    EXPECT_EQ(text[len], '\0');
    text.resize(len);
    EXPECT_EQ(text, c["generated_text"].get<std::string>());
  }
}

TEST(CapiText, HostileArgumentsAreRefused) {
  auto m = load_stories();
  int32_t ids[8];
  size_t n = 0;
  char buf[8];
  EXPECT_EQ(pllm_tokenize(nullptr, "a", 1, 0, ids, 8, &n), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_tokenize(m.get(), nullptr, 3, 0, ids, 8, &n), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_tokenize(m.get(), nullptr, 0, 0, ids, 8, &n), PLLM_OK);  // empty text
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(pllm_tokenize(m.get(), "a", 1, 0, ids, 8, nullptr), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_tokenize(m.get(), "a", 1, 0, nullptr, 8, &n), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_tokenize(m.get(), "a", 1, 0x100, ids, 8, &n), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_tokenize(m.get(), "a", 1, PLLM_DETOKENIZE_SKIP_SPECIAL, ids, 8, &n), PLLM_ERR_INVALID_ARGUMENT);
  // Invalid UTF-8: an overlong encoding, a lone continuation byte, a surrogate, a cut sequence.
  for (const char* bad : {"\xc0\xaf", "a\x80", "\xed\xa0\x80", "ok\xe2\x82"}) {
    EXPECT_EQ(pllm_tokenize(m.get(), bad, std::strlen(bad), 0, ids, 8, &n), PLLM_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(pllm_last_error()).find("UTF-8"), std::string::npos) << pllm_last_error();
  }
  // Explicit lengths: an embedded NUL is text like any other byte, no read past len.
  const char with_nul[] = {'a', '\0', 'b'};
  EXPECT_EQ(pllm_tokenize(m.get(), with_nul, 3, 0, ids, 8, &n), PLLM_OK) << pllm_last_error();

  const int32_t good[] = {403, 407};
  const int32_t bad_ids[] = {403, 512};
  const int32_t negative[] = {-1};
  EXPECT_EQ(pllm_detokenize(m.get(), bad_ids, 2, 0, buf, sizeof buf, &n), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_detokenize(m.get(), negative, 1, 0, buf, sizeof buf, &n), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_detokenize(m.get(), nullptr, 2, 0, buf, sizeof buf, &n), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_detokenize(m.get(), good, 2, PLLM_TOKENIZE_ADD_SPECIAL, buf, sizeof buf, &n),
            PLLM_ERR_INVALID_ARGUMENT);
  // " Once upon" is 10 bytes: 8 do not hold it and its NUL, and nothing past them is written.
  char small[9];
  std::memset(small, 'x', sizeof small);
  EXPECT_EQ(pllm_detokenize(m.get(), good, 2, 0, small, 8, &n), PLLM_ERR_BUFFER_TOO_SMALL);
  EXPECT_EQ(small[8], 'x');
  EXPECT_GE(n, 8u);
  std::string exact(n + 1, '\0');
  EXPECT_EQ(pllm_detokenize(m.get(), good, 2, 0, exact.data(), n + 1, &n), PLLM_OK);
  // Model errors are kept per handle too; a NULL handle has none.
  EXPECT_EQ(pllm_detokenize(m.get(), bad_ids, 2, 0, buf, sizeof buf, &n), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(pllm_model_last_error(m.get())).find("512"), std::string::npos);
  EXPECT_STREQ(pllm_model_last_error(nullptr), "");
  EXPECT_EQ(pllm_model_get_info(m.get(), nullptr), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_model_get_info(nullptr, nullptr), PLLM_ERR_INVALID_ARGUMENT);
  pllm_model_free(nullptr);  // a no-op
}

TEST(CapiText, ChatRendersWithTheTemplateAndRefusesBadMessages) {
  auto m = load_stories(kStoryTemplate);
  const pllm_chat_message msgs[] = {{{"user", 4}, {"Once upon a time", 16}},
                                    {{"assistant", 9}, {"there was a dog.", 16}},
                                    {{"user", 4}, {"The dog", 7}}};
  size_t len = 0;
  char out[256];
  ASSERT_EQ(pllm_chat_render(m.get(), msgs, 3, 1, out, sizeof out, &len), PLLM_OK) << pllm_last_error();
  EXPECT_EQ(std::string(out, len), "<s>Once upon a time there was a dog.\nThe dog");
  EXPECT_EQ(pllm_chat_render(m.get(), msgs, 3, 1, out, 4, &len), PLLM_ERR_BUFFER_TOO_SMALL);
  EXPECT_EQ(len, std::strlen("<s>Once upon a time there was a dog.\nThe dog"));

  const pllm_chat_message no_role[] = {{{nullptr, 0}, {"x", 1}}};
  EXPECT_EQ(pllm_chat_render(m.get(), no_role, 1, 1, out, sizeof out, &len), PLLM_ERR_INVALID_ARGUMENT);
  const pllm_chat_message bad_utf8[] = {{{"user", 4}, {"\xff", 1}}};
  EXPECT_EQ(pllm_chat_render(m.get(), bad_utf8, 1, 1, out, sizeof out, &len), PLLM_ERR_INVALID_ARGUMENT);
  const pllm_chat_message null_text[] = {{{"user", 4}, {nullptr, 5}}};
  EXPECT_EQ(pllm_chat_render(m.get(), null_text, 1, 1, out, sizeof out, &len), PLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pllm_chat_render(m.get(), nullptr, 2, 1, out, sizeof out, &len), PLLM_ERR_INVALID_ARGUMENT);

  // A template that raises is PLLM_ERR_TEMPLATE with the template's message.
  auto raising = load_stories("{{ raise_exception('only user turns, please') }}");
  EXPECT_EQ(pllm_chat_render(raising.get(), msgs, 1, 1, out, sizeof out, &len), PLLM_ERR_TEMPLATE);
  EXPECT_NE(std::string(pllm_last_error()).find("only user turns"), std::string::npos) << pllm_last_error();
  // A template that does not parse fails at render time, with the same status.
  auto broken = load_stories("{% for %}");
  EXPECT_EQ(pllm_chat_render(broken.get(), msgs, 1, 1, out, sizeof out, &len), PLLM_ERR_TEMPLATE);
}
