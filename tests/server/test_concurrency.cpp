// Continuous batching: concurrent greedy streams get exactly the text of the
// same request sent alone; a client that hangs up mid-stream neither stalls
// the others nor keeps its slot.
#include <gtest/gtest.h>

#include <thread>

#include "server_process.h"

using nlohmann::json;
using namespace servertest;

namespace {

const std::vector<std::string> kPrompts = {
    "Once upon a time", "The little dog", "Lily wanted to", "Tom and Sue went", "One day, a bird",
    "There was a big", "Mom said", "The sun was"};

json greedy_chat(const std::string& user, bool stream) {
  return {{"messages", {{{"role", "user"}, {"content", user}}}},
          {"temperature", 0},
          {"max_tokens", 80},
          {"stream", stream}};
}

TEST(Concurrency, EightGreedyStreamsMatchTheSameRequestsAlone) {
  ServerProcess server({"-np", "4", "-c", "256"});
  ASSERT_NE(server.port(), 0);
  const int port = server.port();
  std::vector<std::string> alone;
  for (auto& p : kPrompts) {
    auto r = http_post(port, "/v1/chat/completions", greedy_chat(p, false).dump());
    ASSERT_EQ(r.status, 200) << r.body;
    alone.push_back(r.json()["choices"][0]["message"]["content"]);
  }
  // Twice: the second round meets slots whose caches hold other prompts.
  for (int round = 0; round < 2; ++round) {
    std::vector<StreamResult> got(kPrompts.size());
    std::vector<std::thread> ts;
    for (size_t i = 0; i < kPrompts.size(); ++i)
      ts.emplace_back([&, i] { got[i] = http_stream(port, "/v1/chat/completions", greedy_chat(kPrompts[i], true).dump()); });
    for (auto& t : ts) t.join();
    for (size_t i = 0; i < kPrompts.size(); ++i) {
      ASSERT_EQ(got[i].status, 200);
      ASSERT_FALSE(got[i].events.empty());
      EXPECT_EQ(got[i].events.back(), "[DONE]");
      EXPECT_EQ(stream_text(got[i]), alone[i]) << "prompt " << i << " round " << round;
    }
  }
  // The requests really were decoded together.
  auto slots = http_get(port, "/slots").json();
  EXPECT_GE(slots["max_batch_rows"].get<int>(), 2) << slots.dump();
  EXPECT_TRUE(wait_all_idle(port, 4));
}

TEST(Concurrency, ClientKilledMidStreamDoesNotStallOthers) {
  ServerProcess server({"-np", "2", "-c", "256"});
  ASSERT_NE(server.port(), 0);
  const int port = server.port();
  std::vector<std::string> alone;
  for (int i = 0; i < 4; ++i)
    alone.push_back(
        http_post(port, "/v1/chat/completions", greedy_chat(kPrompts[i], false).dump()).json()["choices"][0]["message"]["content"]);
  std::vector<StreamResult> got(4);
  std::vector<StreamResult> killed(3);
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&, i] { got[i] = http_stream(port, "/v1/chat/completions", greedy_chat(kPrompts[i], true).dump()); });
  for (int k = 0; k < 3; ++k)
    ts.emplace_back([&, k] {
      json b = greedy_chat(kPrompts[4 + k], true);
      b["max_tokens"] = 200;
      killed[k] = http_stream(port, "/v1/chat/completions", b.dump(), 1 + k);
    });
  for (auto& t : ts) t.join();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(got[i].status, 200);
    EXPECT_EQ(stream_text(got[i]), alone[i]) << "prompt " << i;
  }
  for (auto& k : killed) EXPECT_TRUE(k.aborted);
  EXPECT_TRUE(wait_all_idle(port, 2));
  // And the server still serves.
  auto again = http_post(port, "/v1/chat/completions", greedy_chat(kPrompts[0], false).dump());
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.json()["choices"][0]["message"]["content"], alone[0]);
}

}  // namespace
