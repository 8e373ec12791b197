#include "hub/cache_admin.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>

#include "core/error.h"
#include "formats/gguf_split.h"
#include "hub/file_lock.h"
#include "hub/file_selection.h"
#include "hub/repo_cache.h"

namespace fs = std::filesystem;

namespace pocketllm::hub {

namespace {

std::string kind_of(const std::string& file) {
  const std::string name = fs::path(file).filename().string();
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.ends_with(".gguf")) {
    if (auto sp = gguf::parse_split_name(lower); sp && sp->count > 1)
      return "gguf part " + std::to_string(sp->no) + "/" + std::to_string(sp->count);
    return lower.find("mmproj") != std::string::npos ? "gguf projector" : "gguf";
  }
  if (lower.ends_with(".safetensors")) return "safetensors";
  if (lower == "model.safetensors.index.json") return "safetensors index";
  if (lower == "config.json" || lower == "generation_config.json") return "config";
  if (lower.starts_with("tokenizer") || lower == "special_tokens_map.json" || lower == "chat_template.jinja")
    return "tokenizer";
  return "other";
}

uint64_t size_or_zero(const fs::path& p) {
  std::error_code ec;
  const auto s = fs::file_size(p, ec);
  return ec ? 0 : s;
}

// The blob a snapshot entry links to ("" when it is a plain file or points elsewhere).
std::string linked_blob(const RepoCache& cache, const fs::path& entry) {
  std::error_code ec;
  if (!fs::is_symlink(entry, ec)) return "";
  const fs::path target = (entry.parent_path() / fs::read_symlink(entry, ec)).lexically_normal();
  if (ec || target.parent_path() != (cache.dir() / "blobs").lexically_normal()) return "";
  return target.filename().string();
}

std::map<std::string, std::vector<std::string>> refs_by_commit(const RepoCache& cache) {
  std::map<std::string, std::vector<std::string>> out;
  std::error_code ec;
  const fs::path refs = cache.dir() / "refs";
  for (auto it = fs::recursive_directory_iterator(refs, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string rev = it->path().lexically_relative(refs).generic_string();
    try {
      if (auto c = cache.read_ref(rev)) out[*c].push_back(rev);
    } catch (const Error&) {  // a ref that is not a plain commit: not ours to judge here
    }
  }
  return out;
}

std::vector<std::string> cached_repos(const fs::path& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(root, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory(ec) || !name.starts_with("models--")) continue;
    std::string repo = name.substr(8);
    for (size_t p; (p = repo.find("--")) != std::string::npos;) repo.replace(p, 2, "/");
    out.push_back(repo);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void remove_empty_dirs(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> dirs;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_directory(ec) && !it->is_symlink(ec)) dirs.push_back(it->path());
  std::sort(dirs.rbegin(), dirs.rend());  // children before parents
  for (auto& d : dirs) fs::remove(d, ec);  // fails (harmlessly) when not empty
  fs::remove(dir, ec);
}

bool any_lock_held(const fs::path& locks_dir) {
  std::error_code ec;
  for (auto& e : fs::directory_iterator(locks_dir, ec))
    if (!FileLock::try_lock(e.path()).held()) return true;
  return false;
}

}  // namespace

std::vector<CachedFile> list_cache(const fs::path& cache_dir) {
  std::vector<CachedFile> out;
  for (const auto& repo : cached_repos(cache_dir)) {
    const RepoCache cache(cache_dir, repo);
    const auto refs = refs_by_commit(cache);
    for (const auto& commit : cache.snapshots()) {
      for (const auto& f : cache.snapshot_files(commit)) {
        CachedFile c{repo, commit, f, {}, size_or_zero(cache.snapshot(commit) / f), kind_of(f)};
        if (auto it = refs.find(commit); it != refs.end()) c.refs = it->second;
        out.push_back(std::move(c));
      }
    }
    std::error_code ec;
    for (auto& e : fs::directory_iterator(cache.dir() / "blobs", ec))
      if (e.path().extension() == ".incomplete")
        out.push_back({repo, "", e.path().filename().string(), {}, size_or_zero(e.path()), "partial download"});
  }
  return out;
}

RemoveReport remove_from_cache(const fs::path& cache_dir, const PullRequest& what) {
  const RepoCache cache(cache_dir, what.ref.repo);
  std::error_code ec;
  if (!fs::is_directory(cache.dir(), ec)) fail("{} is not in the cache ({})", what.ref.repo, cache_dir.string());
  RemoveReport rep;
  const fs::path locks = cache_dir / ".locks" / cache.dir().filename();
  if (what.ref.quant.empty() && what.include.empty()) {
    if (any_lock_held(locks)) fail("{} is being downloaded by another process; try again when it is done", what.ref.repo);
    for (const auto& commit : cache.snapshots())
      for (const auto& f : cache.snapshot_files(commit)) rep.entries.push_back(commit + "/" + f);
    for (auto& e : fs::directory_iterator(cache.dir() / "blobs", ec)) {
      rep.bytes += size_or_zero(e.path());
      ++rep.blobs;
    }
    fs::remove_all(cache.dir(), ec);
    if (ec) fail("{}: cannot remove: {}", cache.dir().string(), ec.message());
    fs::remove_all(locks, ec);
    rep.whole_repo = true;
    return rep;
  }
  // The matching entries of every snapshot, and the blobs they link.
  std::set<std::string> candidates;
  std::string first_error;
  for (const auto& commit : cache.snapshots()) {
    const auto files = cache.snapshot_files(commit);
    Selection sel;
    try {
      sel = select_files(files, what.ref.repo, what.ref.quant, what.include);
    } catch (const Error& e) {
      if (first_error.empty()) first_error = e.what();
      continue;
    }
    for (const auto& f : sel.files) {
      const fs::path entry = cache.pointer(commit, f);
      if (!fs::is_symlink(entry, ec) && !fs::exists(entry, ec)) continue;
      if (auto b = linked_blob(cache, entry); !b.empty()) candidates.insert(b);
      else rep.bytes += size_or_zero(entry);
      fs::remove(entry, ec);
      rep.entries.push_back(commit + "/" + f);
    }
  }
  if (rep.entries.empty()) fail("nothing of {} in the cache matches: {}", what.ref.str(), first_error);
  // Blobs another snapshot entry still links to stay.
  for (const auto& commit : cache.snapshots()) {
    for (auto it = fs::recursive_directory_iterator(cache.snapshot(commit), ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      candidates.erase(linked_blob(cache, it->path()));
  }
  for (const auto& b : candidates) {
    const FileLock lock = FileLock::try_lock(cache.lock_file(b));
    if (!lock.held()) {
      std::fprintf(stderr, "warning: %s is in use by another download; left in place\n", cache.blob(b).c_str());
      continue;
    }
    rep.bytes += size_or_zero(cache.blob(b));
    if (fs::remove(cache.blob(b), ec)) ++rep.blobs;
  }
  for (const auto& commit : cache.snapshots()) remove_empty_dirs(cache.snapshot(commit));
  if (cache.snapshots().empty() && !any_lock_held(locks)) {  // nothing left to load: no folder either
    fs::remove_all(cache.dir(), ec);
    fs::remove_all(locks, ec);
    rep.whole_repo = true;
  }
  return rep;
}

}  // namespace pocketllm::hub
