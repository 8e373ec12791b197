#include "formats/gguf.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/atomic_file.h"
#include "core/error.h"

namespace pocketllm::gguf {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint32_t kMaxDims = 4;          // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;

// Bounds-checked little-endian reader over the mapped header.
class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n, const std::string& path) : p_(p), n_(n), path_(path) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return n_ - pos_; }
  void need(size_t k, const char* what) const {
    if (k > remaining())
      fail("{}: truncated GGUF file: {} needs {} bytes at offset {}, file has {}", path_, what, k, pos_, n_);
  }
  template <class T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    uint64_t len = get<uint64_t>(what);
    if (len > remaining())
      fail("{}: corrupt GGUF file: {} has length {} but only {} bytes remain", path_, what, len, remaining());
    std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }
  const std::string& path() const { return path_; }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  const std::string& path_;
};

size_t min_value_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    case ValueType::STRING: return 8;
    case ValueType::ARRAY: return 12;
  }
  return 1;
}

bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::FLOAT64); }

Value read_value(Cursor& c, ValueType t, const std::string& key, int depth) {
  Value v;
  v.type = t;
  switch (t) {
    case ValueType::UINT8: v.u = c.get<uint8_t>(key.c_str()); break;
    case ValueType::INT8: v.i = c.get<int8_t>(key.c_str()); break;
    case ValueType::UINT16: v.u = c.get<uint16_t>(key.c_str()); break;
    case ValueType::INT16: v.i = c.get<int16_t>(key.c_str()); break;
    case ValueType::UINT32: v.u = c.get<uint32_t>(key.c_str()); break;
    case ValueType::INT32: v.i = c.get<int32_t>(key.c_str()); break;
    case ValueType::UINT64: v.u = c.get<uint64_t>(key.c_str()); break;
    case ValueType::INT64: v.i = c.get<int64_t>(key.c_str()); break;
    case ValueType::FLOAT32: v.f = c.get<float>(key.c_str()); break;
    case ValueType::FLOAT64: v.f = c.get<double>(key.c_str()); break;
    case ValueType::BOOL: {
      uint8_t b = c.get<uint8_t>(key.c_str());
      if (b > 1) fail("{}: corrupt GGUF file: key '{}' has bool value {}", c.path(), key, b);
      v.b = b != 0;
      break;
    }
    case ValueType::STRING: v.s = c.str(key.c_str()); break;
    case ValueType::ARRAY: {
      if (depth >= kMaxArrayDepth) fail("{}: corrupt GGUF file: key '{}' nests arrays too deeply", c.path(), key);
      uint32_t et = c.get<uint32_t>(key.c_str());
      if (!valid_type(et)) fail("{}: corrupt GGUF file: key '{}' has unknown array element type {}", c.path(), key, et);
      v.arr_type = static_cast<ValueType>(et);
      uint64_t n = c.get<uint64_t>(key.c_str());
      // Every element takes at least min_value_size bytes: reject counts the file cannot hold.
      if (n > c.remaining() / min_value_size(v.arr_type))
        fail("{}: corrupt GGUF file: key '{}' declares {} array elements, more than the file can hold", c.path(), key, n);
      if (v.arr_type == ValueType::STRING) {
        v.arr_str.reserve(static_cast<size_t>(n));
        for (uint64_t k = 0; k < n; ++k) v.arr_str.push_back(c.str(key.c_str()));
      } else if (v.arr_type == ValueType::ARRAY) {
        v.arr_nested.reserve(static_cast<size_t>(n));
        for (uint64_t k = 0; k < n; ++k) v.arr_nested.push_back(read_value(c, v.arr_type, key, depth + 1));
      } else {
        v.arr_num.reserve(static_cast<size_t>(n));
        for (uint64_t k = 0; k < n; ++k) v.arr_push(read_value(c, v.arr_type, key, depth + 1));
      }
      break;
    }
  }
  return v;
}

}  // namespace

const char* value_type_name(ValueType t) {
  static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                "bool", "str", "arr", "u64", "i64", "f64"};
  auto i = static_cast<uint32_t>(t);
  return i < 13 ? names[i] : "?";
}

