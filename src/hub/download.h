// Fetches one file of a repo commit into the cache: HEAD for its ETag, then the
// content into blobs/<etag>.incomplete (resumed with a Range request from its
// size, also after a cut connection), checked against its sha256 / git blob
// SHA-1, renamed to blobs/<etag> and linked from snapshots/<commit>/<file>.
// A file already in the snapshot costs no request; a blob another revision
// brought only gets a new link.
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>

#include "hub/http_client.h"
#include "hub/repo_cache.h"

namespace pocketllm::hub {

struct FetchContext {
  HttpClient& http;
  const RepoCache& cache;
  std::string revision;  // the name the commit was listed under
  const std::atomic<bool>* cancel = nullptr;
  uint64_t bytes_received = 0;  // file content transferred (not counting what was on disk)
};

// Returns the file's path in the snapshot. Errors: the Hub's (hub_errors.h); a
// checksum mismatch (the download is deleted); disk full (the partial file is
// kept under its .incomplete name); a NetworkError after repeated cuts;
// Interrupted (the partial file is kept).
std::filesystem::path fetch_file(FetchContext& ctx, const std::string& commit, const std::string& file);

}  // namespace pocketllm::hub
