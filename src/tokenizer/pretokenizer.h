// Regex pre-tokenizer for byte-level BPE: a list of PCRE2 patterns (Unicode
// properties, JIT when available), applied in turn; each one splits every
// current piece into matches and the gaps between them (HF Split "Isolated").
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace pocketllm::tok {

class PreTokenizer {
 public:
  explicit PreTokenizer(const std::vector<std::string>& patterns);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;
  // Pieces of text, in order, covering it exactly.
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  struct Compiled;
  std::vector<Compiled*> compiled_;
};

// Patterns of a llama.cpp tokenizer.ggml.pre family; fails on an unknown name.
std::vector<std::string> pre_patterns_for(const std::string& pre_name);
// The GPT-2 ByteLevel regex (HF ByteLevel use_regex).
const std::string& gpt2_pattern();
// Name of the family whose patterns equal these, or "" when none does.
std::string pre_name_for(const std::vector<std::string>& patterns);

}  // namespace pocketllm::tok
