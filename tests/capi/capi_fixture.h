// Shared by the C API tests: they use only include/pocketllm.h and libpocketllm.so,
// as an app does. stories260K and llama2.c's golden output come from ../shared.
#pragma once
#include <gtest/gtest.h>
#include <pocketllm.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace capitest {

struct ModelDeleter {
  void operator()(pllm_model* m) const { pllm_model_free(m); }
};
struct SessionDeleter {
  void operator()(pllm_session* s) const { pllm_session_free(s); }
};
using ModelPtr = std::unique_ptr<pllm_model, ModelDeleter>;
using SessionPtr = std::unique_ptr<pllm_session, SessionDeleter>;

inline std::string stories_dir() { return (testsupport::shared_data() / "models/stories260K").string(); }
inline std::string stories_bin() { return stories_dir() + "/stories260K.bin"; }
inline std::string stories_tok() { return stories_dir() + "/tok512.bin"; }

// llama2.c's greedy runs of stories260K (golden.json: prompt, prompt_ids, generated_ids, ...).
inline const nlohmann::json& golden() {
  static const nlohmann::json g = nlohmann::json::parse(testsupport::read_file(stories_dir() + "/golden.json"));
  return g;
}

// A template for a model that has none: user turns are the story so far, answers follow.
inline const char* kStoryTemplate =
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ m['content'] }}"
    "{% else %}{{ ' ' + m['content'] + '\\n' }}{% endif %}{% endfor %}";

// stories260K with its tokenizer (one thread: tests run two at a time on two cores).
inline ModelPtr load_stories(const char* chat_template = nullptr, pllm_kv_type kv = PLLM_KV_DEFAULT) {
  pllm_model_params p;
  pllm_model_default_params(&p);
  p.n_threads = 1;
  const std::string tok = stories_tok();
  p.tokenizer_path = tok.c_str();
  p.chat_template = chat_template;
  p.kv_type = kv;
  pllm_model* m = nullptr;
  const pllm_status st = pllm_model_load(stories_bin().c_str(), &p, &m);
  EXPECT_EQ(st, PLLM_OK) << pllm_last_error();
  return ModelPtr(m);
}

inline SessionPtr new_session(pllm_model* m, int64_t n_ctx = 0, pllm_kv_type kv = PLLM_KV_DEFAULT) {
  pllm_session_params p;
  pllm_session_default_params(&p);
  p.n_ctx = n_ctx;
  p.kv_type = kv;
  pllm_session* s = nullptr;
  EXPECT_EQ(pllm_session_create(m, &p, &s), PLLM_OK) << pllm_last_error();
  return SessionPtr(s);
}

inline std::vector<int32_t> ids_of(const nlohmann::json& j) { return j.get<std::vector<int32_t>>(); }

inline std::vector<int32_t> session_tokens(pllm_session* s) {
  size_t n = 0;
  pllm_session_get_tokens(s, nullptr, 0, &n);
  std::vector<int32_t> out(n);
  EXPECT_EQ(pllm_session_get_tokens(s, out.data(), out.size(), &n), PLLM_OK) << pllm_last_error();
  return out;
}

inline pllm_generate_params greedy(int64_t max_tokens) {
  pllm_generate_params g;
  pllm_generate_default_params(&g);
  g.sampling.temperature = 0;
  g.max_tokens = max_tokens;
  return g;
}

// Collects what a generation streams: the tokens and the text.
struct Collected {
  std::vector<int32_t> tokens;
  std::string text;
  static int on_token(void* self, int32_t token, const char* text, size_t len) {
    auto* c = static_cast<Collected*>(self);
    if (token >= 0) c->tokens.push_back(token);
    c->text.append(text, len);
    return 0;
  }
  void attach(pllm_generate_params& g) {
    g.on_token = &Collected::on_token;
    g.user_data = this;
  }
};

}  // namespace capitest
