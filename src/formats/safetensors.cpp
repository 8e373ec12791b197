#include "formats/safetensors.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/bounded_json.h"
#include "core/error.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace pocketllm::safetensors {

namespace {
// A header larger than this is not a real model (llama.cpp uses the same order of magnitude).
constexpr uint64_t kMaxHeader = 100u << 20;

size_t dtype_size(const std::string& d) {
  static const std::map<std::string, size_t> sizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
      {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"U16", 2}, {"U32", 4}, {"U64", 8}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  auto it = sizes.find(d);
  return it == sizes.end() ? 0 : it->second;
}
}  // namespace

std::optional<DType> to_dtype(const std::string& d) {
  if (d == "F32") return DType::F32;
  if (d == "F16") return DType::F16;
  if (d == "BF16") return DType::BF16;
  return std::nullopt;
}

const Tensor* Archive::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

void Archive::add_file(const std::string& path, bool use_mmap) {
  auto mf = MappedFile::open(path, use_mmap);
  if (mf->size() < 8) fail("{}: not a safetensors file (too short)", path);
  uint64_t hlen;
  std::memcpy(&hlen, mf->data(), 8);
  if (hlen > kMaxHeader || hlen > mf->size() - 8)
    fail("{}: corrupt safetensors file: header length {} exceeds the file size {}", path, hlen, mf->size());
  json h;
  try {
    h = parse_json_bounded(std::string_view(reinterpret_cast<const char*>(mf->data()) + 8, hlen), path);
  } catch (const json::exception& e) {
    fail("{}: corrupt safetensors header: {}", path, e.what());
  }
  if (!h.is_object()) fail("{}: corrupt safetensors header: not a JSON object", path);
  const uint8_t* base = mf->data() + 8 + hlen;
  const uint64_t data_size = mf->size() - 8 - hlen;
  for (auto& [name, v] : h.items()) {
    if (name == "__metadata__") {
      if (v.is_object())
        for (auto& [k, mv] : v.items())
          if (mv.is_string()) metadata[k] = mv.get<std::string>();
      continue;
    }
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets") ||
        !v["dtype"].is_string() || !v["shape"].is_array() || !v["data_offsets"].is_array() ||
        v["data_offsets"].size() != 2)
      fail("{}: corrupt safetensors header: entry '{}' lacks dtype/shape/data_offsets", path, name);
    Tensor t;
    t.name = name;
    t.dtype = v["dtype"].get<std::string>();
    t.file = path;
    size_t es = dtype_size(t.dtype);
    if (!es) fail("{}: tensor '{}' has unknown dtype '{}'", path, name, t.dtype);
    uint64_t n = 1;
    for (auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) fail("{}: tensor '{}' has an invalid shape", path, name);
      uint64_t x = d.get<uint64_t>();
      if (x != 0 && n > (uint64_t{1} << 60) / x) fail("{}: tensor '{}' has an overflowing shape", path, name);
      n *= x;
      t.shape.push_back(x);
    }
    auto& off = v["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail("{}: tensor '{}' has invalid data_offsets", path, name);
    uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e || e > data_size)
      fail("{}: truncated or corrupt safetensors file: tensor '{}' data [{}, {}) lies past the end of the data ({} bytes)",
           path, name, b, e, data_size);
    if (e - b != n * es)
      fail("{}: corrupt safetensors file: tensor '{}' has {} bytes but its shape needs {}", path, name, e - b, n * es);
    t.data = base + b;
    t.nbytes = static_cast<size_t>(e - b);
    if (tensors_.count(name)) fail("{}: tensor '{}' appears in more than one shard", path, name);
    tensors_[name] = std::move(t);
  }
  files_.push_back(std::move(mf));
}

Archive Archive::open(const std::string& path, bool use_mmap) {
  Archive a;
  fs::path p(path);
  if (fs::is_directory(p)) {
    if (fs::exists(p / "model.safetensors.index.json")) p = p / "model.safetensors.index.json";
    else if (fs::exists(p / "model.safetensors")) p = p / "model.safetensors";
    else fail("{}: no model.safetensors or model.safetensors.index.json in this folder", path);
  }
  if (p.extension() == ".json") {
    auto mf = MappedFile::open(p.string(), false);
    json idx;
    try {
      idx = parse_json_bounded(std::string_view(reinterpret_cast<const char*>(mf->data()), mf->size()), p.string());
    } catch (const json::exception& e) {
      fail("{}: invalid JSON: {}", p.string(), e.what());
    }
    if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
      fail("{}: no weight_map object in the index", p.string());
    std::vector<std::string> shards;
    for (auto& [name, f] : idx["weight_map"].items()) {
      if (!f.is_string()) fail("{}: weight_map entry '{}' is not a file name", p.string(), name);
      std::string s = f.get<std::string>();
      if (s.find('/') != std::string::npos || s.find("..") != std::string::npos)
        fail("{}: shard name '{}' must be a plain file name", p.string(), s);
      if (std::find(shards.begin(), shards.end(), s) == shards.end()) shards.push_back(s);
    }
    for (auto& s : shards) a.add_file((p.parent_path() / s).string(), use_mmap);
    for (auto& [name, f] : idx["weight_map"].items())
      if (!a.find(name)) fail("{}: tensor '{}' listed in the index is missing from {}", p.string(), name, f.get<std::string>());
  } else {
    a.add_file(p.string(), use_mmap);
  }
  return a;
}

void write(const std::string& path, const std::vector<WriteTensor>& tensors, const std::map<std::string, std::string>& metadata) {
  json h = json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t off = 0;
  for (auto& t : tensors) {
    h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.nbytes}}};
    off += t.nbytes;
  }
  std::string hs = h.dump();
  while ((8 + hs.size()) % 8) hs += ' ';  // keep tensor data 8-byte aligned
  AtomicFile f(path);
  uint64_t n = hs.size();
  f.write(&n, 8);
  f.write(hs.data(), hs.size());
  for (auto& t : tensors) f.write(t.data, t.nbytes);
  f.commit();
}

}  // namespace pocketllm::safetensors
