// tools + tool_choice over HTTP on stories260K (its test template has no tool
// syntax: the Generic form). "required" and a named function are enforced by
// the grammar, so even this tiny model writes a call that parses and whose
// arguments validate; streamed deltas (argument fragments as they are
// generated) reassemble to the whole answer.
#include <gtest/gtest.h>

#include "server_process.h"
#include "support/test_support.h"

using nlohmann::json;
using namespace servertest;
namespace fs = std::filesystem;

namespace {

class Tools : public SharedServerTest<Tools> {
 public:
  static std::vector<std::string> flags() { return {"-np", "2", "-c", "2048"}; }
};

const json kWeatherTools = json::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
   "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12},
                  "unit": {"enum": ["c", "f"]}}, "required": ["city", "unit"]}}},
  {"type": "function", "function": {"name": "set_alarm", "parameters": {"type": "object",
   "properties": {"hour": {"type": "integer"}, "loud": {"type": "boolean"}}, "required": ["hour", "loud"]}}}])");

json body(const json& extra) {
  json b = {{"messages", {{{"role", "user"}, {"content", "What is the weather in Paris?"}}}},
            {"max_tokens", 120},
            {"tools", kWeatherTools}};
  b.update(extra);
  return b;
}

// The arguments validate against the function's parameters (the schemas above).
void expect_valid_call(const std::string& name, const std::string& arguments) {
  const json a = json::parse(arguments, nullptr, false);
  ASSERT_TRUE(a.is_object()) << arguments;
  if (name == "get_weather") {
    ASSERT_EQ(a.size(), 2u) << arguments;
    ASSERT_TRUE(a["city"].is_string()) << arguments;
    EXPECT_LE(a["city"].get<std::string>().size(), 12u * 4) << arguments;
    EXPECT_TRUE(a["unit"] == "c" || a["unit"] == "f") << arguments;
  } else {
    ASSERT_EQ(name, "set_alarm");
    ASSERT_EQ(a.size(), 2u) << arguments;
    EXPECT_TRUE(a["hour"].is_number_integer()) << arguments;
    EXPECT_TRUE(a["loud"].is_boolean()) << arguments;
  }
}

