#include "core/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "core/error.h"

namespace pocketllm {

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  std::random_device rd;
  tmp_ = path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(rd() % 100000);
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (!f_) {
    const int err = errno;
    const auto dir = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
      fail("{}: cannot write: the folder {} does not exist", path, dir.string());
    fail("{}: cannot write: {}", path, std::strerror(err));
  }
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
