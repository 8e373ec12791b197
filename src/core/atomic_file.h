// Files pocketllm writes appear whole or not at all: write to a temp file in
// the same folder, fsync, then rename over the target. The temp file is created
// with O_EXCL under an unpredictable name ("TARGET.tmp.PID.RANDOM"); ones that
// runs killed mid-write left behind are removed (with a note on stderr).
#pragma once
#include <cstdio>
#include <string>
#include <vector>

namespace pocketllm {

class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);  // throws Error when the temp file cannot be created
  ~AtomicFile();                                 // removes the temp file unless commit() ran
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void pad_to(size_t alignment);  // zero bytes up to the next multiple of alignment
  size_t offset() const { return offset_; }
  const std::string& temp_path() const { return tmp_; }
  void commit();  // flush, fsync, rename

 private:
  std::string path_, tmp_;
  FILE* f_ = nullptr;
  size_t offset_ = 0;
  bool committed_ = false;
};

// Removes the temp files of `path` whose writing process no longer exists; returns them.
std::vector<std::string> remove_stale_temp_files(const std::string& path);

// Throws the Error writing `path` would, without touching it: for commands that
// should fail before hours of work, not after (e.g. a missing output folder).
void check_can_write(const std::string& path);

// Convenience: writes a whole string atomically.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace pocketllm
