#include "hub/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "core/error.h"
#include "hub/http_client.h"

namespace pocketllm::hub {

namespace {
int open_lock_file(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  // 0664 as huggingface_hub creates them, so users sharing a cache can wait on each other.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0664);
  if (fd < 0) fail("{}: cannot open the lock file: {}", path.string(), std::strerror(errno));
  return fd;
}
}  // namespace

FileLock::FileLock(const std::filesystem::path& path, const std::function<void()>& on_wait,
                   const std::atomic<bool>* cancel) {
  fd_ = open_lock_file(path);
  bool waited = false;
  // Polling (not a blocking flock) so that Ctrl-C can end the wait.
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      const int err = errno;
      ::close(fd_);
      fd_ = -1;
      fail("{}: cannot lock: {}", path.string(), std::strerror(err));
    }
    if (!waited && on_wait) on_wait();
    waited = true;
    if (cancel && cancel->load()) {
      ::close(fd_);
      fd_ = -1;
      throw Interrupted("interrupted while waiting for " + path.string());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

FileLock FileLock::try_lock(const std::filesystem::path& path) {
  FileLock l;
  l.fd_ = open_lock_file(path);
  if (::flock(l.fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(l.fd_);
    l.fd_ = -1;
  }
  return l;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace pocketllm::hub
