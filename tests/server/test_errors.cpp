// Every error case of the API: status code and OpenAI error type, and a
// bounded load test of mixed valid and malformed requests that must leave the
// server healthy with no slot leaked.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "server_process.h"

using nlohmann::json;
using namespace servertest;

namespace {

void expect_error(const HttpResult& r, int status, const std::string& type) {
  EXPECT_EQ(r.status, status) << r.body;
  auto j = r.json();
  ASSERT_TRUE(j.is_object() && j.contains("error")) << r.body;
  EXPECT_EQ(j["error"]["code"], status) << r.body;
  EXPECT_EQ(j["error"]["type"], type) << r.body;
  EXPECT_TRUE(j["error"]["message"].is_string() && !j["error"]["message"].get<std::string>().empty());
}

class Errors : public SharedServerTest<Errors> {
 public:
  static std::vector<std::string> flags() { return {"-np", "2", "-c", "128", "--max-body", "65536", "--queue-size", "4"}; }
};

const json kChat = {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"max_tokens", 5}};

TEST_F(Errors, MalformedJsonIs400) {
  expect_error(http_post(port(), "/v1/chat/completions", "{\"messages\": [}"), 400, "invalid_request_error");
  expect_error(http_post(port(), "/v1/completions", ""), 400, "invalid_request_error");
  expect_error(http_post(port(), "/v1/completions", "[1,2]"), 400, "invalid_request_error");
  expect_error(http_post(port(), "/tokenize", "nope"), 400, "invalid_request_error");
}

TEST_F(Errors, FieldsOfTheWrongTypeAre400) {
  const std::vector<std::pair<std::string, json>> bad = {
      {"temperature", "hot"}, {"top_p", json::array()}, {"top_k", 1.5}, {"min_p", "x"}, {"seed", "1"},
      {"max_tokens", -1},     {"max_tokens", "10"},     {"stop", 5},    {"stop", json::array({1})},
      {"stream", "yes"},      {"frequency_penalty", 9}, {"presence_penalty", "a"},
      {"repeat_penalty", json::object()}, {"n", 17}, {"messages", "hi"}, {"messages", json::array()},
      {"messages", json::array({1})}, {"messages", json::array({{{"content", "no role"}}})},
      {"messages", json::array({{{"role", "user"}, {"content", 5}}})}};
  for (auto& [k, v] : bad) {
    json b = kChat;
    b[k] = v;
    SCOPED_TRACE(k + " = " + v.dump());
    expect_error(http_post(port(), "/v1/chat/completions", b.dump()), 400, "invalid_request_error");
  }
  expect_error(http_post(port(), "/v1/chat/completions", "{}"), 400, "invalid_request_error");
  expect_error(http_post(port(), "/v1/completions", R"({"prompt": 5})"), 400, "invalid_request_error");
  expect_error(http_post(port(), "/v1/completions", R"({"prompt": [1, 99999]})"), 400, "invalid_request_error");
  expect_error(http_post(port(), "/detokenize", R"({"tokens": [-1]})"), 400, "invalid_request_error");
  expect_error(http_post(port(), "/detokenize", R"({"tokens": "a"})"), 400, "invalid_request_error");
  expect_error(http_post(port(), "/tokenize", R"({"content": 1})"), 400, "invalid_request_error");
}

TEST_F(Errors, UnknownRouteIs404) {
  expect_error(http_get(port(), "/v1/nothing"), 404, "not_found_error");
  expect_error(http_post(port(), "/v2/chat/completions", kChat.dump()), 404, "not_found_error");
}

TEST_F(Errors, BodyOverTheLimitIs413) {
  json b = kChat;
  b["messages"][0]["content"] = std::string(70000, 'a');
  expect_error(http_post(port(), "/v1/chat/completions", b.dump()), 413, "invalid_request_error");
}

TEST_F(Errors, PromptOverTheContextIs400) {
  json b = kChat;
  std::string text;
  for (int i = 0; i < 60; ++i) text += "The cat sat on the mat. ";
  b["messages"][0]["content"] = text;
  expect_error(http_post(port(), "/v1/chat/completions", b.dump()), 400, "exceed_context_size_error");
  json c = {{"prompt", text}, {"stream", true}};
  expect_error(http_post(port(), "/v1/completions", c.dump()), 400, "exceed_context_size_error");
}

