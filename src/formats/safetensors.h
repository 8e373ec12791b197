// safetensors reader (single file or shards + model.safetensors.index.json) and writer.
// Layout: u64 LE header length, JSON header {name: {dtype, shape (outermost first),
// data_offsets [begin, end) relative to the data section}}, optional __metadata__.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "weights/dtype.h"

namespace pocketllm::safetensors {

struct Tensor {
  std::string name;
  std::string dtype;            // as written: "F32", "F16", "BF16", "I64", ...
  std::vector<uint64_t> shape;  // outermost first (PyTorch order)
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string file;             // which shard it came from
};

// pocketllm DType for a safetensors dtype string, or nullopt (e.g. I64, BOOL).
std::optional<DType> to_dtype(const std::string& dtype);

class Archive {
 public:
  // `path` is a .safetensors file, a model.safetensors.index.json, or a folder holding either.
  static Archive open(const std::string& path, bool use_mmap = true);
  const std::map<std::string, Tensor>& tensors() const { return tensors_; }
  const Tensor* find(const std::string& name) const;
  const std::vector<std::shared_ptr<MappedFile>>& files() const { return files_; }
  std::map<std::string, std::string> metadata;

 private:
  void add_file(const std::string& path, bool use_mmap);
  std::map<std::string, Tensor> tensors_;
  std::vector<std::shared_ptr<MappedFile>> files_;
};

struct WriteTensor {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16"
  std::vector<uint64_t> shape;
  const void* data;
  size_t nbytes;
};
// Writes one .safetensors file atomically.
void write(const std::string& path, const std::vector<WriteTensor>& tensors,
           const std::map<std::string, std::string>& metadata = {});

}  // namespace pocketllm::safetensors
