#include "hub/pull.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "hub/download.h"
#include "hub/file_selection.h"
#include "hub/hub_api.h"
#include "hub/http_client.h"
#include "hub/repo_cache.h"

namespace fs = std::filesystem;

namespace pocketllm::hub {

namespace {

std::string read_small_file(const fs::path& p) {
  std::FILE* f = std::fopen(p.c_str(), "rb");
  if (!f) fail("{}: cannot read", p.string());
  std::string s;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

PullResult result_for(const RepoCache& cache, const std::string& commit, const Selection& sel,
                      const std::vector<std::string>& files) {
  PullResult r;
  r.commit = commit;
  for (auto& f : files) r.files.push_back(cache.pointer(commit, f));
  r.model_path = sel.model_file.empty() ? cache.snapshot(commit) : cache.pointer(commit, sel.model_file);
  return r;
}

// The model from the cached snapshot of the revision; throws Error saying what is missing.
PullResult from_cache(const PullRequest& req, const RepoCache& cache) {
  const auto commit = cache.read_ref(req.revision);
  if (!commit) fail("{} is not in the cache ({})", req.ref.repo, cache.dir().string());
  const auto present = cache.snapshot_files(*commit);
  Selection sel = select_files(present, req.ref.repo, req.ref.quant, req.include);
  std::vector<std::string> files = sel.files;
  auto missing = [&](const std::string& f) { return !std::binary_search(present.begin(), present.end(), f); };
  if (sel.needs_index_shards && !missing("model.safetensors.index.json")) {
    const fs::path index = cache.pointer(*commit, "model.safetensors.index.json");
    for (auto& s : index_shards(read_small_file(index), index.string())) files.push_back(s);
  }
  for (auto& f : files)
    if (missing(f)) fail("the cached snapshot {} of {} lacks {}", *commit, req.ref.repo, f);
  return result_for(cache, *commit, sel, files);
}

PullResult from_hub(const PullRequest& req, const RepoListing& listing, const RepoCache& cache, HttpClient& http,
                    const std::atomic<bool>* cancel) {
  const Selection sel = select_files(listing.files, req.ref.repo, req.ref.quant, req.include);
  if (!sel.note.empty()) std::fprintf(stderr, "%s: %s\n", req.ref.str().c_str(), sel.note.c_str());
  tag_cache_dir(cache.root());
  FetchContext ctx{http, cache, req.revision, cancel};
  std::vector<std::string> files = sel.files;
  for (auto& f : sel.files) fetch_file(ctx, listing.commit, f);
  if (sel.needs_index_shards) {
    const fs::path index = cache.pointer(listing.commit, "model.safetensors.index.json");
    for (auto& shard : index_shards(read_small_file(index), req.ref.repo + "/model.safetensors.index.json")) {
      if (std::find(listing.files.begin(), listing.files.end(), shard) == listing.files.end())
        fail("{}: model.safetensors.index.json names {}, which the repo does not have", req.ref.repo, shard);
      fetch_file(ctx, listing.commit, shard);
      files.push_back(shard);
    }
  }
  // The ref moves only once the snapshot is complete, so a failed pull leaves the old one in use.
  cache.write_ref(req.revision, listing.commit);
  PullResult r = result_for(cache, listing.commit, sel, files);
  r.bytes_received = ctx.bytes_received;
  return r;
}

}  // namespace

PullResult pull(const PullRequest& req, const HubConfig& cfg, const std::atomic<bool>* cancel) {
  const RepoCache cache(cfg.cache_dir, req.ref.repo);
  if (cfg.offline) {
    try {
      PullResult r = from_cache(req, cache);
      r.from_cache = true;
      return r;
    } catch (const Error& e) {
      fail("HF_HUB_OFFLINE is set, so nothing is downloaded, and {}: {}. Unset HF_HUB_OFFLINE to download it",
           req.ref.str(), e.what());
    }
  }
  HttpClient http(cfg, cancel);
  RepoListing listing;
  try {
    listing = fetch_listing(http, req.ref.repo, req.revision);
  } catch (const NetworkError& e) {
    std::string why;
    try {
      PullResult r = from_cache(req, cache);
      std::fprintf(stderr, "warning: %s; using the cached snapshot %s of %s\n", e.what(), r.commit.c_str(),
                   req.ref.repo.c_str());
      r.from_cache = true;
      return r;
    } catch (const Interrupted&) {
      throw;
    } catch (const Error& c) {
      why = c.what();
    }
    throw NetworkError(fmt::format("{} ({} cannot be used: {}). Check the network connection, HTTPS_PROXY and "
                                   "HF_ENDPOINT ({}); HF_HUB_OFFLINE=1 uses only the cache",
                                   e.what(), req.ref.str(), why, cfg.endpoint));
  }
  return from_hub(req, listing, cache, http, cancel);
}

}  // namespace pocketllm::hub
