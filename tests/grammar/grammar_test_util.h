// Helpers for the grammar tests: brute-force token checks, random walks through
// a grammar, and validation of JSON texts against a schema with Python's jsonschema.
#pragma once
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/matcher.h"

namespace gtest_grammar {

// A small vocabulary: printable ASCII and \n one per token, some multi-character
// tokens, UTF-8 characters whole and split into bytes, a control token (empty
// bytes) and an end-of-generation token (the last id).
std::shared_ptr<const pocketllm::grammar::Vocab> small_vocab();

// Whether `text` is a prefix of some string of the grammar: checked by feeding it
// to a fresh matcher (no trie, no caches shared with the matcher under test).
bool viable_prefix(const std::shared_ptr<const pocketllm::grammar::Grammar>& g, const std::string& text);

// Walks the grammar with random allowed tokens of `vocab` until an end-of-generation
// token; checks every mask against viable_prefix for every token on the way (when
// `check_masks`). Returns the text, or "" with *ended = false if it did not end in max_steps.
std::string random_walk(const std::shared_ptr<const pocketllm::grammar::Grammar>& g,
                        const std::shared_ptr<const pocketllm::grammar::Vocab>& vocab, std::mt19937& rng,
                        int max_steps, bool check_masks, bool* ended);

// "" when every text parses as JSON and validates against the schema (jsonschema,
// draft 2020-12 with its format checker: date and uuid are checked; time and
// date-time only when rfc3339-validator is installed); else the validator's message. Sets *skipped when no
// Python with jsonschema is available.
std::string validate_json(const std::string& schema, const std::vector<std::string>& texts, bool* skipped);

}  // namespace gtest_grammar
