// GBNF grammars as llama.cpp writes them (grammars/README.md there): rules
// `name ::= alternatives`, literals "..." , classes [a-z] [^...], `.`, groups,
// `*` `+` `?` `{m}` `{m,}` `{m,n}`, # comments. Parsing flattens repetitions and
// groups into extra rules, so the compiled form only has sequences of two kinds
// of element: a character class to match or a rule to expand.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pocketllm::grammar {

// A set of code points: sorted, merged ranges, possibly negated.
struct CharSet {
  std::vector<std::pair<uint32_t, uint32_t>> ranges;  // inclusive
  bool negated = false;
  bool matches(uint32_t cp) const;
  // Whether some code point in [lo, hi] matches (for a UTF-8 sequence cut mid-way).
  bool matches_any(uint32_t lo, uint32_t hi) const;
};

struct Elem {
  enum Kind : uint8_t { End, Ref, Chars };
  Kind kind = End;
  uint32_t index = 0;  // Ref: rule id; Chars: index into Grammar::sets
};

// A parsed grammar. All alternatives of all rules live in one array `code`, each
// ending with an End element; a position in the grammar is an offset into it.
struct Grammar {
  std::vector<Elem> code;
  std::vector<std::vector<uint32_t>> alts;  // rule id -> offsets of its alternatives
  std::vector<std::string> names;           // rule id -> name (generated ones: parent-N)
  std::vector<CharSet> sets;
  uint32_t root = 0;
};

// Parses GBNF text; the start rule is `root`. Errors (pocketllm::Error) name the
// line and column: syntax, undefined or missing rules, left recursion.
std::shared_ptr<const Grammar> parse_gbnf(std::string_view text, std::string_view root = "root");

}  // namespace pocketllm::grammar
