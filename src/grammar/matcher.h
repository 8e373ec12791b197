// Runs a grammar over generated text and says which tokens may come next.
//
// The state is a set of parse stacks (positions still to match, innermost on
// top), each expanded until a character class is on top; the empty stack means
// the grammar may end here. Sets of stacks are interned: a state is an id, and
// the transition on a code point is cached per state, so text the grammar has
// seen before (a JSON string's characters) costs a table lookup.
//
// Token masks walk a trie of the vocabulary's token bytes from the current
// state, dropping a whole subtree as soon as no stack survives; UTF-8 split
// across tokens is carried as a partial code point. Masks are cached per state.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammar/grammar.h"

namespace pocketllm::grammar {

// A vocabulary as the grammar sees it: each token's bytes (what it adds to the
// text), with end-of-generation tokens apart. Tokens with no bytes and not
// end-of-generation (control tokens) are never allowed. Build once per tokenizer.
class Vocab {
 public:
  Vocab(std::vector<std::string> bytes, std::vector<int32_t> eog_ids);
  int32_t n_tokens() const { return static_cast<int32_t>(bytes_.size()); }
  const std::string& bytes(int32_t id) const { return bytes_[static_cast<size_t>(id)]; }
  bool is_eog(int32_t id) const { return eog_[static_cast<size_t>(id)]; }
  const std::vector<int32_t>& eog_ids() const { return eog_ids_; }

  struct Node {
    uint32_t child_begin = 0, child_end = 0;  // children: nodes [child_begin, child_end), by byte
    uint32_t tok_begin = 0, tok_end = 0;      // tokens whose bytes end here: tokens_[tok_begin, tok_end)
    uint8_t byte = 0;
  };
  const std::vector<Node>& nodes() const { return nodes_; }  // nodes_[0] is the root (the empty prefix)
  const std::vector<int32_t>& trie_tokens() const { return tokens_; }

 private:
  std::vector<std::string> bytes_;
  std::vector<bool> eog_;
  std::vector<int32_t> eog_ids_;
  std::vector<Node> nodes_;
  std::vector<int32_t> tokens_;
};

class Matcher {
 public:
  Matcher(std::shared_ptr<const Grammar> g, std::shared_ptr<const Vocab> vocab);
  ~Matcher();

  // Feeds text (UTF-8, may end mid-character). Returns false, state unchanged, if the grammar rejects it.
  bool accept_bytes(std::string_view bytes);
  // Feeds one token: its bytes, or an end-of-generation token (allowed only when can_end()).
  bool accept_token(int32_t id);
  // Whether `id` may come next (without computing the whole mask).
  bool allows(int32_t id);
  // Bit i set when token i may come next (end-of-generation tokens included when can_end()).
  const std::vector<uint64_t>& mask();
  bool can_end() const;  // the text so far is a complete match
  bool finished() const;  // complete, and nothing more may follow
  void reset();

  size_t n_states() const;  // interned stack sets (for tests and tuning)

 private:
  struct Impl;
  std::unique_ptr<Impl> d_;
};

// Whether `text` (the whole of it) matches the grammar.
bool matches(const Grammar& g, std::string_view text);

}  // namespace pocketllm::grammar
