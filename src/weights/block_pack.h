// Blocks of GGML types built from codes a quantizer has already chosen (the
// calibrated quantizers of quant/calib pick scales and codes themselves and
// only need the layout, which stays here with the other codecs).
#pragma once
#include <cstdint>

namespace pocketllm {

// One Q4_K (five_bits false: q in [0, 15]) or Q5_K (q in [0, 31]) super-block of
// 256 weights: f16 bits d and dmin, 6-bit sub-block scales sc[8] and mins m[8],
// codes q[256]; value = d * sc * q - dmin * m (weights/blocks_k.h).
void pack_q45_k_block(bool five_bits, uint16_t d, uint16_t dmin, const int* sc, const int* m, const int* q,
                      uint8_t* block);

// One Q5_0 block of 32 weights: f16 bits d and codes q in [-16, 15]; value = q * d.
void pack_q5_0_block(uint16_t d, const int* q, uint8_t* block);

}  // namespace pocketllm
