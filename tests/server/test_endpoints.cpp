// The OpenAI endpoints of `pocketllm serve` on stories260K: response shapes,
// streaming equal to non-streaming, sampling fields, stop strings, limits.
#include <gtest/gtest.h>

#include <memory>

#include "server_process.h"
#include "support/test_support.h"

using nlohmann::json;
using namespace servertest;

namespace {

class Endpoints : public SharedServerTest<Endpoints> {
 public:
  static std::vector<std::string> flags() { return {"-np", "2", "-c", "256", "--alias", "tiny"}; }
};

json chat_body(const std::string& user, double temp, int64_t seed, int max_tokens) {
  return {{"model", "tiny"},
          {"messages", {{{"role", "user"}, {"content", user}}}},
          {"temperature", temp},
          {"seed", seed},
          {"max_tokens", max_tokens}};
}

TEST_F(Endpoints, HealthAndModels) {
  auto h = http_get(port(), "/health");
  ASSERT_EQ(h.status, 200);
  EXPECT_EQ(h.json()["status"], "ok");
  EXPECT_EQ(h.json()["slots_idle"], 2);
  auto m = http_get(port(), "/v1/models");
  ASSERT_EQ(m.status, 200) << m.body;
  auto j = m.json();
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 1u);
  EXPECT_EQ(j["data"][0]["id"], "tiny");
  EXPECT_EQ(j["data"][0]["object"], "model");
}

TEST_F(Endpoints, ChatCompletionIsWellFormed) {
  auto r = http_post(port(), "/v1/chat/completions", chat_body("Once upon a time", 0.8, 42, 40).dump());
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "tiny");
  EXPECT_TRUE(j["id"].is_string() && !j["id"].get<std::string>().empty());
  ASSERT_EQ(j["choices"].size(), 1u);
  auto& c = j["choices"][0];
  EXPECT_EQ(c["message"]["role"], "assistant");
  ASSERT_TRUE(c["message"]["content"].is_string());
  EXPECT_FALSE(c["message"]["content"].get<std::string>().empty());
  const std::string fr = c["finish_reason"];
  EXPECT_TRUE(fr == "stop" || fr == "length") << fr;
  // The template renders BOS + the content: the prompt is the tokenized text with BOS.
  auto tk = http_post(port(), "/tokenize", json{{"content", "Once upon a time"}, {"add_special", true}}.dump());
  ASSERT_EQ(tk.status, 200);
  EXPECT_EQ(j["usage"]["prompt_tokens"], tk.json()["tokens"].size());
  const int64_t n = j["usage"]["completion_tokens"];
  EXPECT_GT(n, 0);
  EXPECT_LE(n, 40);
  EXPECT_EQ(j["usage"]["total_tokens"], j["usage"]["prompt_tokens"].get<int64_t>() + n);
  if (fr == "length") {
    EXPECT_EQ(n, 40);
  }
}

TEST_F(Endpoints, StreamedChatEqualsNonStreamedForTheSameSeed) {
  for (int64_t seed : {1, 7, 123}) {
    json body = chat_body("The little dog", 0.9, seed, 60);
    body["top_k"] = 40;
    body["top_p"] = 0.9;
    auto whole = http_post(port(), "/v1/chat/completions", body.dump());
    ASSERT_EQ(whole.status, 200) << whole.body;
    body["stream"] = true;
    auto s = http_stream(port(), "/v1/chat/completions", body.dump());
    ASSERT_EQ(s.status, 200);
    ASSERT_GE(s.events.size(), 3u);
    EXPECT_EQ(s.events.back(), "[DONE]");
    auto first = json::parse(s.events[0]);
    EXPECT_EQ(first["object"], "chat.completion.chunk");
    EXPECT_EQ(first["choices"][0]["delta"], json({{"role", "assistant"}}));
    for (size_t i = 0; i + 1 < s.events.size(); ++i) {
      auto j = json::parse(s.events[i], nullptr, false);
      ASSERT_TRUE(j.is_object()) << s.events[i];
      EXPECT_EQ(j["id"], first["id"]);
      if (i + 2 < s.events.size()) {
        EXPECT_TRUE(j["choices"][0]["finish_reason"].is_null());
      }
    }
    json last;
    const std::string text = stream_text(s, &last);
    auto w = whole.json();
    EXPECT_EQ(text, w["choices"][0]["message"]["content"]) << "seed " << seed;
    EXPECT_EQ(last["choices"][0]["finish_reason"], w["choices"][0]["finish_reason"]);
    for (const char* k : {"prompt_tokens", "completion_tokens", "total_tokens"}) EXPECT_EQ(last["usage"][k], w["usage"][k]);
  }
}

