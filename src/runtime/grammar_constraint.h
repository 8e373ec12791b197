// Grammar constraints for a generation (GenerationLimits::grammar), from GBNF
// text or a JSON schema, over a tokenizer's vocabulary.
#pragma once
#include <memory>
#include <string>

#include "grammar/grammar.h"
#include "grammar/matcher.h"

namespace pocketllm {

class Tokenizer;

// What constrains the output; at most one of the fields is set.
struct GrammarSpec {
  std::string gbnf;         // GBNF text (start rule `root`)
  std::string json_schema;  // a JSON schema, as text
  bool json_object = false; // any JSON object
  bool empty() const { return gbnf.empty() && json_schema.empty() && !json_object; }
};

// Parses and converts the spec (pocketllm::Error on a bad grammar or schema);
// null when the spec is empty.
std::shared_ptr<const grammar::Grammar> compile_grammar(const GrammarSpec& spec);

// The vocabulary as the grammar sees it: each token's bytes, end-of-generation
// tokens apart, control tokens excluded. Built once per tokenizer and shared.
std::shared_ptr<const grammar::Vocab> grammar_vocab(const std::shared_ptr<const Tokenizer>& tok);

// A fresh matcher for one generation; null when g is null.
std::shared_ptr<grammar::Matcher> make_grammar_matcher(std::shared_ptr<const grammar::Grammar> g,
                                                       const std::shared_ptr<const Tokenizer>& tok);

}  // namespace pocketllm
