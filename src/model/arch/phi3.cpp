// phi3: llama block with fused weights, NEOX rope (possibly over part of each
// head) and a sliding window on every layer. HF's qkv_proj ([q; k; v] rows) and
// gate_up_proj ([gate; up] rows) have the layouts of GGUF's attn_qkv and ffn_up;
// bind_weights splits them into row views.
#include <cmath>

#include "core/error.h"
#include "model/arch/arch.h"

namespace pocketllm::detail {

Architecture phi3_architecture() {
  Architecture a;
  a.name = "phi3";
  a.hf_types = {"phi3"};
  a.hf_layer_names = {{"self_attn.qkv_proj.weight", "attn_qkv.weight"},
                      {"mlp.gate_up_proj.weight", "ffn_up.weight"}};
  a.from_gguf = [](ModelConfig& c, const GgufKeys& k) {
    if (k.f.find(k.prefix + "rope.scaling.attn_factor"))
      fail("{}: phi3 long-context RoPE scaling (LongRoPE) is not supported", k.source);
    c.sliding_window = k.integer("attention.sliding_window").value_or(0);
    c.layer_sliding = sliding_layers_by_pattern(c.n_layers, 0);
  };
  a.from_hf = [](ModelConfig& c, const HfConfig& k) {
    const double partial = k.number("partial_rotary_factor", 1.0);
    if (!(partial > 0.0 && partial <= 1.0)) fail("{}: invalid partial_rotary_factor {}", k.source, partial);
    c.rope_dim = static_cast<int64_t>(std::floor(static_cast<double>(c.head_dim) * partial));
    if (c.rope_dim == c.head_dim) c.rope_dim = 0;
    c.sliding_window = k.has("sliding_window") ? k.integer("sliding_window") : 0;
    c.layer_sliding = sliding_layers_by_pattern(c.n_layers, 0);
  };
  a.to_gguf = [](const ModelConfig& c, gguf::Writer& w) {
    if (c.sliding_window > 0)
      w.set("phi3.attention.sliding_window", gguf::Value::u32(static_cast<uint32_t>(c.sliding_window)));
  };
  return a;
}

}  // namespace pocketllm::detail
