// Random-weight models with the exact shapes of real ones, for benchmarking
// without downloading weights: `pocketllm synth`.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/model.h"
#include "weights/dtype.h"

namespace pocketllm::bench {

// A model family's shapes. n_vocab = 0 takes the vocabulary's own size.
struct SynthPreset {
  std::string name;
  std::string display_name;  // general.name
  ModelConfig cfg;
};

// Every known preset (the one table to extend with new families: synth_presets.cpp).
const std::vector<SynthPreset>& synth_presets();
std::vector<SynthPreset> make_synth_presets();
// The preset called `name`; throws Error listing the known names otherwise.
const SynthPreset& find_synth_preset(const std::string& name);

struct SynthOptions {
  std::string preset;
  std::string vocab_path;  // vocab-only GGUF, tokenizer.json or HF folder
  DType type = DType::F16;  // matrices; norms stay F32
  uint64_t seed = 1;
  int n_threads = 0;  // 0: hardware threads
  // Small files for tests: only the first n_layers layers (0: all), and an embedding of
  // the vocabulary's own size instead of the preset's padded one.
  int64_t n_layers = 0;
  bool pad_vocab = true;
  // Called with (bytes generated, bytes total) from the calling thread.
  std::function<void(uint64_t, uint64_t)> progress;
};

// Builds the model in memory: weights and biases ~ normal(0, 0.02), norms 1, the real
// vocabulary (the embedding padded to the preset's size). Same seed, same bytes,
// whatever the thread count.
std::unique_ptr<Model> synth_model(const SynthOptions& o);

// synth_model() written as a standard GGUF at `path`.
void write_synth_gguf(const SynthOptions& o, const std::string& path);

// Standard normal floats for one stream (seed, stream) filling out[0, n): the
// generator behind the weights, exposed for tests.
void fill_normal(uint64_t seed, uint64_t stream, float stddev, float* out, size_t n);

}  // namespace pocketllm::bench
