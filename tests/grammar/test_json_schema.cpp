// JSON Schema -> grammar: text generated from each schema's grammar validates
// against the schema (Python's jsonschema), and unsupported keywords are errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "grammar/grammar.h"
#include "grammar/grammar_test_util.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"

using namespace pocketllm::grammar;
using namespace gtest_grammar;
using nlohmann::json;

namespace {

std::shared_ptr<const Grammar> schema_grammar(const std::string& schema) {
  return parse_gbnf(json_schema_to_gbnf(nlohmann::ordered_json::parse(schema)));
}

std::string schema_error(const std::string& schema) {
  try {
    schema_grammar(schema);
  } catch (const pocketllm::Error& e) {
    return e.what();
  }
  return "(converted)";
}

const std::vector<std::string> kSchemas = {
    R"({"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":10},
        "age":{"type":"integer"},"ok":{"type":"boolean"}},"required":["name","age"],"additionalProperties":false})",
    R"({"type":"object","properties":{"a":{"type":"number"},"b":{"type":"null"},"c":{"type":["string","integer"]}}})",
    R"({"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":4})",
    R"({"type":"array","items":{"enum":["red","green",3,null,{"x":[1]}]},"maxItems":3})",
    R"({"type":"object","properties":{"kind":{"const":"point"},"xy":{"type":"array","items":{"type":"number"},
        "minItems":2,"maxItems":2}},"required":["kind","xy"]})",
    R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},
        "next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["v","next"]}},
        "$ref":"#/$defs/node"})",
    R"({"definitions":{"id":{"type":"string","format":"uuid"}},"type":"object",
        "properties":{"id":{"$ref":"#/definitions/id"},"when":{"type":"string","format":"date-time"},
        "day":{"type":"string","format":"date"},"at":{"type":"string","format":"time"}},
        "required":["id","when","day","at"]})",
    R"({"oneOf":[{"type":"object","properties":{"cat":{"type":"string","maxLength":3}},"required":["cat"]},
        {"type":"array","maxItems":1}]})",
    R"({"type":"object","additionalProperties":{"type":"integer"}})",
    R"({"type":"object","properties":{"inner":{"type":"object","properties":{"deep":{"type":"object",
        "properties":{"z":{"type":"boolean"}},"required":["z"]}},"required":["deep"]}},"required":["inner"],
        "title":"nested","description":"annotations are fine"})",
    R"({"allOf":[{"type":"string","maxLength":2}]})",
    R"({})",
    R"({"type":"object","properties":{"o1":{"type":"integer"},"r":{"type":"integer"},"o2":{"type":"integer"}},
        "required":["r"]})",
};

TEST(JsonSchema, GeneratedTextValidates) {
  auto vocab = small_vocab();
  std::mt19937 rng(3);
  bool any_skipped = false;
  for (const auto& schema : kSchemas) {
    SCOPED_TRACE(schema);
    std::shared_ptr<const Grammar> g;
    ASSERT_NO_THROW(g = schema_grammar(schema));
    std::vector<std::string> texts;
    for (int i = 0; i < 40 && texts.size() < 12; ++i) {
      bool ended = false;
      std::string t = random_walk(g, vocab, rng, 300, false, &ended);
      if (ended) texts.push_back(t);
    }
    ASSERT_GE(texts.size(), 4u) << "few walks ended";
    bool skipped = false;
    EXPECT_EQ(validate_json(schema, texts, &skipped), "");
    any_skipped |= skipped;
  }
  if (any_skipped) GTEST_SKIP() << "no Python with jsonschema (scripts/venv.sh): texts generated but not validated";
}

