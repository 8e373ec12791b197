#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace pocketllm {

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path, bool use_mmap) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file", path);
  }
  std::shared_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;
  f->size_ = static_cast<size_t>(st.st_size);
  if (f->size_ == 0) {
    ::close(fd);
    return f;
  }
  if (use_mmap) {
    void* p = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      f->data_ = static_cast<const uint8_t*>(p);
      f->mapped_ = true;
      ::close(fd);
      return f;
    }
  }
  f->buffer_ = HugeBuffer(f->size_);
  size_t off = 0;
  while (off < f->size_) {
    ssize_t n = ::read(fd, f->buffer_.data() + off, f->size_ - off);
    if (n <= 0) {
      ::close(fd);
      fail("{}: read failed: {}", path, n == 0 ? "unexpected end of file" : std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  ::close(fd);
  f->data_ = f->buffer_.data();
  return f;
}

MappedFile::~MappedFile() {
  if (mapped_ && data_) munmap(const_cast<uint8_t*>(data_), size_);
}

void MappedFile::release(size_t offset, size_t len) const {
  if (!mapped_ || len == 0) return;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t start = (offset + page - 1) / page * page;
  size_t end = (offset + len) / page * page;
  if (end > start) madvise(const_cast<uint8_t*>(data_) + start, end - start, MADV_DONTNEED);
}

}  // namespace pocketllm
