#include "kernels/ggml_int.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "kernels/table.h"

namespace pocketllm {

GgmlIntFn ggml_int_kernel(const KernelTable& k, DType t) {
  const GgmlIntKernels g = k.ggml;
  switch (t) {
    case DType::Q4_K: return g.q4_k;
    case DType::Q5_K: return g.q5_k;
    case DType::Q6_K: return g.q6_k;
    case DType::Q5_0: return g.q5_0;
    case DType::IQ4_XS: return g.iq4_xs;
    default: return nullptr;
  }
}

// POCKETLLM_KQUANT_TILES=0 keeps every type in place (A/B benchmarks of the repack).
bool kquant_tiles_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("POCKETLLM_KQUANT_TILES");
    return !(e && std::strcmp(e, "0") == 0);
  }();
  return on;
}

KQuantGemmFn kquant_tile_kernel(const KernelTable& k, DType t) {
  if (!kquant_tiles_enabled()) return nullptr;
  const GgmlIntKernels g = k.ggml;
  switch (t) {
    case DType::Q4_K: return g.q4_k_tiles;
    case DType::Q5_K: return g.q5_k_tiles;
    case DType::Q6_K: return g.q6_k_tiles;
    case DType::IQ4_XS: return g.iq4_xs_tiles;
    case DType::Q5_0: return g.q5_0_tiles;
    default: return nullptr;
  }
}

int64_t ggml_int_block(DType t) {
  switch (t) {
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
    case DType::IQ4_XS: return 256;
    case DType::Q5_0: return 32;
    default: return 0;
  }
}

void ggml_acts_shape(int64_t n_tokens, int64_t cols, int64_t block, GgmlActs& a, float static_d) {
  if (block <= 0 || cols % block != 0) fail("ggml_acts_shape: {} columns are not a whole number of {}-blocks", cols, block);
  quantize_acts_shape(n_tokens, block, cols, a.q, static_d);
  a.sum16.resize(static_cast<size_t>(n_tokens * (cols / 16)));
}

void ggml_acts_tokens(const float* x, int64_t ldx, int64_t t0, int64_t t1, GgmlActs& a) {
  quantize_acts_tokens(x, ldx, t0, t1, a.cols(), a.q);
  const int64_t n16 = a.cols() / 16;
  for (int64_t t = t0; t < t1; ++t) {
    const int8_t* q = a.tok_q(t);
    int16_t* s = a.sum16.data() + t * n16;
    for (int64_t i = 0; i < n16; ++i) {
      int sum = 0;  // the compiler vectorizes this; it is a small share of a matmul either way
      for (int j = 0; j < 16; ++j) sum += q[16 * i + j];
      s[i] = static_cast<int16_t>(sum);
    }
  }
}

}  // namespace pocketllm
