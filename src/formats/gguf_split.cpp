#include "formats/gguf_split.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <filesystem>
#include <set>

#include "core/error.h"

namespace pocketllm::gguf {

namespace {
constexpr int kMaxParts = 99999;  // five digits in the name

std::optional<int> five_digits(std::string_view s) {
  if (s.size() != 5) return std::nullopt;
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool iends_with(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i]) return false;
  return true;
}

int split_int(const File& f, const char* key, int64_t lo, int64_t hi) {
  auto v = f.get_int(key);
  if (!v) fail("{}: part of a split model without the key '{}'", f.path(), key);
  if (*v < lo || *v > hi) fail("{}: key '{}' is {}, outside {}..{}", f.path(), key, *v, lo, hi);
  return static_cast<int>(*v);
}
}  // namespace

std::optional<SplitName> parse_split_name(std::string_view path) {
  // PREFIX-NNNNN-of-NNNNN.gguf: 5 + 4 + 5 + 5 characters after the prefix's '-'.
  constexpr std::string_view kExt = ".gguf";
  if (!iends_with(path, kExt)) return std::nullopt;
  std::string_view stem = path.substr(0, path.size() - kExt.size());
  if (stem.size() < 16 || stem.substr(stem.size() - 9, 4) != "-of-" || stem[stem.size() - 15] != '-')
    return std::nullopt;
  auto no = five_digits(stem.substr(stem.size() - 14, 5));
  auto count = five_digits(stem.substr(stem.size() - 5));
  if (!no || !count || *no < 1 || *no > *count) return std::nullopt;
  return SplitName{std::string(stem.substr(0, stem.size() - 15)), *no, *count};
}

std::string split_name(const std::string& prefix, int no, int count) {
  return fmt::format("{}-{:05d}-of-{:05d}.gguf", prefix, no, count);
}

std::vector<std::unique_ptr<File>> open_split(const std::string& path, bool use_mmap) {
  std::vector<std::unique_ptr<File>> parts;
  parts.push_back(File::open(path, use_mmap));
  const File& first = *parts[0];
  if (!first.find(kSplitCountKey)) return parts;
  const int count = split_int(first, kSplitCountKey, 1, kMaxParts);
  const int no = split_int(first, kSplitNoKey, 0, count - 1);
  const auto name = parse_split_name(path);
  if (no != 0) {
    if (name && name->count == count)
      fail("{}: this is part {} of a split model of {} files; pass the first part, {}", path, no + 1, count,
           split_name(name->prefix, 1, count));
    fail("{}: this is part {} of a split model of {} files; pass the first part", path, no + 1, count);
  }
  if (count > 1 && (!name || name->no != 1 || name->count != count))
    fail("{}: the first part of a split model of {} files must be named PREFIX-00001-of-{:05d}.gguf to find the others",
         path, count, count);
  std::set<std::string> names;
  size_t n_tensors = 0;
  auto add_tensors = [&](const File& f) {
    for (auto& t : f.tensors())
      if (!names.insert(t.name).second) fail("{}: tensor '{}' is also in another part of the split model", f.path(), t.name);
    n_tensors += f.tensors().size();
  };
  add_tensors(first);
  for (int i = 2; i <= count; ++i) {
    const std::string p = split_name(name->prefix, i, count);
    std::error_code ec;
    if (!std::filesystem::exists(p, ec))
      fail("{}: part {} of the split model is missing: {} (download every -of-{:05d} file)", path, i, p, count);
    parts.push_back(File::open(p, use_mmap));
    const File& f = *parts.back();
    if (split_int(f, kSplitCountKey, 1, kMaxParts) != count || split_int(f, kSplitNoKey, 0, kMaxParts) != i - 1)
      fail("{}: split.no / split.count say part {} of {}, its name says part {} of {}", p, *f.get_int(kSplitNoKey) + 1,
           *f.get_int(kSplitCountKey), i, count);
    add_tensors(f);
  }
  if (auto declared = first.get_int(kSplitTensorsKey); declared && *declared != static_cast<int64_t>(n_tensors))
    fail("{}: split.tensors.count is {} but the {} parts hold {} tensors", path, *declared, count, n_tensors);
  return parts;
}

}  // namespace pocketllm::gguf
