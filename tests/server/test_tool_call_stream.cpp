// The incremental tool-call parser: for every family, every split of an answer
// into pieces (all 1- and 2-cut splits of short answers, random splits of long
// ones) gives the events whose concatenation is the whole-answer result
// (parse_tool_calls): the same content, calls, names and arguments; no event
// splits a UTF-8 sequence; arguments stream in fragments as they are written.
#include <gtest/gtest.h>

#include <random>

#include "server/tool_call_stream.h"

using nlohmann::ordered_json;
using namespace pocketllm::server;

namespace {

std::vector<ToolSpec> tools() {
  return parse_tools(ordered_json::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
     "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}}}}},
    {"type": "function", "function": {"name": "add", "parameters": {"type": "object",
     "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}}}])"));
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

struct Streamed {
  ParsedAnswer answer;
  int argument_events = 0;
  std::string problem;  // an event out of order, or text that splits UTF-8
};

Streamed stream(ToolFormat f, const std::vector<ToolSpec>& t, const std::vector<std::string_view>& pieces,
                bool check_utf8) {
  ToolCallStream s(f, t);
  Streamed r;
  int open = -1;  // the call whose arguments may come
  auto take = [&](const std::vector<ToolCallEvent>& events) {
    for (const ToolCallEvent& e : events) {
      if (check_utf8 && !valid_utf8(e.text)) r.problem = "an event splits UTF-8: '" + e.text + "'";
      switch (e.kind) {
        case ToolCallEvent::Content: r.answer.content += e.text; break;
        case ToolCallEvent::CallStart:
          if (open != -1 || e.call != static_cast<int>(r.answer.calls.size())) r.problem = "call start out of order";
          r.answer.calls.push_back({e.text, ""});
          open = e.call;
          break;
        case ToolCallEvent::Arguments:
          if (e.call != open) r.problem = "arguments of a call that is not open";
          else r.answer.calls[e.call].arguments += e.text;
          ++r.argument_events;
          break;
        case ToolCallEvent::CallEnd:
          if (e.call != open) r.problem = "end of a call that is not open";
          open = -1;
          break;
      }
    }
  };
  for (std::string_view p : pieces) take(s.feed(p));
  take(s.finish());
  if (open != -1) r.problem = "a call never ended";
  return r;
}

std::string describe(const ParsedAnswer& a) {
  std::string s = "content '" + a.content + "'";
  for (auto& c : a.calls) s += " | " + c.name + " " + c.arguments;
  return s;
}

void expect_same(const ParsedAnswer& whole, const Streamed& s, const std::string& where) {
  ASSERT_EQ(s.problem, "") << where;
  ASSERT_EQ(describe(s.answer), describe(whole)) << where;
}

// Every split with one or two cuts.
void check_all_splits(ToolFormat f, const std::string& text) {
  SCOPED_TRACE(std::string(tool_format_name(f)) + ": " + text);
  const auto t = tools();
  const ParsedAnswer whole = parse_tool_calls(f, text, t);
  const bool utf8 = valid_utf8(text);
  const std::string_view v = text;
  for (size_t i = 0; i <= v.size(); ++i) {
    expect_same(whole, stream(f, t, {v.substr(0, i), v.substr(i)}, utf8), "cut at " + std::to_string(i));
    if (::testing::Test::HasFatalFailure()) return;
    for (size_t j = i; j <= v.size(); ++j) {
      expect_same(whole, stream(f, t, {v.substr(0, i), v.substr(i, j - i), v.substr(j)}, utf8),
                  "cuts at " + std::to_string(i) + ", " + std::to_string(j));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

// Random splits into pieces of 1 to 6 bytes (tokens' sizes); also byte by byte.
void check_random_splits(ToolFormat f, const std::string& text, int rounds = 200) {
  SCOPED_TRACE(std::string(tool_format_name(f)) + ": " + text);
  const auto t = tools();
  const ParsedAnswer whole = parse_tool_calls(f, text, t);
  const bool utf8 = valid_utf8(text);
  std::mt19937 rng(7);
  for (int r = 0; r <= rounds; ++r) {
    std::vector<std::string_view> pieces;
    for (size_t p = 0; p < text.size();) {
      const size_t n = r == 0 ? 1 : std::uniform_int_distribution<size_t>(1, 6)(rng);
      pieces.push_back(std::string_view(text).substr(p, n));
      p += n;
    }
    expect_same(whole, stream(f, t, pieces, utf8), "round " + std::to_string(r));
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(ToolCallStream, WholeAnswersOfEachFamily) {
  const auto t = tools();
  auto a = parse_tool_calls(ToolFormat::Qwen,
                            "Let me see.\n<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}\n</tool_call>\n"
                            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>",
                            t);
  EXPECT_EQ(describe(a), R"(content 'Let me see.' | add {"a":1,"b":2} | get_weather {"city":"Oslo"})");
  a = parse_tool_calls(ToolFormat::Llama3, R"(<|python_tag|>{"parameters": {"a": 1}, "name": "add"})", t);
  EXPECT_EQ(describe(a), R"(content '' | add {"a":1})");  // arguments before the name
  a = parse_tool_calls(ToolFormat::Mistral, R"([TOOL_CALLS] [{"name": "add"}, {"name": "add", "arguments": null}])", t);
  EXPECT_EQ(describe(a), R"(content '' | add {} | add {})");
  a = parse_tool_calls(ToolFormat::Generic, R"({"tool_calls": [{"name": "add", "arguments": "{\"a\": 7}"}]})", t);
  EXPECT_EQ(describe(a), R"(content '' | add {"a":7})");
  // Strings keep their whitespace and escapes; whitespace outside them goes.
  a = parse_tool_calls(ToolFormat::Llama3, "{\"name\": \"get_weather\", \"parameters\": {\"city\" :\n \"New \\\"York\\\" \\u00e9\"}}", t);
  EXPECT_EQ(describe(a), R"(content '' | get_weather {"city":"New \"York\" \u00e9"})");
}

TEST(ToolCallStream, NotACallIsContentAsWritten) {
  const auto t = tools();
  for (auto [f, text] : std::vector<std::pair<ToolFormat, std::string>>{
           {ToolFormat::Qwen, "a <tool is no call <tool_"},
           {ToolFormat::Qwen, "<tool_call>\nnot json</tool_call>"},
           {ToolFormat::Qwen, "<tool_call>{\"name\": \"fly\", \"arguments\": {}}</tool_call>"},
           {ToolFormat::Qwen, "<tool_call>{\"name\": \"add\", \"arguments\": 5}</tool_call>"},
           {ToolFormat::Mistral, "[TOOL_CALLS] []"},
           {ToolFormat::Mistral, "[not json"},
           {ToolFormat::Mistral, "Sure: [{\"name\": \"add\", \"arguments\": {}}]"},
           {ToolFormat::Generic, " {\"answer\": 1} "},
           {ToolFormat::Generic, "{\"tool_calls\": []}"},
           {ToolFormat::Generic, "{\"name\": \"add\", \"arguments\": {}}"},
           {ToolFormat::Llama3, "<|python_tag|>print(1)"},
           {ToolFormat::Llama3, "{\"name\": \"add\", \"parameters\": [1]}"},
           {ToolFormat::Llama3, "{\"name\": \"add\", \"parameters\""},
           {ToolFormat::Llama3, "  It is sunny.\n"}}) {
    const auto a = parse_tool_calls(f, text, t);
    EXPECT_TRUE(a.calls.empty()) << text;
    EXPECT_EQ(a.content, text) << "an answer without calls is content byte for byte";
  }
}

TEST(ToolCallStream, SentCallsStandWhenTheTextBreaksAfterThem) {
  const auto t = tools();
  // Cut off inside the arguments (max_tokens): the call keeps what was written.
  auto a = parse_tool_calls(ToolFormat::Llama3, R"({"name": "add", "parameters": {"a": 1, )", t);
  EXPECT_EQ(describe(a), R"(content '' | add {"a":1,)");
  // Text after a call that cannot continue the calls is content.
  a = parse_tool_calls(ToolFormat::Llama3, R"({"name": "add", "parameters": {"a": 1}} and more)", t);
  EXPECT_EQ(describe(a), R"(content ' and more' | add {"a":1})");
  a = parse_tool_calls(ToolFormat::Mistral, R"([TOOL_CALLS][{"name": "add", "arguments": {}}, {"name": "fly"}])", t);
  EXPECT_EQ(describe(a), R"(content ', {"name": "fly"}]' | add {})");
  // Qwen: a missing closing tag is tolerated; a second, broken call is content.
  a = parse_tool_calls(ToolFormat::Qwen,
                       "<tool_call>{\"name\": \"add\", \"arguments\": {}}</tool_call> <tool_call>{\"name\": 1}", t);
  EXPECT_EQ(describe(a), R"(content ' <tool_call>{"name": 1}' | add {})");
}

TEST(ToolCallStream, EverySplitOfShortAnswers) {
  check_all_splits(ToolFormat::Qwen, "Hi <tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1}}\n</tool_call> ok");
  check_all_splits(ToolFormat::Qwen, "a <tool b<tool_call>{\"name\": \"fly\"}</tool_call>");
  check_all_splits(ToolFormat::Qwen, "é<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zü\"}}");
  check_all_splits(ToolFormat::Llama3, "<|python_tag|>{\"name\": \"add\", \"parameters\": {\"a\": [1, {}]}}");
  check_all_splits(ToolFormat::Llama3, " {\"parameters\": {\"b\": \"}\"}, \"name\": \"add\"} x");
  check_all_splits(ToolFormat::Llama3, "<|pyt {\"name\": \"add\"}");
  check_all_splits(ToolFormat::Mistral, "Ok [TOOL_CALLS][{\"name\": \"add\", \"arguments\": {\"a\": 1}}, {\"name\": \"add\"}]");
  check_all_splits(ToolFormat::Mistral, "[{\"name\": \"add\", \"arguments\": \"{\\\"a\\\": 2}\"}] [TOOL");
  check_all_splits(ToolFormat::Generic, " {\"tool_calls\": [{\"name\": \"add\", \"arguments\": {\"a\": 1}}]} ");
  check_all_splits(ToolFormat::Generic, "{\"tool_calls\": [{\"name\": \"add\", \"arguments\": {\"a\": 1,, }");
  check_all_splits(ToolFormat::Generic, "{\"tool\": 1} ☕ ok");
}

TEST(ToolCallStream, RandomSplitsOfLongAnswers) {
  const std::string qwen =
      "Je vérifie la météo ☀️ puis j'additionne.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
      "{\"city\": \"Zürich 🌧 \\\"centre\\\"\", \"unit\": \"c\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"add\", "
      "\"arguments\": {\"a\": 12, \"b\": -3}}\n</tool_call>\nVoilà <tool_c fin.";
  check_random_splits(ToolFormat::Qwen, qwen);
  check_random_splits(ToolFormat::Mistral,
                      "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"東京\", \"unit\": \"f\"}}, "
                      "{\"arguments\": {\"a\": 1, \"b\": 2}, \"name\": \"add\", \"extra\": [1, \"]\"]}]");
  check_random_splits(ToolFormat::Generic,
                      "{\"tool_calls\": [{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}, {\"name\": "
                      "\"get_weather\", \"arguments\": {\"city\": \"Saint-Étienne\", \"unit\": \"c\"}}]}");
  check_random_splits(ToolFormat::Llama3,
                      "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Reykjavík, \\u00cdsland\", \"unit\": \"c\"}}");
}

TEST(ToolCallStream, ArgumentsStreamAsTheyAreWritten) {
  const auto t = tools();
  const std::string text =
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"c\"}}\n</tool_call>";
  std::vector<std::string_view> pieces;
  for (size_t p = 0; p < text.size(); p += 3) pieces.push_back(std::string_view(text).substr(p, 3));
  const Streamed s = stream(ToolFormat::Qwen, t, pieces, true);
  EXPECT_EQ(s.problem, "");
  EXPECT_GE(s.argument_events, 8);
  EXPECT_EQ(describe(s.answer), R"(content '' | get_weather {"city":"Paris","unit":"c"})");
  // The call starts as soon as its arguments begin, before they end.
  ToolCallStream st(ToolFormat::Qwen, t);
  auto ev = st.feed("<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\"");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, ToolCallEvent::CallStart);
  EXPECT_EQ(ev[0].text, "add");
  EXPECT_EQ(ev[1].kind, ToolCallEvent::Arguments);
  EXPECT_EQ(ev[1].text, "{\"a\"");
  // Text that may begin the marker waits; once it cannot, it is content.
  ToolCallStream q(ToolFormat::Qwen, t);
  ev = q.feed("so <tool");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].text, "so");
  ev = q.feed("s");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].text, " <tools");
}

}  // namespace
