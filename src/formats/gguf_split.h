// Split GGUF models as llama.cpp writes them (gguf-split, convert_hf_to_gguf.py
// --split-max-*): NAME-00001-of-0000N.gguf ... NAME-0000N-of-0000N.gguf, each a
// complete GGUF file holding a subset of the tensors. The first part carries the
// model's metadata; every part carries split.no (0-based), split.count and
// split.tensors.count (the tensors of all parts together).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "formats/gguf.h"

namespace pocketllm::gguf {

inline constexpr const char* kSplitNoKey = "split.no";
inline constexpr const char* kSplitCountKey = "split.count";
inline constexpr const char* kSplitTensorsKey = "split.tensors.count";

struct SplitName {
  std::string prefix;  // everything before "-NNNNN-of-NNNNN.gguf" (folders included)
  int no = 0;          // 1-based, as in the name
  int count = 0;
};

// "dir/m-00002-of-00003.gguf" -> {"dir/m", 2, 3}; nullopt for any other name
// (case-insensitive extension; no is 1..count).
std::optional<SplitName> parse_split_name(std::string_view path);
// The name of part `no` (1-based) of `count`: PREFIX-0000no-of-0000count.gguf.
std::string split_name(const std::string& prefix, int no, int count);

// Opens a model file and, when it is the first part of a split model, every other
// part, checking that they belong together (split.no, split.count, no tensor
// twice, split.tensors.count). A file without split.count comes back alone.
std::vector<std::unique_ptr<File>> open_split(const std::string& path, bool use_mmap = true);

}  // namespace pocketllm::gguf