TEST_F(Tools, RequiredYieldsParseableCallsWhoseArgumentsValidate) {
  // One call each (parallel_tool_calls false), then up to kMaxParallelCalls (8) with room for them.
  for (const json& sampling : {json{{"temperature", 0}, {"parallel_tool_calls", false}},
                               json{{"temperature", 1.0}, {"seed", 1}, {"parallel_tool_calls", false}},
                               json{{"temperature", 1.0}, {"seed", 2}, {"parallel_tool_calls", false}},
                               json{{"temperature", 0}, {"max_tokens", 1000}}}) {
    json b = body({{"tool_choice", "required"}});
    b.update(sampling);
    auto r = http_post(port(), "/v1/chat/completions", b.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    const json choice = r.json()["choices"][0];
    ASSERT_EQ(choice["finish_reason"], "tool_calls") << choice.dump();
    const json& msg = choice["message"];
    EXPECT_TRUE(msg["content"].is_null()) << msg.dump();
    ASSERT_GE(msg["tool_calls"].size(), 1u) << msg.dump();
    if (sampling.contains("parallel_tool_calls")) {
      EXPECT_EQ(msg["tool_calls"].size(), 1u);
    }
    EXPECT_LE(msg["tool_calls"].size(), 8u);
    for (const json& call : msg["tool_calls"]) {
      EXPECT_TRUE(call["id"].get<std::string>().starts_with("call_")) << call.dump();
      EXPECT_EQ(call["type"], "function");
      ASSERT_TRUE(call["function"]["arguments"].is_string()) << call.dump();
      expect_valid_call(call["function"]["name"], call["function"]["arguments"]);
    }
  }
}

TEST_F(Tools, NamedFunctionIsTheOneCalled) {
  json b = body({{"tool_choice", {{"type", "function"}, {"function", {{"name", "set_alarm"}}}}}, {"temperature", 0},
                 {"parallel_tool_calls", false}});
  auto r = http_post(port(), "/v1/chat/completions", b.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const json calls = r.json()["choices"][0]["message"]["tool_calls"];
  ASSERT_GE(calls.size(), 1u) << r.body;
  for (const json& call : calls) {
    EXPECT_EQ(call["function"]["name"], "set_alarm");
    expect_valid_call("set_alarm", call["function"]["arguments"]);
  }
}

// One choice of a streamed answer put back together from its deltas.
struct Reassembled {
  json calls = json::array();  // [{id, type, function: {name, arguments}}]
  std::vector<int> fragments;   // non-empty argument deltas per call
  std::string content, finish;
};

// The choices of a stream; fails the test when a delta is not as OpenAI sends them.
std::vector<Reassembled> reassemble(const StreamResult& s, size_t n_choices) {
  std::vector<Reassembled> out(n_choices);
  for (const std::string& e : s.events) {
    if (e == "[DONE]") continue;
    const json c = json::parse(e);
    for (const json& ch : c["choices"]) {
      Reassembled& r = out.at(ch["index"].get<size_t>());
      if (!ch["finish_reason"].is_null()) r.finish = ch["finish_reason"];
      if (ch["delta"].contains("content") && ch["delta"]["content"].is_string()) r.content += ch["delta"]["content"];
      if (!ch["delta"].contains("tool_calls")) continue;
      for (const json& d : ch["delta"]["tool_calls"]) {
        const size_t i = d["index"];
        if (i == r.calls.size()) {
          // The first delta of a call: its id, type and name, arguments empty.
          EXPECT_TRUE(d.contains("id") && d["type"] == "function") << d.dump();
          EXPECT_EQ(d["function"]["arguments"], "") << d.dump();
          r.calls.push_back({{"id", d["id"]}, {"type", d["type"]}, {"function", {{"name", d["function"]["name"]}, {"arguments", ""}}}});
          r.fragments.push_back(0);
        } else if (i < r.calls.size()) {
          EXPECT_FALSE(d.contains("id") || d["function"].contains("name")) << "only the first delta names the call";
          const std::string piece = d["function"]["arguments"];
          r.calls[i]["function"]["arguments"] = r.calls[i]["function"]["arguments"].get<std::string>() + piece;
          r.fragments[i] += !piece.empty();
        } else {
          ADD_FAILURE() << "a delta of a call not started: " << d.dump();
        }
      }
    }
  }
  return out;
}

// A forced call of `b` streamed (greedy) reassembles to the whole answer, each
// call's arguments in several deltas, each of n choices on its own.
void expect_stream_equals_whole(int port, json b, size_t n = 1) {
  b["n"] = n;
  auto whole = http_post(port, "/v1/chat/completions", b.dump());
  ASSERT_EQ(whole.status, 200) << whole.body;
  b["stream"] = true;
  auto s = http_stream(port, "/v1/chat/completions", b.dump());
  ASSERT_EQ(s.status, 200);
  const std::vector<Reassembled> got = reassemble(s, n);
  for (size_t k = 0; k < n; ++k) {
    SCOPED_TRACE("choice " + std::to_string(k));
    const json w = whole.json()["choices"][k];
    EXPECT_EQ(got[k].finish, w["finish_reason"]);
    EXPECT_EQ(got[k].finish, "tool_calls");
    EXPECT_EQ(got[k].content, w["message"]["content"].is_null() ? "" : w["message"]["content"].get<std::string>());
    const json expected = w["message"]["tool_calls"];
    ASSERT_EQ(got[k].calls.size(), expected.size()) << s.events.size();
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(got[k].calls[i]["function"], expected[i]["function"]);
      EXPECT_TRUE(got[k].calls[i]["id"].get<std::string>().starts_with("call_"));
      // The arguments came as the model wrote them, in several deltas, not whole at the end.
      EXPECT_GE(got[k].fragments[i], 2) << got[k].calls[i].dump();
    }
  }
}

TEST_F(Tools, StreamedToolCallDeltasReassembleToTheWholeAnswer) {
  expect_stream_equals_whole(port(), body({{"tool_choice", "required"}, {"temperature", 0}, {"parallel_tool_calls", false}}));
  // Several calls, and two choices each with its own parser.
  expect_stream_equals_whole(port(), body({{"tool_choice", "required"}, {"temperature", 0}, {"max_tokens", 1000}}), 2);
}

// The families with their own syntax, on stories260K with the real templates (the
// grammar makes even this model write their calls): streamed equals whole.
TEST(ToolFamilies, StreamedCallsOfEachFamilyReassembleToTheWholeAnswer) {
  const fs::path models = testsupport::shared_data() / "models" / "stories260K";
  const fs::path dir = testsupport::temp_dir("tool-families");
  const fs::path mistral = dir / "mistral.jinja";  // no such template in the shared data: its marker suffices
  testsupport::write_file(mistral, "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}"
                                   "{% if false %}[TOOL_CALLS]{% endif %}");
  for (const fs::path& tmpl : {testsupport::shared_data() / "chat_templates" / "qwen2.5-7b-instruct.jinja",
                               testsupport::shared_data() / "chat_templates" / "llama-3.1-8b-instruct.jinja", mistral}) {
    SCOPED_TRACE(tmpl.filename().string());
    ServerProcess server({"-m", (models / "stories260K.bin").string(), "--tokenizer", (models / "tok512.bin").string(),
                          "--chat-template-file", tmpl.string()},
                         {"-np", "2", "-c", "2048"});
    ASSERT_NE(server.port(), 0);
    expect_stream_equals_whole(server.port(), body({{"tool_choice", "required"}, {"temperature", 0}, {"max_tokens", 1000}}), 2);
  }
}

TEST_F(Tools, AutoAndNoneAnswerInProseWhenTheModelWritesNoCall) {
  for (const char* choice : {"auto", "none"}) {
    auto r = http_post(port(), "/v1/chat/completions", body({{"tool_choice", choice}, {"temperature", 0}, {"max_tokens", 20}}).dump());
    ASSERT_EQ(r.status, 200) << r.body;
    const json c = r.json()["choices"][0];
    // stories260K was never taught the call form: it tells a story.
    EXPECT_NE(c["finish_reason"], "tool_calls") << choice;
    EXPECT_TRUE(c["message"]["content"].is_string()) << choice;
    EXPECT_FALSE(c["message"].contains("tool_calls")) << choice;
  }
}

// With "auto", an answer that cannot be a call streams as it comes, as without tools.
TEST_F(Tools, AutoStreamsProseAsItComes) {
  json b = body({{"tool_choice", "auto"}, {"temperature", 0}, {"max_tokens", 30}, {"logprobs", true}});
  auto whole = http_post(port(), "/v1/chat/completions", b.dump());
  ASSERT_EQ(whole.status, 200) << whole.body;
  const json w = whole.json()["choices"][0];
  ASSERT_FALSE(w["message"].contains("tool_calls")) << w.dump();
  b["stream"] = true;
  auto s = http_stream(port(), "/v1/chat/completions", b.dump());
  ASSERT_EQ(s.status, 200);
  std::string text;
  int content_chunks = 0;
  json lp = json::array();
  for (const std::string& e : s.events) {
    if (e == "[DONE]") continue;
    const json chunk = json::parse(e);
    for (const json& ch : chunk["choices"]) {
      if (ch["delta"].contains("content") && !ch["delta"]["content"].get<std::string>().empty()) {
        text += ch["delta"]["content"].get<std::string>();
        ++content_chunks;
      }
      if (ch["logprobs"].is_object())
        for (const json& t : ch["logprobs"]["content"]) lp.push_back(t);
    }
  }
  EXPECT_EQ(text, w["message"]["content"]);
  EXPECT_GT(content_chunks, 5) << "the prose was not streamed as it came";
  EXPECT_EQ(lp, w["logprobs"]["content"]);
}

TEST_F(Tools, CallsAndResultsInTheConversationAreAccepted) {
  json b = body({{"temperature", 0}, {"max_tokens", 8}});
  b["messages"] = json::parse(R"([
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
      "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\", \"unit\": \"c\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "21 C"}])");
  auto r = http_post(port(), "/v1/chat/completions", b.dump());
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(Tools, BadToolsAndChoicesAre400WithAMessage) {
  const std::vector<std::pair<json, std::string>> bad = {
      {{{"tools", json::object()}}, "'tools' must be an array"},
      {{{"tools", {{{"type", "function"}, {"function", {{"name", "a b"}}}}}}},
       "tools[0].function.name must be 1 to 64 characters of a-z, A-Z, 0-9, '_' and '-'"},
      {{{"tool_choice", "maybe"}},
       "'tool_choice' must be 'auto', 'none', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}"},
      {{{"tool_choice", {{"type", "function"}, {"function", {{"name", "fly"}}}}}},
       "'tool_choice' names the function 'fly', which is not in 'tools'"},
      {{{"tool_choice", "required"}, {"response_format", {{"type", "json_object"}}}},
       "'tool_choice' 'required' or a named function cannot be combined with 'grammar' or 'response_format'"},
      {{{"tools", {{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", {{"type", "object"},
         {"properties", {{"n", {{"type", "integer"}, {"minimum", 0}}}}}}}}}}}}, {"tool_choice", "required"}},
       "tools: function 'f': parameters: JSON schema: unsupported keyword 'minimum' at #/properties/n"},
      {{{"parallel_tool_calls", "yes"}}, "'parallel_tool_calls' must be a boolean"},
      {{{"messages", {{{"role", "assistant"}, {"tool_calls", {{{"function", {{"name", "f"}, {"arguments", 5}}}}}}}}}},
       "messages[0].tool_calls[0].function.arguments must be a string (JSON) or an object"},
      {{{"messages", {{{"role", "user"}, {"content", "x"}, {"tool_calls", json::array()}}}}},
       "messages[0]: only assistant messages carry tool_calls"},
  };
  for (auto& [extra, message] : bad) {
    auto r = http_post(port(), "/v1/chat/completions", body(extra).dump());
    EXPECT_EQ(r.status, 400) << extra.dump() << " " << r.body;
    EXPECT_EQ(r.json()["error"]["message"], message) << extra.dump();
  }
  json no_tools = body({{"tool_choice", "required"}});
  no_tools.erase("tools");
  auto r = http_post(port(), "/v1/chat/completions", no_tools.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["message"], "'tool_choice' needs 'tools'");
  EXPECT_TRUE(server_->alive());
}

}  // namespace
