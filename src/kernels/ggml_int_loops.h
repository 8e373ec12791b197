// Loop pieces shared by the SIMD kernels of GGML block types (kernels/ggml_int.h):
// per-token activation pointers and the 4-token grouping of a token range. Included
// only by files compiled for one instruction set; everything is in an anonymous
// namespace, so each file's copy is compiled with that file's flags (a shared inline
// copy could be picked by the linker from a file with wider instructions).
#pragma once
#include <cstdint>
#include <type_traits>

#include "kernels/ggml_int.h"

namespace pocketllm {
namespace {

// The int8 values, block scales and 16-sums of tokens t0 .. t0 + NT - 1.
template <int NT>
struct Toks {
  const int8_t* q[NT];
  const float* d[NT];
  const int16_t* s16[NT];
  Toks(const GgmlActs& a, int64_t t0) {
    for (int t = 0; t < NT; ++t) q[t] = a.tok_q(t0 + t), d[t] = a.tok_d(t0 + t), s16[t] = a.tok_sum16(t0 + t);
  }
};

// run(std::integral_constant<int, N>{}, t) over tokens [t0, t1): groups of N = 4, then
// one call of 3, 2 or 1 for the rest (the kernels are templates on N).
template <class Run>
inline void token_groups(int64_t t0, int64_t t1, Run&& run) {
  int64_t t = t0;
  for (; t + 4 <= t1; t += 4) run(std::integral_constant<int, 4>{}, t);
  switch (t1 - t) {
    case 3: run(std::integral_constant<int, 3>{}, t); break;
    case 2: run(std::integral_constant<int, 2>{}, t); break;
    case 1: run(std::integral_constant<int, 1>{}, t); break;
    default: break;
  }
}

}  // namespace
}  // namespace pocketllm