Value Value::array(ValueType elem, const std::vector<Value>& items) {
  Value x;
  x.type = ValueType::ARRAY;
  x.arr_type = elem;
  for (const Value& e : items) x.arr_push(e);
  return x;
}
Value Value::str_array(const std::vector<std::string>& v) {
  Value x = array(ValueType::STRING, {});
  x.arr_str = v;
  return x;
}
Value Value::f32_array(const std::vector<float>& v) {
  Value x = array(ValueType::FLOAT32, {});
  for (float e : v) x.arr_push(f32(e));
  return x;
}
Value Value::i32_array(const std::vector<int32_t>& v) {
  Value x = array(ValueType::INT32, {});
  for (int32_t e : v) x.arr_push(i32(e));
  return x;
}

namespace {
bool is_unsigned(ValueType t) {
  return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 || t == ValueType::UINT64;
}
}  // namespace

size_t Value::arr_size() const {
  if (arr_type == ValueType::STRING) return arr_str.size();
  if (arr_type == ValueType::ARRAY) return arr_nested.size();
  return arr_num.size();
}

Value Value::arr_at(size_t k) const {
  if (arr_type == ValueType::ARRAY) return arr_nested.at(k);
  Value e;
  e.type = arr_type;
  if (arr_type == ValueType::STRING) {
    e.s = arr_str.at(k);
    return e;
  }
  const uint64_t bits = arr_num.at(k);
  if (arr_type == ValueType::BOOL) {
    e.b = bits != 0;
  } else if (arr_type == ValueType::FLOAT32 || arr_type == ValueType::FLOAT64) {
    std::memcpy(&e.f, &bits, sizeof bits);
  } else if (is_unsigned(arr_type)) {
    e.u = bits;
  } else {
    e.i = static_cast<int64_t>(bits);
  }
  return e;
}

void Value::arr_push(const Value& e) {
  if (arr_type == ValueType::STRING) {
    arr_str.push_back(e.s);
  } else if (arr_type == ValueType::ARRAY) {
    arr_nested.push_back(e);
  } else if (arr_type == ValueType::BOOL) {
    arr_num.push_back(e.b ? 1 : 0);
  } else if (arr_type == ValueType::FLOAT32 || arr_type == ValueType::FLOAT64) {
    uint64_t bits = 0;
    std::memcpy(&bits, &e.f, sizeof bits);
    arr_num.push_back(bits);
  } else {
    arr_num.push_back(is_unsigned(arr_type) ? e.u : static_cast<uint64_t>(e.i));
  }
}

void Value::arr_resize(size_t n) {
  if (arr_type == ValueType::STRING) {
    arr_str.resize(n);
  } else if (arr_type == ValueType::ARRAY) {
    arr_nested.resize(n);
  } else {
    arr_num.resize(n);
  }
}

bool Value::is_int() const {
  switch (type) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::UINT16: case ValueType::INT16:
    case ValueType::UINT32: case ValueType::INT32: case ValueType::UINT64: case ValueType::INT64:
      return true;
    default:
      return false;
  }
}

std::optional<int64_t> Value::as_int() const {
  switch (type) {
    case ValueType::UINT8: case ValueType::UINT16: case ValueType::UINT32: case ValueType::UINT64:
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
      return static_cast<int64_t>(u);
    case ValueType::INT8: case ValueType::INT16: case ValueType::INT32: case ValueType::INT64:
      return i;
    case ValueType::BOOL:
      return b ? 1 : 0;
    default:
      return std::nullopt;
  }
}

std::optional<double> Value::as_float() const {
  if (is_float()) return f;
  if (auto x = as_int()) return static_cast<double>(*x);
  return std::nullopt;
}

