#include "model/config.h"

#include "core/error.h"

namespace pocketllm {

void ModelConfig::validate(const std::string& source) const {
  auto pos = [&](int64_t v, const char* what, int64_t hi) {
    if (v <= 0 || v > hi) fail("{}: invalid {} = {}", source, what, v);
  };
  pos(n_vocab, "vocabulary size", 1 << 22);
  pos(dim, "hidden size", 1 << 16);
  pos(hidden_dim, "FFN size", 1 << 18);
  pos(n_layers, "layer count", 1024);
  pos(n_heads, "head count", 1024);
  pos(n_kv_heads, "KV head count", 1024);
  pos(head_dim, "head dim", 1024);  // attention keeps one head on the stack
  pos(context_length, "context length", 1 << 24);
  if (n_heads % n_kv_heads != 0) fail("{}: head count {} is not a multiple of KV head count {}", source, n_heads, n_kv_heads);
  if (head_dim % 2 != 0) fail("{}: head dim {} must be even for RoPE", source, head_dim);
  if (rope_dim < 0 || rope_dim > head_dim || rot_dim() % 2 != 0)
    fail("{}: RoPE dimension count {} must be even and at most the head dim {}", source, rope_dim, head_dim);
  if (sliding_window < 0) fail("{}: invalid sliding window {}", source, sliding_window);
  if (!(rope_linear_factor > 0.0f) || !(embed_scale > 0.0f) || !(attn_scale >= 0.0f) || !(attn_softcap >= 0.0f) ||
      !(final_softcap >= 0.0f) || !(rope_theta_local >= 0.0f))
    fail("{}: invalid RoPE scaling, embedding scale, attention scale or soft-capping value", source);
  if (!(norm_eps > 0.0f) || !(rope_theta > 0.0f)) fail("{}: invalid norm epsilon or rope theta", source);
}

}  // namespace pocketllm
