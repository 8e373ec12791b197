// An exclusive flock() on a lock file, the kind huggingface_hub's filelock takes on
// .locks/models--OWNER--REPO/<etag>.lock: while one process writes a blob, the
// other waits instead of writing the same file.
#pragma once
#include <atomic>
#include <filesystem>
#include <functional>

namespace pocketllm::hub {

class FileLock {
 public:
  // Blocks until the lock is ours; on_wait runs once if another process holds it.
  // cancel, when set while waiting, throws Interrupted.
  FileLock(const std::filesystem::path& path, const std::function<void()>& on_wait,
           const std::atomic<bool>* cancel = nullptr);
  // Takes the lock only if it is free (held() tells).
  static FileLock try_lock(const std::filesystem::path& path);
  ~FileLock();
  FileLock(FileLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  FileLock() = default;
  int fd_ = -1;
};

}  // namespace pocketllm::hub
