// `pocketllm list` and `pocketllm rm`: the models in the shared Hugging Face cache,
// and removing one (its snapshot entries, and the blobs no other entry links to).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "hub/pull.h"

namespace pocketllm::hub {

struct CachedFile {
  std::string repo, commit, file;
  std::vector<std::string> refs;  // revisions pointing at the commit ("main")
  uint64_t size = 0;
  std::string kind;  // "gguf", "gguf part 1/3", "safetensors", "config", "tokenizer", "partial download", ...
};

// Every file of every model snapshot under the cache folder (sorted by repo, commit,
// file), plus one "partial download" entry per .incomplete blob.
std::vector<CachedFile> list_cache(const std::filesystem::path& cache_dir);

struct RemoveReport {
  std::vector<std::string> entries;  // "commit/file" removed
  size_t blobs = 0;
  uint64_t bytes = 0;
  bool whole_repo = false;
};

// Without :QUANT or include: the whole repo folder. With them: the matching entries
// of every snapshot, then the blobs they linked that nothing else links to. A blob
// another process is downloading (its lock is held) is left alone.
RemoveReport remove_from_cache(const std::filesystem::path& cache_dir, const PullRequest& what);

}  // namespace pocketllm::hub
