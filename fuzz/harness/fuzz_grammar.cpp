// GBNF grammars and JSON Schemas as a request brings them ("grammar", response_format):
// input = grammar or schema, a NUL byte, then text to match. Parse errors are Error;
// a schema that converts must give a grammar that parses (an Error there escapes: a bug).
#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "grammar/grammar.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const std::string spec = in.substr(0, nul);
  const std::string text = nul == std::string::npos ? "" : in.substr(nul + 1);
  std::string gbnf = spec;
  if (!spec.empty() && spec[0] == '{') {
    const auto schema = nlohmann::ordered_json::parse(spec, nullptr, false);
    if (schema.is_discarded()) return 0;
    try {
      gbnf = pocketllm::grammar::json_schema_to_gbnf(schema);
    } catch (const pocketllm::Error&) {
      return 0;  // an unsupported or malformed schema
    }
    (void)pocketllm::grammar::matches(*pocketllm::grammar::parse_gbnf(gbnf), text);
    return 0;
  }
  fuzzutil::expect_clean([&] { (void)pocketllm::grammar::matches(*pocketllm::grammar::parse_gbnf(gbnf), text); });
  return 0;
}
