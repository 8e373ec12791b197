// A read-only view of a whole file: mmap'd when allowed, else read into memory
// (huge pages when the kernel grants them: see core/huge_buffer.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/huge_buffer.h"

namespace pocketllm {

class MappedFile {
 public:
  // Throws Error naming the path when the file cannot be opened or read.
  static std::shared_ptr<MappedFile> open(const std::string& path, bool use_mmap = true);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  bool is_mapped() const { return mapped_; }
  // Hints the kernel that [offset, offset+len) will not be needed again (mmap only).
  void release(size_t offset, size_t len) const;

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  HugeBuffer buffer_;
};

}  // namespace pocketllm
