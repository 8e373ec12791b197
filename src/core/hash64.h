// A 64-bit checksum for identities and file integrity (not for security): a
// multiply-xorshift step per 8-byte word (the tail byte by byte), so hundreds of MiB
// of a KV cache hash at memory speed, and SplitMix64's finalizer at the end. Same
// value on every platform of the same byte order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace pocketllm {

class Hash64 {
 public:
  void add(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (; n >= 8; p += 8, n -= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      step(w);
    }
    for (; n > 0; ++p, --n) step(*p);
  }
  void add(std::string_view s) {
    add_value(static_cast<uint64_t>(s.size()));  // "ab"+"c" differs from "a"+"bc"
    add(s.data(), s.size());
  }
  template <class T>
  void add_value(const T& v) {
    add(&v, sizeof v);
  }
  uint64_t value() const {
    uint64_t z = h_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  void step(uint64_t w) {
    h_ = (h_ ^ w) * 0x9E3779B97F4A7C15ull;
    h_ ^= h_ >> 32;  // the multiply only carries upwards: fold the high half back down
  }
  uint64_t h_ = 0xcbf29ce484222325ull;
};

}  // namespace pocketllm
