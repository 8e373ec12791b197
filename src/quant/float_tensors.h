// A model's tensors as f32 in GGUF layout, by GGUF name: what the equivalent
// transforms (rotation, smoothing) rewrite before quantization.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pocketllm {

struct FloatTensor {
  std::vector<uint64_t> ne;  // innermost first (ne[0] = columns)
  std::vector<float> data;
  int64_t cols() const { return static_cast<int64_t>(ne.at(0)); }
  int64_t rows() const { return cols() > 0 ? static_cast<int64_t>(data.size()) / cols() : 0; }
  float* row(int64_t r) { return data.data() + r * cols(); }
};

using FloatTensors = std::map<std::string, FloatTensor>;

}  // namespace pocketllm
