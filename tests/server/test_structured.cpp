// Structured output over HTTP: "grammar" and response_format (json_object,
// json_schema) on both endpoints, streamed and not; malformed ones are 400s.
#include <gtest/gtest.h>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "server_process.h"

using nlohmann::json;
using namespace servertest;
namespace gr = pocketllm::grammar;

namespace {

class Structured : public SharedServerTest<Structured> {
 public:
  static std::vector<std::string> flags() { return {"-np", "2", "-c", "512"}; }
};

// Properties not in sorted order: the answer keeps the schema's order.
const nlohmann::ordered_json kSchema = nlohmann::ordered_json::parse(R"({"type":"object","properties":{
  "size":{"enum":["small","big"]},"name":{"type":"string","maxLength":10},"legs":{"type":"integer"}},
  "required":["size","name","legs"]})");

json chat_body(const json& extra) {
  json b = {{"messages", {{{"role", "user"}, {"content", "Tell me about a cat."}}}}, {"max_tokens", 300}};
  if (extra.is_object()) b.update(extra);
  return b;
}

// The body as text with the ordered schema in it (json would sort its keys).
std::string with_schema(json body) {
  body["response_format"] = {{"type", "json_schema"},
                             {"json_schema", {{"name", "cat"}, {"schema", "@SCHEMA@"}, {"strict", true}}}};
  std::string text = body.dump();
  text.replace(text.find("\"@SCHEMA@\""), 10, kSchema.dump());
  return text;
}

TEST_F(Structured, ChatJsonSchemaOutputMatchesTheSchema) {
  auto g = gr::parse_gbnf(gr::json_schema_to_gbnf(kSchema));
  for (const json& sampling : {json{{"temperature", 0}}, json{{"temperature", 1.0}, {"seed", 1}},
                               json{{"temperature", 1.0}, {"seed", 2}}}) {
    json body = chat_body({});
    body.update(sampling);
    auto r = http_post(port(), "/v1/chat/completions", with_schema(body));
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string content = r.json()["choices"][0]["message"]["content"];
    EXPECT_EQ(r.json()["choices"][0]["finish_reason"], "stop") << content;
    json j = json::parse(content, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << content;
    EXPECT_TRUE(j["name"].is_string() && j["legs"].is_number_integer()) << content;
    EXPECT_TRUE(j["size"] == "small" || j["size"] == "big") << content;
    EXPECT_TRUE(gr::matches(*g, content)) << content;
    EXPECT_LT(content.find("\"size\""), content.find("\"name\"")) << content;
    EXPECT_LT(content.find("\"name\""), content.find("\"legs\"")) << content;
  }
}

TEST_F(Structured, StreamedAnswerIsTheSame) {
  const json body = chat_body({{"temperature", 0}, {"response_format", {{"type", "json_object"}}}});
  auto whole = http_post(port(), "/v1/chat/completions", body.dump());
  ASSERT_EQ(whole.status, 200) << whole.body;
  json streamed_body = body;
  streamed_body["stream"] = true;
  auto s = http_stream(port(), "/v1/chat/completions", streamed_body.dump());
  ASSERT_EQ(s.status, 200);
  const std::string content = whole.json()["choices"][0]["message"]["content"];
  EXPECT_EQ(stream_text(s), content);
  // Strings are unbounded in json_object mode: a cut-off answer is a prefix of an object.
  auto g = gr::parse_gbnf(gr::json_object_gbnf());
  if (whole.json()["choices"][0]["finish_reason"] == "stop") {
    EXPECT_TRUE(json::parse(content, nullptr, false).is_object()) << content;
  } else {
    gr::Matcher m(g, nullptr);
    EXPECT_TRUE(m.accept_bytes(content)) << content;
  }
}

TEST_F(Structured, CompletionsWithGrammar) {
  const std::string gbnf = "root ::= \" \"? (\"red\" | \"blue\") \" \" [a-z]{1,8} \".\"";
  auto g = gr::parse_gbnf(gbnf);
  for (int seed = 1; seed <= 3; ++seed) {
    const json body = {{"prompt", "The ball was"}, {"max_tokens", 100}, {"grammar", gbnf}, {"seed", seed}};
    auto r = http_post(port(), "/v1/completions", body.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string text = r.json()["choices"][0]["text"];
    EXPECT_TRUE(gr::matches(*g, text)) << text;
  }
}

TEST_F(Structured, MalformedGrammarsAndFormatsAre400) {
  const std::vector<std::pair<json, std::string>> bad = {
      {{{"grammar", "root ::= [a-"}}, "grammar: line 1, column 10: unterminated character class"},
      {{{"grammar", 5}}, "'grammar' must be a string (a GBNF grammar)"},
      {{{"response_format", "json"}}, "'response_format' must be an object"},
      {{{"response_format", {{"type", "xml"}}}}, "'response_format.type' must be 'text', 'json_object' or 'json_schema'"},
      {{{"response_format", {{"type", "json_schema"}}}}, "'response_format.json_schema' must be an object"},
      {{{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "x"}}}}}},
       "'response_format.json_schema.schema' is required"},
      {{{"response_format",
         {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema", {{"type", "string"}, {"pattern", "a"}}}}}}}},
       "JSON schema: unsupported keyword 'pattern' at #"},
      {{{"response_format", {{"type", "json_schema"}, {"json_schema", {{"schema", {{"type", "integer"}}}, {"strict", "yes"}}}}}},
       "'response_format.json_schema.strict' must be a boolean"},
      {{{"grammar", "root ::= \"a\""}, {"response_format", {{"type", "json_object"}}}},
       "give 'grammar' or 'response_format', not both"},
  };
  for (auto& [extra, message] : bad) {
    for (const char* path : {"/v1/chat/completions", "/v1/completions"}) {
      json body = std::string(path) == "/v1/completions" ? json{{"prompt", "Hi"}, {"max_tokens", 5}} : chat_body({});
      body.update(extra);
      auto r = http_post(port(), path, body.dump());
      EXPECT_EQ(r.status, 400) << path << " " << r.body;
      EXPECT_EQ(r.json()["error"]["message"], message) << path << " " << r.body;
    }
  }
  // "text" is plain output.
  auto r = http_post(port(), "/v1/completions",
                     json{{"prompt", "Hi"}, {"max_tokens", 3}, {"response_format", {{"type", "text"}}}}.dump());
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace
