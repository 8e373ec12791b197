#include "formats/llama2c.h"

#include <cstring>

#include "core/error.h"

namespace pocketllm::llama2c {

namespace {
bool header_plausible(const Header& h) {
  auto ok = [](int32_t v, int32_t hi) { return v > 0 && v <= hi; };
  return ok(h.dim, 1 << 16) && ok(h.hidden_dim, 1 << 18) && ok(h.n_layers, 1024) && ok(h.n_heads, 1024) &&
         ok(h.n_kv_heads, 1024) && h.vocab_size != 0 && std::abs(static_cast<int64_t>(h.vocab_size)) <= (1 << 22) &&
         ok(h.seq_len, 1 << 22) && h.dim % h.n_heads == 0 && h.n_heads % h.n_kv_heads == 0;
}
}  // namespace

bool looks_like_checkpoint(const MappedFile& f) {
  if (f.size() < sizeof(Header)) return false;
  Header h;
  std::memcpy(&h, f.data(), sizeof h);
  return header_plausible(h);
}

Checkpoint open(const std::string& path, bool use_mmap) {
  Checkpoint c;
  c.file = MappedFile::open(path, use_mmap);
  if (c.file->size() < sizeof(Header)) fail("{}: truncated llama2.c checkpoint (no header)", path);
  std::memcpy(&c.h, c.file->data(), sizeof(Header));
  const Header& h = c.h;
  if (!header_plausible(h))
    fail("{}: not a llama2.c checkpoint: implausible header (dim {}, hidden {}, layers {}, heads {}, kv heads {}, vocab {}, seq {})",
         path, h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab_size, h.seq_len);
  c.shared_classifier = h.vocab_size > 0;
  c.h.vocab_size = std::abs(h.vocab_size);
  const int64_t dim = h.dim, hid = h.hidden_dim, L = h.n_layers, V = c.h.vocab_size;
  const int64_t kv = c.kv_dim(), hs = c.head_size();
  // Element counts in file order (all int64: cannot overflow with the bounds above).
  const int64_t counts[] = {V * dim,  L * dim,   L * dim * dim, L * kv * dim, L * kv * dim, L * dim * dim,
                            L * dim,  L * hid * dim, L * dim * hid, L * hid * dim, dim};
  int64_t need = 0;
  for (int64_t n : counts) need += n;
  const int64_t rope_tables = int64_t{h.seq_len} * hs;  // two legacy tables of seq_len*hs/2 floats
  int64_t total = need + rope_tables + (c.shared_classifier ? 0 : V * dim);
  const int64_t have = static_cast<int64_t>((c.file->size() - sizeof(Header)) / 4);
  if (have < total)
    fail("{}: truncated llama2.c checkpoint: header needs {} bytes of weights, file has {}", path, total * 4, have * 4);
  const float* p = reinterpret_cast<const float*>(c.file->data() + sizeof(Header));
  const float** dst[] = {&c.token_embedding, &c.rms_att, &c.wq, &c.wk, &c.wv, &c.wo,
                         &c.rms_ffn,         &c.w1,      &c.w2, &c.w3, &c.rms_final};
  for (size_t i = 0; i < std::size(counts); ++i) {
    *dst[i] = p;
    p += counts[i];
  }
  p += rope_tables;
  c.wcls = c.shared_classifier ? c.token_embedding : p;
  return c;
}

}  // namespace pocketllm::llama2c
