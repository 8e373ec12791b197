#include "quant/ggml_mix.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <exception>
#include <mutex>

#include "core/error.h"
#include "weights/file_type.h"
#include "weights/row_codec.h"

namespace pocketllm {

namespace {
// The presets pocketllm writes and the type most of their matrices get.
constexpr std::array<std::pair<const char*, DType>, 19> kMixes = {{
    {"F32", DType::F32},     {"F16", DType::F16},       {"BF16", DType::BF16},     {"Q4_0", DType::Q4_0},
    {"Q4_1", DType::Q4_1},   {"Q5_0", DType::Q5_0},     {"Q5_1", DType::Q5_1},     {"Q8_0", DType::Q8_0},
    {"Q2_K", DType::Q2_K},   {"Q3_K_S", DType::Q3_K},   {"Q3_K_M", DType::Q3_K},   {"Q3_K_L", DType::Q3_K},
    {"Q4_K_S", DType::Q4_K}, {"Q4_K_M", DType::Q4_K},   {"Q5_K_S", DType::Q5_K},   {"Q5_K_M", DType::Q5_K},
    {"Q6_K", DType::Q6_K},   {"IQ4_NL", DType::IQ4_NL}, {"IQ4_XS", DType::IQ4_XS},
}};

bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

// Which matrix of a block (or of the model) a tensor is, and its layer.
struct TensorRole {
  std::string kind;  // "output", "token_embd", "attn_v", "ffn_down", "attn_output", "attn_qkv", "other", "" = not a matrix
  int64_t layer = -1;
};
TensorRole role_of(const std::string& name, int64_t rows) {
  if (rows <= 1 || !name.ends_with(".weight")) return {};
  if (name == "output.weight") return {"output"};
  if (name == "token_embd.weight") return {"token_embd"};
  int layer = -1, used = 0;
  if (std::sscanf(name.c_str(), "blk.%d.%n", &layer, &used) != 1 || used == 0) return {};
  const std::string rest = name.substr(static_cast<size_t>(used));
  static const char* matrices[] = {"attn_q.weight",   "attn_k.weight",  "attn_v.weight", "attn_output.weight",
                                   "attn_qkv.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"};
  if (std::find(std::begin(matrices), std::end(matrices), rest) == std::end(matrices)) return {};
  const std::string kind = rest.substr(0, rest.size() - 7);
  if (kind == "attn_v" || kind == "ffn_down" || kind == "attn_output" || kind == "attn_qkv") return {kind, layer};
  return {"other", layer};
}

// llama-quantize's choice of layers that get more bits: the first and last
// eighth, and every third layer in between.
bool more_bits_layer(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// The mix's type for a block matrix before the row-length fallback.
DType block_matrix_type(const std::string& mix, DType base, const TensorRole& r, const MixModelShape& s) {
  const int64_t i = r.layer, n = s.n_layers;
  if (r.kind == "attn_v") {
    if (mix == "Q2_K") return s.n_gqa >= 4 ? DType::Q4_K : DType::Q3_K;
    if (mix == "Q3_K_M") return i < 2 ? DType::Q5_K : DType::Q4_K;
    if (mix == "Q3_K_L") return DType::Q5_K;
    if ((mix == "IQ4_NL" || mix == "IQ4_XS") && s.n_gqa >= 4) return DType::Q5_K;
    if ((mix == "Q4_K_M" || mix == "Q5_K_M") && more_bits_layer(i, n)) return DType::Q6_K;
    if (mix == "Q4_K_S" && i < 4) return DType::Q5_K;
  } else if (r.kind == "ffn_down") {
    if (mix == "Q2_K") return DType::Q3_K;
    if (mix == "Q3_K_M") return i < n / 16 ? DType::Q5_K : DType::Q4_K;
    if (mix == "Q3_K_L") return DType::Q5_K;
    if ((mix == "Q4_K_M" || mix == "Q5_K_M") && more_bits_layer(i, n)) return DType::Q6_K;
    if ((mix == "IQ4_NL" || mix == "IQ4_XS" || mix == "Q4_K_S") && i < n / 8) return DType::Q5_K;
  } else if (r.kind == "attn_output") {
    if (mix == "Q2_K") return DType::Q3_K;
    if (mix == "Q3_K_M") return DType::Q4_K;
    if (mix == "Q3_K_L") return DType::Q5_K;
  } else if (r.kind == "attn_qkv") {
    if (mix == "Q3_K_M" || mix == "Q3_K_L") return DType::Q4_K;
    if (mix == "Q4_K_M") return DType::Q5_K;
    if (mix == "Q5_K_M") return DType::Q6_K;
  }
  return base;
}

// A type whose blocks a row of `cols` holds: llama-quantize's 32-block stand-in
// for a 256-block type, else F16.
DType fit_row(DType t, int64_t cols) {
  if (dtype_row_bytes(t, static_cast<uint64_t>(cols))) return t;
  DType alt = t;
  switch (t) {
    case DType::IQ4_XS: alt = DType::IQ4_NL; break;
    case DType::Q2_K:
    case DType::Q3_K: alt = DType::Q4_0; break;
    case DType::Q4_K: alt = DType::Q5_0; break;
    case DType::Q5_K: alt = DType::Q5_1; break;
    case DType::Q6_K: alt = DType::Q8_0; break;
    default: break;
  }
  return dtype_row_bytes(alt, static_cast<uint64_t>(cols)) ? alt : DType::F16;
}
}  // namespace

GgmlMix find_ggml_mix(const std::string& name) {
  std::string up = name;
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
  if (up == "Q3_K" || up == "Q4_K" || up == "Q5_K") up += "_M";
  for (const auto& [mix, base] : kMixes)
    if (up == mix) return GgmlMix{up, *ggml_file_type_id(up), base};
  std::string known;
  for (const auto& n : ggml_mix_names()) known += (known.empty() ? "" : ", ") + n;
  fail("unknown --type '{}' (llama-quantize's presets pocketllm writes: {})", name, known);
}

std::vector<std::string> ggml_mix_names() {
  std::vector<std::string> v;
  for (const auto& [mix, base] : kMixes) v.emplace_back(mix);
  return v;
}

std::optional<DType> ggml_mix_tensor_type(const GgmlMix& mix, bool pure, const std::string& name, int64_t rows,
                                          int64_t cols, const MixModelShape& shape) {
  const TensorRole r = role_of(name, rows);
  if (r.kind.empty()) return std::nullopt;
  if (is_float(mix.base)) return mix.base;
  DType t = mix.base;
  const bool head = r.kind == "output" || (shape.tied && r.kind == "token_embd");
  if (!pure && head)  // 6 bits in every mix below Q8_0 (Q8_0 where 256-blocks do not fit)
    t = cols % 256 != 0 || mix.base == DType::Q8_0 ? DType::Q8_0 : DType::Q6_K;
  else if (!pure && r.kind != "token_embd")
    t = block_matrix_type(mix.name, mix.base, r, shape);
  return fit_row(t, cols);
}

std::vector<uint8_t> quantize_ggml_rows(DType t, const float* data, int64_t rows, int64_t cols, ThreadPool& pool) {
  const auto rb = dtype_row_bytes(t, static_cast<uint64_t>(cols));
  if (!rb || !ggml_row_codec(t)) fail("cannot store rows of {} as {}", cols, dtype_name(t));
  std::vector<uint8_t> out(*rb * static_cast<size_t>(rows));
  std::exception_ptr error;  // bad weights throw on a worker: carry the first error to the caller
  std::mutex mu;
  pool.parallel_for(rows, [&](int64_t r0, int64_t r1) {
    try {
      for (int64_t r = r0; r < r1; ++r) ggml_row_from_f32(t, data + r * cols, out.data() + static_cast<size_t>(r) * *rb, cols);
    } catch (...) {
      std::lock_guard lk(mu);
      if (!error) error = std::current_exception();
    }
  });
  if (error) std::rethrow_exception(error);
  return out;
}

}  // namespace pocketllm