TEST_F(Errors, ApiKeyIsRequiredWhenSet) {
  ServerProcess keyed({"--api-key", "sekret"});
  ASSERT_NE(keyed.port(), 0);
  expect_error(http_get(keyed.port(), "/v1/models"), 401, "authentication_error");
  expect_error(http_post(keyed.port(), "/v1/chat/completions", kChat.dump(), {{"Authorization", "Bearer wrong"}}), 401,
               "authentication_error");
  EXPECT_EQ(http_get(keyed.port(), "/v1/models", {{"Authorization", "Bearer sekret"}}).status, 200);
  EXPECT_EQ(http_post(keyed.port(), "/v1/chat/completions", kChat.dump(), {{"Authorization", "Bearer sekret"}}).status,
            200);
  EXPECT_EQ(http_get(keyed.port(), "/health").status, 200);  // health checks need no key
}

// One slot and no queue: while a long answer runs, another request gets 503.
// 64 clients connect at once, far more than httplib's own listen backlog (5):
// every one must get an answer (issue 7: with the small backlog, handshakes the
// kernel dropped left some clients with a lost request and no response).
TEST_F(Errors, FullQueueIs503) {
  ServerProcess small({"-np", "1", "--queue-size", "0", "-c", "512"});
  ASSERT_NE(small.port(), 0);
  std::atomic<int> ok{0}, busy{0}, other{0}, transport{0};
  std::vector<std::thread> clients;
  json long_req = {{"prompt", "Once upon a time"}, {"max_tokens", 400}, {"temperature", 1.5}, {"seed", 3},
                   {"min_p", 0}, {"top_k", 0}, {"top_p", 1}};
  for (int i = 0; i < 64; ++i)
    clients.emplace_back([&] {
      auto r = http_post(small.port(), "/v1/completions", long_req.dump());
      if (r.status == 200) ++ok;
      else if (r.status == 503 && r.json()["error"]["type"] == "unavailable_error" && r.json()["error"]["code"] == 503)
        ++busy;
      else if (r.status == 0)
        ++transport;
      else {
        ++other;
        ADD_FAILURE() << "unexpected answer " << r.status << ": " << r.body;
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_GE(ok.load(), 1);
  EXPECT_GE(busy.load(), 1);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(transport.load(), 0) << "connections lost without an answer";
  EXPECT_TRUE(wait_all_idle(small.port(), 1));
}

// 1,000 requests over loopback from 8 threads, a mix of valid (streamed and
// not) and malformed ones: each gets its expected status, and afterwards the
// server is healthy with every slot idle.
TEST_F(Errors, LoadTestLeavesNoLeakedSlots) {
  std::atomic<int> wrong{0};
  std::atomic<int> done{0};
  auto worker = [&](int t) {
    for (int i = t; i < 1000; i += 8) {
      int expected = 200;
      HttpResult r;
      json ok = {{"prompt", "Tim"}, {"max_tokens", 4}, {"temperature", 0.5}, {"seed", i}};
      switch (i % 8) {
        case 0: r = http_post(port(), "/v1/completions", ok.dump()); break;
        case 1: r = http_post(port(), "/v1/chat/completions", "{bad json"); expected = 400; break;
        case 2: {
          ok["stream"] = true;
          auto s = http_stream(port(), "/v1/completions", ok.dump(), i % 16 == 2 ? 1 : 0);
          r.status = s.status;
          if (!s.aborted && (s.events.empty() || s.events.back() != "[DONE]")) r.status = -1;
          break;
        }
        case 3: r = http_get(port(), "/nope"); expected = 404; break;
        case 4: r = http_post(port(), "/v1/completions", R"({"prompt":"a","max_tokens":"x"})"); expected = 400; break;
        case 5: r = http_get(port(), "/health"); break;
        case 6: r = http_post(port(), "/tokenize", R"({"content":"hello"})"); break;
        default: r = http_post(port(), "/v1/chat/completions", kChat.dump()); break;
      }
      // 503 is a legitimate answer for valid generations when the queue is full.
      const bool gen = i % 8 == 0 || i % 8 == 2 || i % 8 == 7;
      if (r.status != expected && !(gen && r.status == 503)) ++wrong;
      ++done;
    }
  };
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t) ts.emplace_back(worker, t);
  for (auto& t : ts) t.join();
  EXPECT_EQ(done.load(), 1000);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_TRUE(wait_all_idle(port(), 2));
  auto h = http_get(port(), "/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.json()["slots_busy"], 0);
}

}  // namespace
