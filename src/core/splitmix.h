// SplitMix64: a tiny, fast, well-mixed 64-bit generator whose sequence is the same
// on every platform and compiler (unlike std:: distributions), for reproducible
// synthetic weights and fixed pseudo-random transforms.
#pragma once
#include <cstdint>

namespace pocketllm {

inline uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace pocketllm
