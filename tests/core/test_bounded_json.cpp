// JSON from outside is parsed with a bound on nesting depth, checked while
// parsing, so a hostile input never builds a value deep enough to overflow the
// stack of the code that copies or walks it.
#include <gtest/gtest.h>

#include <chrono>

#include "core/bounded_json.h"

using namespace pocketllm;
using nlohmann::json;

namespace {

std::string nested(int depth, const std::string& inner = "1") {
  return std::string(depth, '[') + inner + std::string(depth, ']');
}

TEST(BoundedJson, DepthUpToTheBoundParses) {
  const json j = parse_json_bounded(nested(kMaxJsonDepth), "x");
  EXPECT_TRUE(j.is_array());
  const json copy = j;  // copying recurses once per level: fine at this depth
  EXPECT_EQ(copy, j);
  EXPECT_EQ(parse_json_bounded(R"({"a":{"b":[1,{"c":null}]}})", "x")["a"]["b"][1]["c"], nullptr);
}

TEST(BoundedJson, DeeperIsRejectedWithTheSource) {
  try {
    parse_json_bounded(nested(kMaxJsonDepth + 1), "body.json");
    FAIL() << "no error";
  } catch (const JsonTooDeep& e) {
    EXPECT_STREQ(e.what(), "body.json: JSON nested deeper than 128 levels");
  }
  std::string objects;
  for (int i = 0; i <= kMaxJsonDepth; ++i) objects += "{\"k\":";
  EXPECT_THROW(parse_json_bounded(objects + "1" + std::string(kMaxJsonDepth + 1, '}'), "x"), JsonTooDeep);
}

TEST(BoundedJson, MillionDeepFailsFastWithoutCrashing) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(parse_json_bounded(nested(1000000), "x"), JsonTooDeep);
  EXPECT_THROW(parse_json_bounded<nlohmann::ordered_json>(std::string(1000000, '['), "x"), JsonTooDeep);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
}

TEST(BoundedJson, SyntaxErrorsStayNlohmannErrorsAndInnerCallbacksRun) {
  EXPECT_THROW(parse_json_bounded("[1,", "x"), json::parse_error);
  int values = 0;
  const json j = parse_json_bounded(R"([1,2,{"a":3}])", "x", [&](int, json::parse_event_t ev, json&) {
    values += ev == json::parse_event_t::value;
    return true;
  });
  EXPECT_EQ(values, 3);
  EXPECT_EQ(j.size(), 3u);
}

}  // namespace
