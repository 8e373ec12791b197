#include "core/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "core/error.h"

namespace pocketllm {
namespace {

namespace fs = std::filesystem;

// "<target name>.tmp.<pid>.<16 hex digits>": the pid tells whose it is, the random
// part makes the name unpredictable (O_EXCL makes a planted file or link fail).
std::string temp_name(const std::string& path) {
  std::random_device rd;
  const uint64_t r = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return fmt::format("{}.tmp.{}.{:016x}", path, getpid(), r);
}

// The pid in a temp file name made for `target` ("<pid>.<1-16 hex digits>" after
// "<target>.tmp.": older versions used a short decimal suffix), or -1.
long temp_owner(const std::string& name, const std::string& target) {
  const std::string prefix = target + ".tmp.";
  if (name.rfind(prefix, 0) != 0) return -1;
  const std::string rest = name.substr(prefix.size());
  const size_t dot = rest.find('.');
  if (dot == std::string::npos || dot == 0 || dot > 9 || rest.size() - dot - 1 < 1 || rest.size() - dot - 1 > 16)
    return -1;
  for (size_t i = 0; i < rest.size(); ++i) {
    const auto c = static_cast<unsigned char>(rest[i]);
    if (i != dot && !(i < dot ? std::isdigit(c) : std::isxdigit(c))) return -1;
  }
  return std::stol(rest.substr(0, dot));
}

}  // namespace

std::vector<std::string> remove_stale_temp_files(const std::string& path) {
  std::vector<std::string> removed;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    const long pid = temp_owner(it->path().filename().string(), target.filename().string());
    // Only files whose writer is dead (killed mid-write): a live process may still be writing its own.
    if (pid <= 0 || pid == getpid() || kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code rm;
    if (fs::remove(it->path(), rm)) removed.push_back(it->path().string());
  }
  return removed;
}

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  for (const std::string& f : remove_stale_temp_files(path))
    std::fprintf(stderr, "note: removed %s, left by a run that was killed while writing\n", f.c_str());
  for (int attempt = 0; attempt < 8 && !f_; ++attempt) {
    tmp_ = temp_name(path);
    const int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST) continue;
    if (fd < 0) {
      const int err = errno;
      const auto dir = std::filesystem::path(path).parent_path();
      std::error_code ec;
      if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
        fail("{}: cannot write: the folder {} does not exist", path, dir.string());
      fail("{}: cannot write: {}", path, std::strerror(err));
    }
    if (!(f_ = fdopen(fd, "wb"))) {
      const int err = errno;
      ::close(fd);
      std::remove(tmp_.c_str());
      fail("{}: cannot create: {}", tmp_, std::strerror(err));
    }
  }
  if (!f_) fail("{}: cannot create a temporary file next to it", path);
}

AtomicFile::~AtomicFile() {
  if (f_) std::fclose(f_);
  if (!committed_) std::remove(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  if (n && std::fwrite(data, 1, n, f_) != n) fail("{}: write failed: {}", path_, std::strerror(errno));
  offset_ += n;
}

void AtomicFile::pad_to(size_t alignment) {
  static const char zeros[64] = {};
  size_t pad = (alignment - offset_ % alignment) % alignment;
  while (pad) {
    size_t n = std::min(pad, sizeof zeros);
    write(zeros, n);
    pad -= n;
  }
}

void AtomicFile::commit() {
  if (std::fflush(f_) != 0 || fsync(fileno(f_)) != 0) fail("{}: flush failed: {}", path_, std::strerror(errno));
  std::fclose(f_);
  f_ = nullptr;
  std::error_code ec;
  std::filesystem::rename(tmp_, path_, ec);
  if (ec) fail("{}: cannot replace it with the written temp file {}: {}", path_, tmp_, ec.message());
  committed_ = true;
}

void check_can_write(const std::string& path) { AtomicFile probe(path); }

void write_file_atomic(const std::string& path, const std::string& bytes) {
  AtomicFile f(path);
  f.write(bytes.data(), bytes.size());
  f.commit();
}

}  // namespace pocketllm
