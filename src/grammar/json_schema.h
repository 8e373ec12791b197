// JSON Schema -> GBNF (grammar/grammar.h). Output that follows the grammar is
// JSON that validates against the schema: keywords that constrain values and
// cannot be expressed are errors naming the keyword, never skipped
// (docs/STRUCTURED.md lists what is supported).
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace pocketllm::grammar {

// The GBNF of values valid under `schema` (start rule `root`). Throws
// pocketllm::Error naming the unsupported keyword and where it is. Object
// properties come out in the order the schema holds them: parse the schema text
// as ordered_json to keep its declaration order (nlohmann::json sorts keys).
std::string json_schema_to_gbnf(const nlohmann::ordered_json& schema);
std::string json_schema_to_gbnf(const nlohmann::json& schema);  // keys in sorted order
// Any JSON object (OpenAI's response_format {"type": "json_object"}).
std::string json_object_gbnf();

}  // namespace pocketllm::grammar