TEST(JsonSchema, GrammarRejectsInvalidInstances) {
  auto g = schema_grammar(kSchemas[0]);
  EXPECT_TRUE(matches(*g, R"({"name": "Al", "age": 3})"));
  EXPECT_TRUE(matches(*g, R"({"name":"Al","age":-3,"ok":true})"));
  EXPECT_FALSE(matches(*g, R"({"age": 3, "name": "Al"})"));   // declaration order, not sorted
  EXPECT_FALSE(matches(*g, R"({"name": "Al"})"));             // age is required
  EXPECT_FALSE(matches(*g, R"({"name": "", "age": 3})"));     // minLength 1
  EXPECT_FALSE(matches(*g, R"({"name": "abcdefghijk", "age": 3})"));  // maxLength 10
  EXPECT_FALSE(matches(*g, R"({"name": "Al", "age": 3.5})"));
  EXPECT_FALSE(matches(*g, R"({"name": "Al", "age": 3, "x": 1})"));
  auto arr = schema_grammar(kSchemas[2]);
  EXPECT_FALSE(matches(*arr, "[1]"));
  EXPECT_TRUE(matches(*arr, "[1, 2]"));
  EXPECT_FALSE(matches(*arr, "[1,2,3,4,5]"));
  auto opt = schema_grammar(kSchemas.back());
  for (const char* ok : {R"({"r":1})", R"({"o1":1,"r":2})", R"({"r":1,"o2":2})", R"({"o1":1,"r":2,"o2":3})"})
    EXPECT_TRUE(matches(*opt, ok)) << ok;
  for (const char* bad : {R"({})", R"({"o1":1})", R"({,"r":1})", R"({"r":1,})", R"({"o1":1,"o2":2})"})
    EXPECT_FALSE(matches(*opt, bad)) << bad;
}

TEST(JsonSchema, JsonObjectMode) {
  auto g = parse_gbnf(json_object_gbnf());
  EXPECT_TRUE(matches(*g, R"({"a": [1, {"b": null}]})"));
  EXPECT_FALSE(matches(*g, "[1]"));
  EXPECT_FALSE(matches(*g, "\"text\""));
}

TEST(JsonSchema, UnsupportedKeywordsAreNamed) {
  EXPECT_EQ(schema_error(R"({"type":"string","pattern":"^a+$"})"), "JSON schema: unsupported keyword 'pattern' at #");
  EXPECT_EQ(schema_error(R"({"type":"object","properties":{"n":{"type":"number","minimum":0}}})"),
            "JSON schema: unsupported keyword 'minimum' at #/properties/n");
  EXPECT_EQ(schema_error(R"({"type":"array","items":{"type":"integer"},"uniqueItems":true})"),
            "JSON schema: unsupported keyword 'uniqueItems' at #");
  EXPECT_EQ(schema_error(R"({"type":"string","format":"email"})"),
            "JSON schema: unsupported keyword 'format' at # ('email': supported are date, time, date-time, uuid)");
  EXPECT_EQ(schema_error(R"({"allOf":[{"type":"string"},{"maxLength":3}]})"),
            "JSON schema: unsupported keyword 'allOf' at # (only a single subschema is supported)");
  EXPECT_EQ(schema_error(R"({"type":"object","patternProperties":{"^x":{}}})"),
            "JSON schema: unsupported keyword 'patternProperties' at #");
  EXPECT_EQ(schema_error(R"({"type":"integer","maxLength":3})"), "JSON schema: unsupported keyword 'maxLength' at #");
  EXPECT_EQ(schema_error(R"({"not":{"type":"string"}})"), "JSON schema: unsupported keyword 'not' at #");
  EXPECT_EQ(schema_error(R"({"$ref":"#/$defs/missing"})"), "JSON schema: $ref '#/$defs/missing' points to nothing at #");
  EXPECT_EQ(schema_error(R"({"$ref":"http://example.com/s.json"})"),
            "JSON schema: $ref 'http://example.com/s.json' is not a local '#/$defs/...' or '#/definitions/...' "
            "reference at #");
  EXPECT_EQ(schema_error(R"({"type":"strin"})"), "JSON schema: unknown type 'strin' at #");
  EXPECT_EQ(schema_error(R"({"type":"object","properties":{"a":{}},"required":["b"]})"),
            "JSON schema: unsupported keyword 'required' at # ('b' is not in properties)");
  EXPECT_EQ(schema_error(R"({"type":"array","minItems":3,"maxItems":1})"), "JSON schema: maxItems is below minItems at #");
  EXPECT_EQ(schema_error(R"([1])"), "JSON schema: a schema must be an object or a boolean at #");
}

}  // namespace
