// One model repo in huggingface_hub's cache layout, so that either tool finds
// what the other downloaded:
//   <cache>/models--OWNER--REPO/blobs/<etag>             file contents, named by ETag
//   <cache>/models--OWNER--REPO/blobs/<etag>.incomplete  a download in progress
//   <cache>/models--OWNER--REPO/snapshots/<commit>/<file> relative symlink to ../../blobs/<etag>
//   <cache>/models--OWNER--REPO/refs/<revision>          the commit, without a newline
//   <cache>/.locks/models--OWNER--REPO/<etag>.lock       flock()ed while a blob is written
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace pocketllm::hub {

class RepoCache {
 public:
  RepoCache(std::filesystem::path cache_root, std::string repo);

  const std::string& repo() const { return repo_; }
  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path dir() const;
  std::filesystem::path blob(const std::string& etag) const;
  std::filesystem::path incomplete(const std::string& etag) const;
  std::filesystem::path snapshot(const std::string& commit) const;
  std::filesystem::path pointer(const std::string& commit, const std::string& file) const;
  std::filesystem::path lock_file(const std::string& etag) const;

  // The commit a revision (branch or tag) pointed to when last seen; a 40-hex
  // revision is a commit already.
  std::optional<std::string> read_ref(const std::string& revision) const;
  // Writes refs/<revision> atomically, exactly the commit (huggingface_hub reads it verbatim).
  void write_ref(const std::string& revision, const std::string& commit) const;
  // Points snapshots/<commit>/<file> at blobs/<etag> with a relative symlink (replaced atomically).
  void link(const std::string& commit, const std::string& file, const std::string& etag) const;
  // Files of a snapshot whose symlink (or file) resolves to existing content, as
  // '/'-separated paths relative to the snapshot, sorted.
  std::vector<std::string> snapshot_files(const std::string& commit) const;
  // Commits that have a snapshot folder.
  std::vector<std::string> snapshots() const;

 private:
  std::filesystem::path root_;
  std::string repo_;
};

bool is_commit_hash(const std::string& s);  // 40 lower-case hex digits
// Marks the cache folder as one (CACHEDIR.TAG, as huggingface_hub does) so backup tools can skip it.
void tag_cache_dir(const std::filesystem::path& cache_root);

}  // namespace pocketllm::hub