std::string Value::to_display(size_t max_items) const {
  switch (type) {
    case ValueType::STRING: {
      std::string s = this->s.size() > 60 ? this->s.substr(0, 57) + "..." : this->s;
      std::string out = "\"";
      for (char ch : s) out += (ch == '\n') ? std::string("\\n") : std::string(1, ch);
      return out + "\"";
    }
    case ValueType::BOOL: return b ? "true" : "false";
    case ValueType::FLOAT32: case ValueType::FLOAT64: return fmt::format("{}", f);
    case ValueType::ARRAY: {
      const size_t n = arr_size();
      std::string out = fmt::format("[{} x {}] [", n, value_type_name(arr_type));
      for (size_t k = 0; k < n && k < max_items; ++k) out += (k ? ", " : "") + arr_at(k).to_display(max_items);
      return out + (n > max_items ? ", ...]" : "]");
    }
    default:
      if (auto x = as_int()) return std::to_string(*x);
      return std::to_string(u);
  }
}

uint64_t TensorInfo::n_elements() const {
  uint64_t n = 1;
  for (auto d : ne) n *= d;
  return n;
}

std::unique_ptr<File> File::open(const std::string& path, bool use_mmap) {
  return parse(MappedFile::open(path, use_mmap));
}

std::unique_ptr<File> File::parse(std::shared_ptr<MappedFile> mf) {
  auto f = std::unique_ptr<File>(new File());
  f->file_ = mf;
  const std::string& path = mf->path();
  Cursor c(mf->data(), mf->size(), path);
  if (mf->size() < 4 || c.get<uint32_t>("magic") != kMagic) fail("{}: not a GGUF file (bad magic)", path);
  f->version_ = c.get<uint32_t>("version");
  if (f->version_ == 1) fail("{}: GGUF version 1 is not supported (convert it with a current llama.cpp)", path);
  if (f->version_ < 2 || f->version_ > 3) fail("{}: unsupported GGUF version {}", path, f->version_);
  const uint64_t n_tensors = c.get<uint64_t>("tensor count");
  const uint64_t n_kv = c.get<uint64_t>("metadata count");
  // Each key/value takes >= 8+0+4+1 bytes and each tensor info >= 8+4+8+4+8.
  if (n_kv > c.remaining() / 13) fail("{}: corrupt GGUF file: metadata count {} exceeds what the file can hold", path, n_kv);
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = c.str("metadata key");
    uint32_t t = c.get<uint32_t>("metadata type");
    if (!valid_type(t)) fail("{}: corrupt GGUF file: key '{}' has unknown value type {}", path, key, t);
    Value v = read_value(c, static_cast<ValueType>(t), key, 0);
    if (f->kv_index_.count(key)) fail("{}: corrupt GGUF file: duplicate key '{}'", path, key);
    f->kv_index_[key] = f->kv_.size();
    f->kv_.emplace_back(std::move(key), std::move(v));
  }
  if (const Value* a = f->find("general.alignment")) {
    auto al = a->as_int();
    if (!al || *al <= 0 || (*al & (*al - 1)) != 0 || *al > (1 << 20))
      fail("{}: corrupt GGUF file: general.alignment must be a power of two, got {}", path, a->to_display());
    f->alignment_ = static_cast<size_t>(*al);
  }
  if (n_tensors > c.remaining() / 32) fail("{}: corrupt GGUF file: tensor count {} exceeds what the file can hold", path, n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    TensorInfo ti;
    ti.name = c.str("tensor name");
    uint32_t nd = c.get<uint32_t>("tensor dims");
    if (nd == 0 || nd > kMaxDims) fail("{}: corrupt GGUF file: tensor '{}' has {} dimensions (1..4 allowed)", path, ti.name, nd);
    uint64_t n = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      uint64_t dim = c.get<uint64_t>("tensor shape");
      if (dim == 0 || (n > 0 && dim > (uint64_t{1} << 62) / n))
        fail("{}: corrupt GGUF file: tensor '{}' has an invalid or overflowing shape", path, ti.name);
      n *= dim;
      ti.ne.push_back(dim);
    }
    uint32_t type = c.get<uint32_t>("tensor type");
    ti.type = static_cast<DType>(type);
    auto tr = dtype_traits(ti.type);
    if (!tr) fail("{}: tensor '{}' has unknown type id {}", path, ti.name, type);
    // Row size from the type (pocketllm's padded-row types allow any row length).
    auto row_bytes = dtype_row_bytes(ti.type, ti.ne[0]);
    if (!row_bytes)
      fail("{}: corrupt GGUF file: tensor '{}' row of {} is not a multiple of {}'s block size {}", path, ti.name,
           ti.ne[0], tr->name, tr->block_size);
    const uint64_t rows = n / ti.ne[0];
    if (*row_bytes != 0 && rows > (uint64_t{1} << 62) / *row_bytes)
      fail("{}: corrupt GGUF file: tensor '{}' has an invalid or overflowing shape", path, ti.name);
    ti.nbytes = static_cast<size_t>(rows * *row_bytes);
    ti.offset = c.get<uint64_t>("tensor offset");
    if (ti.offset % f->alignment_ != 0)
      fail("{}: corrupt GGUF file: tensor '{}' offset {} is not aligned to {}", path, ti.name, ti.offset, f->alignment_);
    if (f->tensor_index_.count(ti.name)) fail("{}: corrupt GGUF file: duplicate tensor '{}'", path, ti.name);
    f->tensor_index_[ti.name] = f->tensors_.size();
    f->tensors_.push_back(std::move(ti));
  }
  f->data_offset_ = (c.pos() + f->alignment_ - 1) / f->alignment_ * f->alignment_;
  for (auto& ti : f->tensors_) {
    const uint64_t end = f->data_offset_ + ti.offset;
    if (ti.offset > mf->size() || end > mf->size() || ti.nbytes > mf->size() - end)
      fail("{}: truncated GGUF file: tensor '{}' data ({} bytes at offset {}) lies past the end of the file ({} bytes)",
           path, ti.name, ti.nbytes, end, mf->size());
    ti.data = mf->data() + end;
  }
  return f;
}