// stream_options.include_usage (OpenAI): every chunk has "usage": null, then one
// more chunk with "choices": [] carries the usage, before [DONE].
TEST_F(Endpoints, IncludeUsageSendsAFinalUsageChunk) {
  for (bool chat : {true, false}) {
    SCOPED_TRACE(chat ? "chat" : "completion");
    json body = chat ? chat_body("The little dog", 0, 1, 20) : json{{"prompt", "The little dog"}, {"max_tokens", 20}};
    body["temperature"] = 0;
    const std::string path = chat ? "/v1/chat/completions" : "/v1/completions";
    auto whole = http_post(port(), path, body.dump());
    ASSERT_EQ(whole.status, 200) << whole.body;
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
    auto s = http_stream(port(), path, body.dump());
    ASSERT_EQ(s.status, 200);
    ASSERT_GE(s.events.size(), 3u);
    EXPECT_EQ(s.events.back(), "[DONE]");
    const json usage_chunk = json::parse(s.events[s.events.size() - 2], nullptr, false);
    ASSERT_TRUE(usage_chunk.is_object()) << s.events[s.events.size() - 2];
    EXPECT_EQ(usage_chunk["choices"], json::array());
    EXPECT_EQ(usage_chunk["object"], chat ? "chat.completion.chunk" : "text_completion");
    for (const char* k : {"prompt_tokens", "completion_tokens", "total_tokens"})
      EXPECT_EQ(usage_chunk["usage"][k], whole.json()["usage"][k]) << k;
    for (size_t i = 0; i + 2 < s.events.size(); ++i) {
      const json j = json::parse(s.events[i], nullptr, false);
      ASSERT_TRUE(j.contains("usage")) << s.events[i];
      EXPECT_TRUE(j["usage"].is_null()) << s.events[i];
      EXPECT_EQ(j["choices"].size(), 1u);
    }
    EXPECT_EQ(stream_text(s), chat ? whole.json()["choices"][0]["message"]["content"] : whole.json()["choices"][0]["text"]);
  }
  json bad = chat_body("x", 0, 1, 2);
  bad["stream"] = true;
  bad["stream_options"] = {{"include_usage", "yes"}};
  EXPECT_EQ(http_post(port(), "/v1/chat/completions", bad.dump()).status, 400);
}

TEST_F(Endpoints, SeedMattersAndGreedyIsRepeatable) {
  auto a = http_post(port(), "/v1/chat/completions", chat_body("A cat", 1.0, 1, 50).dump()).json();
  auto b = http_post(port(), "/v1/chat/completions", chat_body("A cat", 1.0, 2, 50).dump()).json();
  auto a2 = http_post(port(), "/v1/chat/completions", chat_body("A cat", 1.0, 1, 50).dump()).json();
  EXPECT_EQ(a["choices"][0]["message"]["content"], a2["choices"][0]["message"]["content"]);
  EXPECT_NE(a["choices"][0]["message"]["content"], b["choices"][0]["message"]["content"]);
  auto g1 = http_post(port(), "/v1/chat/completions", chat_body("A cat", 0, 1, 50).dump()).json();
  auto g2 = http_post(port(), "/v1/chat/completions", chat_body("A cat", 0, 99, 50).dump()).json();
  EXPECT_EQ(g1["choices"][0]["message"]["content"], g2["choices"][0]["message"]["content"]);
}

