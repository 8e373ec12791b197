#include "hub/repo_cache.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "hub/model_ref.h"

namespace fs = std::filesystem;

namespace pocketllm::hub {

bool is_commit_hash(const std::string& s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

void tag_cache_dir(const fs::path& cache_root) {
  std::error_code ec;
  const fs::path tag = cache_root / "CACHEDIR.TAG";
  if (fs::exists(tag, ec)) return;
  fs::create_directories(cache_root, ec);
  try {
    write_file_atomic(tag.string(),
                      "Signature: 8a477f597d28d172789f06886806bc55\n"
                      "# This file is a cache directory tag created by pocketllm (the Hugging Face cache).\n"
                      "# For information about cache directory tags, see:\n#\thttps://bford.info/cachedir/\n");
  } catch (const Error&) {  // a read-only cache still works
  }
}

RepoCache::RepoCache(fs::path cache_root, std::string repo) : root_(std::move(cache_root)), repo_(std::move(repo)) {}

fs::path RepoCache::dir() const { return root_ / repo_folder_name(repo_); }

fs::path RepoCache::blob(const std::string& etag) const {
  check_plain_name(etag, "ETag");
  return dir() / "blobs" / etag;
}

fs::path RepoCache::incomplete(const std::string& etag) const { return blob(etag).string() + ".incomplete"; }

fs::path RepoCache::snapshot(const std::string& commit) const {
  check_plain_name(commit, "commit");
  return dir() / "snapshots" / commit;
}

fs::path RepoCache::pointer(const std::string& commit, const std::string& file) const {
  check_repo_path(file, "file");
  return snapshot(commit) / file;
}

fs::path RepoCache::lock_file(const std::string& etag) const {
  check_plain_name(etag, "ETag");
  return root_ / ".locks" / repo_folder_name(repo_) / (etag + ".lock");
}

std::optional<std::string> RepoCache::read_ref(const std::string& revision) const {
  if (is_commit_hash(revision)) return revision;
  check_repo_path(revision, "revision");  // branches may contain '/'
  std::ifstream in(dir() / "refs" / revision, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string commit = ss.str();
  while (!commit.empty() && std::isspace(static_cast<unsigned char>(commit.back()))) commit.pop_back();
  if (commit.empty()) return std::nullopt;
  check_plain_name(commit, "commit in " + (dir() / "refs" / revision).string());
  return commit;
}

void RepoCache::write_ref(const std::string& revision, const std::string& commit) const {
  if (revision == commit) return;  // a commit needs no ref
  check_repo_path(revision, "revision");
  const fs::path p = dir() / "refs" / revision;
  fs::create_directories(p.parent_path());
  if (read_ref(revision) == commit) return;  // unchanged: leave a read-only cache alone
  write_file_atomic(p.string(), commit);
}

void RepoCache::link(const std::string& commit, const std::string& file, const std::string& etag) const {
  const fs::path ptr = pointer(commit, file);
  fs::create_directories(ptr.parent_path());
  std::string target;
  for (int i = 0, n = 2 + static_cast<int>(std::count(file.begin(), file.end(), '/')); i < n; ++i) target += "../";
  target += "blobs/" + etag;
  const fs::path tmp = ptr.string() + ".tmp." + std::to_string(getpid());
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_symlink(target, tmp, ec);
  if (ec) fail("{}: cannot create a symlink: {}", tmp.string(), ec.message());
  fs::rename(tmp, ptr, ec);
  if (ec) {
    fs::remove(tmp);
    fail("{}: cannot create: {}", ptr.string(), ec.message());
  }
}

std::vector<std::string> RepoCache::snapshot_files(const std::string& commit) const {
  std::vector<std::string> out;
  const fs::path snap = snapshot(commit);
  std::error_code ec;
  if (!fs::is_directory(snap, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(snap, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_directory(ec)) continue;
    if (fs::is_regular_file(it->path(), ec))  // follows the symlink: a dangling one does not count
      out.push_back(it->path().lexically_relative(snap).generic_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> RepoCache::snapshots() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir() / "snapshots", ec))
    if (e.is_directory(ec)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace pocketllm::hub
