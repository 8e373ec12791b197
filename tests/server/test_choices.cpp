// n > 1 (independent choices, each with its index, streamed chunks carrying it),
// presence/frequency penalties changing the answer, and stop arrays at OpenAI's limit.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "server_process.h"

using nlohmann::json;
using namespace servertest;

namespace {

class Choices : public SharedServerTest<Choices> {
 public:
  static std::vector<std::string> flags() { return {"-np", "2", "-c", "256"}; }
};

json chat(const json& extra) {
  json b = {{"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}}, {"max_tokens", 24}};
  if (extra.is_object()) b.update(extra);
  return b;
}

TEST_F(Choices, NChoicesAreIndependentAndIndexed) {
  for (const char* path : {"/v1/chat/completions", "/v1/completions"}) {
    SCOPED_TRACE(path);
    json body = std::string(path) == "/v1/completions" ? json{{"prompt", "Once upon a time"}, {"max_tokens", 24}}
                                                       : chat({});
    body.update({{"n", 3}, {"temperature", 1.0}, {"seed", 7}});
    auto r = http_post(port(), path, body.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    const json j = r.json();
    ASSERT_EQ(j["choices"].size(), 3u);
    std::set<std::string> texts;
    for (int i = 0; i < 3; ++i) {
      const json& c = j["choices"][i];
      EXPECT_EQ(c["index"], i);
      texts.insert(c.contains("message") ? c["message"]["content"].get<std::string>() : c["text"].get<std::string>());
    }
    EXPECT_GE(texts.size(), 2u) << "three samples of 24 tokens at temperature 1 were all the same";
    // The prompt counts once; the completions of every choice add up.
    body["n"] = 1;
    auto one = http_post(port(), path, body.dump());
    ASSERT_EQ(one.status, 200);
    EXPECT_EQ(j["usage"]["prompt_tokens"], one.json()["usage"]["prompt_tokens"]);
    EXPECT_GT(j["usage"]["completion_tokens"].get<int>(), one.json()["usage"]["completion_tokens"].get<int>());
    // Choice 0 with a seed is the n = 1 answer with that seed.
    const json& c0 = j["choices"][0];
    const json o0 = one.json()["choices"][0];
    EXPECT_EQ(c0.contains("message") ? c0["message"] : c0["text"], o0.contains("message") ? o0["message"] : o0["text"]);
  }
}

TEST_F(Choices, StreamedChoicesCarryTheirIndex) {
  json body = chat({{"n", 2}, {"temperature", 1.0}, {"seed", 3}});
  auto whole = http_post(port(), "/v1/chat/completions", body.dump());
  ASSERT_EQ(whole.status, 200) << whole.body;
  body["stream"] = true;
  auto s = http_stream(port(), "/v1/chat/completions", body.dump());
  ASSERT_EQ(s.status, 200);
  std::map<int, std::string> text, finish, role;
  int usage_chunks = 0;
  for (const std::string& e : s.events) {
    if (e == "[DONE]") continue;
    const json c = json::parse(e);
    if (c.contains("usage") && c["usage"].is_object()) ++usage_chunks;
    for (const json& ch : c["choices"]) {
      const int i = ch["index"];
      if (ch["delta"].contains("role")) role[i] = ch["delta"]["role"];
      if (ch["delta"].contains("content")) text[i] += ch["delta"]["content"].get<std::string>();
      if (!ch["finish_reason"].is_null()) finish[i] = ch["finish_reason"];
    }
  }
  EXPECT_EQ(usage_chunks, 1);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(role[i], "assistant") << i;
    EXPECT_EQ(text[i], whole.json()["choices"][i]["message"]["content"]) << i;
    EXPECT_EQ(finish[i], whole.json()["choices"][i]["finish_reason"]) << i;
  }
}

TEST_F(Choices, NOutOfRangeIs400) {
  for (const json& n : {json(0), json(17), json(2.5), json("2")}) {
    auto r = http_post(port(), "/v1/chat/completions", chat({{"n", n}}).dump());
    EXPECT_EQ(r.status, 400) << n << " " << r.body;
  }
  auto r = http_post(port(), "/v1/chat/completions", chat({{"n", 17}}).dump());
  EXPECT_EQ(r.json()["error"]["message"], "'n' must be between 1 and 16");
}

// Greedy with a strong presence or frequency penalty stops repeating itself: every
// token already in the window is pushed down. Out-of-range values are 400s.
TEST_F(Choices, PenaltiesChangeTheAnswerWithinOpenAIsRange) {
  auto answer = [&](const json& extra) {
    json body = {{"prompt", "Once upon a time"}, {"max_tokens", 40}, {"temperature", 0}, {"repeat_penalty", 1}};
    if (extra.is_object()) body.update(extra);
    auto r = http_post(port(), "/v1/completions", body.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["choices"][0]["text"].get<std::string>();
  };
  const std::string plain = answer({});
  const std::string presence = answer({{"presence_penalty", 2.0}});
  const std::string frequency = answer({{"frequency_penalty", 2.0}});
  EXPECT_NE(plain, presence);
  EXPECT_NE(plain, frequency);
  // Negative penalties favour repetition: also valid, also different.
  EXPECT_NE(plain, answer({{"presence_penalty", -2.0}}));
  for (const char* k : {"presence_penalty", "frequency_penalty"})
    for (double v : {-2.01, 2.5}) {
      auto r = http_post(port(), "/v1/completions", json{{"prompt", "Hi"}, {k, v}}.dump());
      EXPECT_EQ(r.status, 400) << k << " " << v;
      EXPECT_EQ(r.json()["error"]["message"], std::string("'") + k + "' must be between -2 and 2");
    }
}

TEST_F(Choices, StopArraysHoldUpToFourStrings) {
  const json base = {{"prompt", "Once upon a time"}, {"max_tokens", 40}, {"temperature", 0}};
  auto r = http_post(port(), "/v1/completions", base.dump());
  ASSERT_EQ(r.status, 200);
  const std::string text = r.json()["choices"][0]["text"];
  ASSERT_GT(text.size(), 20u);
  // The earliest of four stop strings ends the answer.
  json body = base;
  body["stop"] = {"zzz", text.substr(12, 3), "qqq", text.substr(16, 3)};
  auto s = http_post(port(), "/v1/completions", body.dump());
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(s.json()["choices"][0]["text"], text.substr(0, text.find(text.substr(12, 3))));
  EXPECT_EQ(s.json()["choices"][0]["finish_reason"], "stop");
  body["stop"] = {"a", "b", "c", "d", "e"};
  auto five = http_post(port(), "/v1/completions", body.dump());
  EXPECT_EQ(five.status, 400);
  EXPECT_EQ(five.json()["error"]["message"], "'stop' may hold at most 4 strings");
}

}  // namespace