const Value* File::find(const std::string& key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

std::optional<std::string> File::get_string(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != ValueType::STRING) fail("{}: key '{}' should be a string", path(), key);
  return v->s;
}

std::optional<int64_t> File::get_int(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  auto x = v->as_int();
  if (!x) fail("{}: key '{}' should be an integer", path(), key);
  return x;
}

namespace {
// Every reader keeps float keys as float; a larger finite value would not convert
// (infinities and NaN do, and the readers judge those themselves).
void check_float_range(const std::string& path, const std::string& key, double x) {
  if (std::abs(x) > std::numeric_limits<float>::max() && std::isfinite(x))
    fail("{}: key '{}' holds {}, out of float range", path, key, x);
}
}  // namespace

std::optional<double> File::get_float(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  auto x = v->as_float();
  if (!x) fail("{}: key '{}' should be a number", path(), key);
  check_float_range(path(), key, *x);
  return x;
}

std::optional<bool> File::get_bool(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (v->type == ValueType::BOOL) return v->b;
  if (auto x = v->as_int()) return *x != 0;
  fail("{}: key '{}' should be a bool", path(), key);
}

std::optional<std::vector<std::string>> File::get_string_array(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != ValueType::ARRAY || v->arr_type != ValueType::STRING)
    fail("{}: key '{}' should be an array of strings", path(), key);
  return v->arr_str;
}

std::optional<std::vector<float>> File::get_float_array(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != ValueType::ARRAY) fail("{}: key '{}' should be an array of numbers", path(), key);
  std::vector<float> out;
  out.reserve(v->arr_size());
  for (size_t k = 0; k < v->arr_size(); ++k) {
    auto x = v->arr_at(k).as_float();
    if (!x) fail("{}: key '{}' should be an array of numbers", path(), key);
    check_float_range(path(), key, *x);
    out.push_back(static_cast<float>(*x));
  }
  return out;
}

std::optional<std::vector<int64_t>> File::get_int_array(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != ValueType::ARRAY) fail("{}: key '{}' should be an array of integers", path(), key);
  std::vector<int64_t> out;
  out.reserve(v->arr_size());
  for (size_t k = 0; k < v->arr_size(); ++k) {
    auto x = v->arr_at(k).as_int();
    if (!x) fail("{}: key '{}' should be an array of integers", path(), key);
    out.push_back(*x);
  }
  return out;
}

const TensorInfo* File::tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

// ---- writer ----

