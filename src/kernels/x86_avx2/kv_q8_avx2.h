// AVX2 attention kernels over the 8-bit KV cache (KvQ8ScoresFn / KvQ8WsumFn in
// kernels/table.h). Defined in kv_q8_avx2.cpp (AVX2 flags); the avxvnni and
// avx512vnni tables point at the same functions, since those CPUs run AVX2 code.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pocketllm {

void kv_q8_scores_avx2(const int8_t* q, const float* qd, int64_t m, int64_t hd, const int8_t* k, const float* kd,
                       size_t stride, int64_t n, float* out, int64_t ldo);
void kv_q8_wsum_avx2(const float* w, int64_t ldw, int64_t m, const int8_t* v, const float* vd, size_t stride,
                     int64_t n, int64_t hd, float* out, int64_t ldo);

}  // namespace pocketllm