// The server's greedy text equals the CLI's for the same prompt (same engine, same sampler).
TEST_F(Endpoints, GreedyCompletionMatchesPocketllmRun) {
  const auto models = testsupport::shared_data() / "models" / "stories260K";
  const std::string prompt = "Once upon a time there was a little girl";
  auto run = testsupport::run_cli({"run", "-m", (models / "stories260K.bin").string(), "--tokenizer",
                                   (models / "tok512.bin").string(), "-p", prompt, "-n", "30", "--temp", "0"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json body = {{"prompt", prompt}, {"max_tokens", 30}, {"temperature", 0}};
  auto r = http_post(port(), "/v1/completions", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["object"], "text_completion");
  const std::string text = j["choices"][0]["text"];
  ASSERT_FALSE(text.empty());
  EXPECT_NE(run.out.find(text), std::string::npos) << "server: " << text << "\ncli: " << run.out;
}

TEST_F(Endpoints, StreamedCompletionEqualsNonStreamed) {
  json body = {{"prompt", "Lily and Ben"}, {"max_tokens", 40}, {"temperature", 0.7}, {"seed", 5}};
  auto whole = http_post(port(), "/v1/completions", body.dump());
  ASSERT_EQ(whole.status, 200) << whole.body;
  body["stream"] = true;
  auto s = http_stream(port(), "/v1/completions", body.dump());
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.events.back(), "[DONE]");
  json last;
  EXPECT_EQ(stream_text(s, &last), whole.json()["choices"][0]["text"]);
  EXPECT_EQ(last["object"], "text_completion");
  for (const char* k : {"prompt_tokens", "completion_tokens", "total_tokens"})
    EXPECT_EQ(last["usage"][k], whole.json()["usage"][k]);
}

TEST_F(Endpoints, StopStringsCutTheAnswer) {
  json body = {{"prompt", "Once upon a time"}, {"max_tokens", 60}, {"temperature", 0}};
  auto full = http_post(port(), "/v1/completions", body.dump()).json();
  const std::string text = full["choices"][0]["text"];
  ASSERT_GT(text.size(), 20u);
  const std::string stop = text.substr(10, 4);
  const std::string expected = text.substr(0, text.find(stop));
  for (json s : {json(stop), json::array({"zzzz-never", stop})}) {
    body["stop"] = s;
    auto r = http_post(port(), "/v1/completions", body.dump()).json();
    EXPECT_EQ(r["choices"][0]["text"], expected);
    EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
    body["stream"] = true;
    EXPECT_EQ(stream_text(http_stream(port(), "/v1/completions", body.dump())), expected);
    body.erase("stream");
  }
}

TEST_F(Endpoints, MaxTokensGivesLength) {
  json body = {{"prompt", "Once upon a time"}, {"max_tokens", 3}, {"temperature", 0}};
  auto r = http_post(port(), "/v1/completions", body.dump()).json();
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r["usage"]["completion_tokens"], 3);
  body["max_tokens"] = 0;
  r = http_post(port(), "/v1/completions", body.dump()).json();
  EXPECT_EQ(r["choices"][0]["text"], "");
  EXPECT_EQ(r["usage"]["completion_tokens"], 0);
}

TEST_F(Endpoints, PenaltiesChangeTheGreedyText) {
  json body = {{"prompt", "Once upon a time"}, {"max_tokens", 60}, {"temperature", 0}};
  const std::string plain = http_post(port(), "/v1/completions", body.dump()).json()["choices"][0]["text"];
  for (auto [name, value] : {std::pair{"frequency_penalty", 2.0}, {"presence_penalty", 2.0}, {"repeat_penalty", 1.5}}) {
    json b = body;
    b[name] = value;
    auto r = http_post(port(), "/v1/completions", b.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.json()["choices"][0]["text"], plain) << name;
  }
}

TEST_F(Endpoints, TokenizeDetokenizeRoundTrip) {
  auto t = http_post(port(), "/tokenize", json{{"content", "Hello world"}}.dump());
  ASSERT_EQ(t.status, 200) << t.body;
  auto ids = t.json()["tokens"];
  ASSERT_TRUE(ids.is_array());
  ASSERT_FALSE(ids.empty());
  auto d = http_post(port(), "/detokenize", json{{"tokens", ids}}.dump());
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.json()["content"], "Hello world");
}

TEST_F(Endpoints, MultiTurnReusesTheSlotCache) {
  json body = chat_body("Tom had a red ball.", 0, 0, 20);
  auto r1 = http_post(port(), "/v1/chat/completions", body.dump()).json();
  body["messages"].push_back({{"role", "assistant"}, {"content", r1["choices"][0]["message"]["content"]}});
  body["messages"].push_back({{"role", "user"}, {"content", " He was happy."}});
  auto r2 = http_post(port(), "/v1/chat/completions", body.dump());
  ASSERT_EQ(r2.status, 200);
  // The second turn goes to the slot holding the first: its whole first prompt is served from the cache.
  const int64_t first_prompt = r1["usage"]["prompt_tokens"];
  EXPECT_GE(r2.json()["usage"]["prompt_tokens_details"]["cached_tokens"].get<int64_t>(), first_prompt);
  EXPECT_NE(server_->log().find("POST /v1/chat/completions 200 tokens="), std::string::npos);
}

}  // namespace