void Writer::set(const std::string& key, Value v) {
  for (auto& [k, old] : kv_)
    if (k == key) {
      old = std::move(v);
      return;
    }
  kv_.emplace_back(key, std::move(v));
}

void Writer::add_tensor(const std::string& name, DType type, std::vector<uint64_t> ne, const void* data, size_t nbytes) {
  tensors_.push_back({name, type, std::move(ne), data, nbytes, nullptr});
}

void Writer::add_tensor_owned(const std::string& name, DType type, std::vector<uint64_t> ne, std::vector<uint8_t> bytes) {
  auto owned = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
  tensors_.push_back({name, type, std::move(ne), owned->data(), owned->size(), owned});
}

namespace {
template <class T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void put_str(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}
void put_value(std::string& out, const Value& v) {
  switch (v.type) {
    case ValueType::UINT8: put<uint8_t>(out, static_cast<uint8_t>(v.u)); break;
    case ValueType::INT8: put<int8_t>(out, static_cast<int8_t>(v.i)); break;
    case ValueType::UINT16: put<uint16_t>(out, static_cast<uint16_t>(v.u)); break;
    case ValueType::INT16: put<int16_t>(out, static_cast<int16_t>(v.i)); break;
    case ValueType::UINT32: put<uint32_t>(out, static_cast<uint32_t>(v.u)); break;
    case ValueType::INT32: put<int32_t>(out, static_cast<int32_t>(v.i)); break;
    case ValueType::UINT64: put<uint64_t>(out, v.u); break;
    case ValueType::INT64: put<int64_t>(out, v.i); break;
    case ValueType::FLOAT32: put<float>(out, static_cast<float>(v.f)); break;
    case ValueType::FLOAT64: put<double>(out, v.f); break;
    case ValueType::BOOL: put<uint8_t>(out, v.b ? 1 : 0); break;
    case ValueType::STRING: put_str(out, v.s); break;
    case ValueType::ARRAY:
      put<uint32_t>(out, static_cast<uint32_t>(v.arr_type));
      put<uint64_t>(out, v.arr_size());
      if (v.arr_type == ValueType::STRING) {  // written from the strings themselves, not a Value copy of each
        for (const std::string& e : v.arr_str) put_str(out, e);
      } else {
        for (size_t k = 0; k < v.arr_size(); ++k) put_value(out, v.arr_at(k));
      }
      break;
  }
}
}  // namespace

void Writer::write(const std::string& path, const std::function<void(size_t, size_t)>& progress) const {
  std::string head;
  put<uint32_t>(head, kMagic);
  put<uint32_t>(head, 3);
  put<uint64_t>(head, tensors_.size());
  bool has_alignment = false;
  for (auto& [k, v] : kv_) has_alignment |= (k == "general.alignment");
  put<uint64_t>(head, kv_.size() + ((alignment_ != 32 && !has_alignment) ? 1 : 0));
  for (auto& [k, v] : kv_) {
    put_str(head, k);
    put<uint32_t>(head, static_cast<uint32_t>(v.type));
    put_value(head, v);
  }
  if (alignment_ != 32 && !has_alignment) {
    put_str(head, "general.alignment");
    put<uint32_t>(head, static_cast<uint32_t>(ValueType::UINT32));
    put<uint32_t>(head, static_cast<uint32_t>(alignment_));
  }
  uint64_t offset = 0;
  for (auto& t : tensors_) {
    put_str(head, t.name);
    put<uint32_t>(head, static_cast<uint32_t>(t.ne.size()));
    for (auto d : t.ne) put<uint64_t>(head, d);
    put<uint32_t>(head, static_cast<uint32_t>(t.type));
    put<uint64_t>(head, offset);
    offset += (t.nbytes + alignment_ - 1) / alignment_ * alignment_;
  }
  AtomicFile out(path);
  out.write(head.data(), head.size());
  out.pad_to(alignment_);
  for (size_t i = 0; i < tensors_.size(); ++i) {
    out.write(tensors_[i].data, tensors_[i].nbytes);
    out.pad_to(alignment_);
    if (progress) progress(i + 1, tensors_.size());
  }
  out.commit();
}

}  // namespace pocketllm::gguf
