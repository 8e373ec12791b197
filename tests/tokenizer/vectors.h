// Reads llama.cpp tokenizer test vectors: X.gguf.inp (strings separated by
// "\n__ggml_vocab_test__\n") and X.gguf.out (one line of ids per string).
#pragma once
#include <filesystem>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "support/test_support.h"

namespace tokvec {

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

inline std::vector<Case> read_vectors(const std::filesystem::path& inp) {
  std::string in = testsupport::read_file(inp);
  std::string out = testsupport::read_file(inp.string().substr(0, inp.string().size() - 4) + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  size_t pos = 0;
  for (size_t next; (next = in.find(sep, pos)) != std::string::npos; pos = next + sep.size())
    texts.push_back(in.substr(pos, next - pos));
  std::vector<Case> cases;
  std::istringstream lines(out);
  std::string line;
  for (const auto& t : texts) {
    if (!std::getline(lines, line)) break;
    Case c{t, {}};
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace tokvec
