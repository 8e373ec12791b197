// GGUF v2/v3 reader and writer (the llama.cpp model file format).
// The reader checks every count and size against the real file size before it
// trusts it, so a hostile file gives an Error, never a huge allocation.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "weights/dtype.h"

namespace pocketllm::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
const char* value_type_name(ValueType t);

struct Value {
  ValueType type = ValueType::UINT32;
  uint64_t u = 0;   // unsigned ints
  int64_t i = 0;    // signed ints
  double f = 0;     // floats
  bool b = false;
  std::string s;
  // An array's elements, stored by kind: a 262,144-token vocabulary held as one
  // Value per token, score and type took ~80 MB; as strings and 8-byte numbers, ~10.
  ValueType arr_type = ValueType::UINT32;
  std::vector<std::string> arr_str;  // arr_type STRING
  std::vector<uint64_t> arr_num;     // numbers and bools: u, i (two's complement) or f's bits, by arr_type
  std::vector<Value> arr_nested;     // arr_type ARRAY

  size_t arr_size() const;
  Value arr_at(size_t k) const;  // element k as a Value of type arr_type
  void arr_push(const Value& e);  // e is read as arr_type (its u, i, f, b or s)
  void arr_resize(size_t n);

  static Value u32(uint32_t v) { Value x; x.type = ValueType::UINT32; x.u = v; return x; }
  static Value i32(int32_t v) { Value x; x.type = ValueType::INT32; x.i = v; return x; }
  static Value u64(uint64_t v) { Value x; x.type = ValueType::UINT64; x.u = v; return x; }
  static Value f32(float v) { Value x; x.type = ValueType::FLOAT32; x.f = v; return x; }
  static Value boolean(bool v) { Value x; x.type = ValueType::BOOL; x.b = v; return x; }
  static Value str(std::string v) { Value x; x.type = ValueType::STRING; x.s = std::move(v); return x; }
  static Value array(ValueType elem, const std::vector<Value>& items);
  static Value str_array(const std::vector<std::string>& v);
  static Value f32_array(const std::vector<float>& v);
  static Value i32_array(const std::vector<int32_t>& v);

  bool is_int() const;
  bool is_float() const { return type == ValueType::FLOAT32 || type == ValueType::FLOAT64; }
  std::optional<int64_t> as_int() const;    // any integer type (or bool)
  std::optional<double> as_float() const;   // any number
  std::string to_display(size_t max_items = 8) const;  // for `info`
};

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> ne;  // ne[0] is the innermost (row length)
  DType type = DType::F32;
  uint64_t offset = 0;       // relative to the data section
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  uint64_t n_elements() const;
};

class File {
 public:
  // Parses and validates the whole header; tensor data stays in the mapping.
  static std::unique_ptr<File> open(const std::string& path, bool use_mmap = true);
  static std::unique_ptr<File> parse(std::shared_ptr<MappedFile> file);

  const std::string& path() const { return file_->path(); }
  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }
  const std::shared_ptr<MappedFile>& mapping() const { return file_; }

  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  const Value* find(const std::string& key) const;
  std::optional<std::string> get_string(const std::string& key) const;
  std::optional<int64_t> get_int(const std::string& key) const;
  std::optional<double> get_float(const std::string& key) const;
  std::optional<bool> get_bool(const std::string& key) const;
  // Typed array getters: nullopt when absent; Error when present with the wrong type.
  std::optional<std::vector<std::string>> get_string_array(const std::string& key) const;
  std::optional<std::vector<float>> get_float_array(const std::string& key) const;
  std::optional<std::vector<int64_t>> get_int_array(const std::string& key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* tensor(const std::string& name) const;

 private:
  std::shared_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> kv_;
  std::map<std::string, size_t> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// Writes GGUF v3. Tensor bytes are referenced, not copied: keep them alive until write().
class Writer {
 public:
  void set(const std::string& key, Value v);
  void add_tensor(const std::string& name, DType type, std::vector<uint64_t> ne, const void* data, size_t nbytes);
  // Same, but the writer keeps the bytes.
  void add_tensor_owned(const std::string& name, DType type, std::vector<uint64_t> ne, std::vector<uint8_t> bytes);
  void set_alignment(size_t a) { alignment_ = a; }
  // Writes atomically (temp file + rename). progress(i, n) is called after each tensor.
  void write(const std::string& path, const std::function<void(size_t, size_t)>& progress = {}) const;

 private:
  struct PendingTensor {
    std::string name;
    DType type;
    std::vector<uint64_t> ne;
    const void* data;
    size_t nbytes;
    std::shared_ptr<std::vector<uint8_t>> owned;
  };
  size_t alignment_ = 32;
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace pocketllm::gguf
