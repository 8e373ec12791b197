#include "quant/plan.h"

#include <string_view>

#include "core/error.h"

namespace pocketllm {

namespace {
bool is_block_linear(const std::string& name) {
  static const char* suffixes[] = {"attn_q.weight",  "attn_k.weight",  "attn_v.weight",   "attn_output.weight",
                                   "attn_qkv.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"};
  if (!name.starts_with("blk.")) return false;
  for (auto* s : suffixes)
    if (name.ends_with(s)) return true;
  return false;
}

// GGML's standard types need rows that are whole blocks of 32.
bool standard_type_fits(const Scheme& s, int64_t cols) { return s.group == 32 && cols % 32 == 0; }
}  // namespace

void validate_plan(const QuantPlanOptions& o) {
  if (!o.ggml_type.empty()) find_ggml_mix(o.ggml_type);  // throws for an unknown preset
  if (o.pure && o.ggml_type.empty()) fail("--pure applies to a --type preset");
  if (o.scheme != "w4a8" && o.scheme != "w8a8" && o.scheme != "w4a16")
    fail("unknown scheme '{}' (w4a8, w8a8, w4a16)", o.scheme);
  const int bits = o.scheme == "w8a8" ? 8 : 4;
  if (bits == 4 && o.group != 0 && o.group != 32 && o.group != 64 && o.group != 128)
    fail("4-bit weights take --group 0 (per channel), 32, 64 or 128, not {}", o.group);
  if (bits == 8 && o.group != 0 && o.group != 32) fail("8-bit weights take --group 0 (per channel) or 32, not {}", o.group);
  if (o.head != "q8" && o.head != "q4" && o.head != "f16") fail("unknown --head '{}' (q8, q4, f16)", o.head);
  if (o.embed != "q8" && o.embed != "f16") fail("unknown --embed '{}' (q8, f16)", o.embed);
  if (o.asym && bits != 4) fail("--asym is for 4-bit weights (w4a8, w4a16), not {}", o.scheme);
}

std::string plan_activations(const QuantPlanOptions& o) { return o.scheme == "w4a16" ? "float" : "int8"; }

TensorPlan plan_tensor(const QuantPlanOptions& o, const std::string& name, int64_t rows, int64_t cols) {
  TensorPlan p;
  if (!o.ggml_type.empty()) {
    const auto t = ggml_mix_tensor_type(find_ggml_mix(o.ggml_type), o.pure, name, rows, cols, o.shape);
    if (t && (*t == DType::F16 || *t == DType::BF16)) p.float_type = *t;
    else if (t && *t != DType::F32) p.ggml_type = *t;
    return p;
  }
  if (rows <= 1) return p;  // norms, biases, rope factors: F32
  const bool is_head = name == "output.weight" || (o.tied && name == "token_embd.weight");
  const bool is_embed = name == "token_embd.weight" && !o.tied;
  std::string_view fmt;  // views o.head / o.embed or a literal
  if (is_head) fmt = o.head;
  else if (is_embed) fmt = o.embed;
  else if (is_block_linear(name)) fmt = o.scheme == "w8a8" ? "w8" : "w4";
  else return p;  // anything else stays F32
  if (fmt == "f16") {
    p.float_type = DType::F16;
    return p;
  }
  p.quantize = true;
  if (fmt == "q8") p.scheme = Scheme{8, 32, {}};
  else if (fmt == "q4") p.scheme = Scheme{4, o.group, {}};
  else if (fmt == "w8") p.scheme = Scheme{8, o.group, {}};
  else p.scheme = Scheme{4, o.group, {}};
  if (o.asym && fmt == "w4" && cols % 256 == 0) {  // Q4_K's super-blocks; other rows keep the scheme
    p.asym_k = true;
    return p;
  }
  if (o.compat && !standard_type_fits(p.scheme, cols)) {
    // llama.cpp cannot read pocketllm's padded or per-channel types: keep such tensors F16.
    p.quantize = false;
    p.float_type = DType::F16;
  }
  return p;
}

}  // namespace pocketllm
