#include "runtime/grammar_constraint.h"

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "grammar/json_schema.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm {

std::shared_ptr<const grammar::Grammar> compile_grammar(const GrammarSpec& spec) {
  const int n = !spec.gbnf.empty() + !spec.json_schema.empty() + spec.json_object;
  if (n == 0) return nullptr;
  if (n > 1) fail("give one of a grammar, a JSON schema or JSON-object mode, not several");
  if (!spec.gbnf.empty()) return grammar::parse_gbnf(spec.gbnf);
  if (spec.json_object) return grammar::parse_gbnf(grammar::json_object_gbnf());
  nlohmann::ordered_json schema;  // ordered: properties are written in declaration order
  try {
    schema = nlohmann::ordered_json::parse(spec.json_schema);
  } catch (const nlohmann::json::exception& e) {
    fail("JSON schema: not valid JSON: {}", e.what());
  }
  return grammar::parse_gbnf(grammar::json_schema_to_gbnf(schema));
}

std::shared_ptr<const grammar::Vocab> grammar_vocab(const std::shared_ptr<const Tokenizer>& tok) {
  if (!tok) fail("a grammar needs the model's tokenizer");
  // Weak owners: an entry is reused only while its tokenizer is alive (no stale pointer match).
  static std::mutex mu;
  static std::map<const Tokenizer*, std::pair<std::weak_ptr<const Tokenizer>, std::shared_ptr<const grammar::Vocab>>> cache;
  std::lock_guard lock(mu);
  for (auto it = cache.begin(); it != cache.end();) it = it->second.first.expired() ? cache.erase(it) : std::next(it);
  if (auto it = cache.find(tok.get()); it != cache.end()) return it->second.second;
  std::vector<std::string> bytes(static_cast<size_t>(tok->n_vocab()));
  std::vector<int32_t> eog;
  for (int32_t id = 0; id < tok->n_vocab(); ++id) {
    if (tok->is_eog(id)) {
      eog.push_back(id);
    } else if (!tok->is_special(id)) {
      // Raw bytes as they join the text (SentencePiece's leading space kept: the
      // grammar sees the text as the model writes it).
      bytes[static_cast<size_t>(id)] = tok->decode_piece(-1, id);
    }
  }
  auto v = std::make_shared<const grammar::Vocab>(std::move(bytes), std::move(eog));
  cache[tok.get()] = {tok, v};
  return v;
}

std::shared_ptr<grammar::Matcher> make_grammar_matcher(std::shared_ptr<const grammar::Grammar> g,
                                                       const std::shared_ptr<const Tokenizer>& tok) {
  if (!g) return nullptr;
  return std::make_shared<grammar::Matcher>(std::move(g), grammar_vocab(tok));
}

}  // namespace pocketllm
