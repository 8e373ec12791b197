// pocketllm synth: a random-weight model with a real model's exact shapes and
// vocabulary, written as standard GGUF (for benchmarks without downloads).
#include <cstdio>

#include "cli/command.h"
#include "cli/common_options.h"
#include "core/error.h"
#include "core/timer.h"
#include "quantizer/synth_model.h"

namespace pocketllm::cli {
namespace {

struct SynthCliOptions {
  std::string preset, vocab, out, type = "f16";
  uint64_t seed = 1;
  int threads = 0;
  int64_t layers = 0;
  bool unpadded_vocab = false;
};

int run_synth(const SynthCliOptions& c) {
  bench::SynthOptions o;
  o.preset = c.preset;
  o.vocab_path = c.vocab;
  o.seed = c.seed;
  o.n_threads = c.threads;
  o.n_layers = c.layers;
  o.pad_vocab = !c.unpadded_vocab;
  auto t = dtype_from_name(c.type);
  if (!t || (*t != DType::F16 && *t != DType::F32 && *t != DType::BF16))
    fail("--type {}: expected f16, f32 or bf16", c.type);
  o.type = *t;
  Timer timer;
  o.progress = [&](uint64_t done, uint64_t total) {
    std::fprintf(stderr, "\rgenerating: %5.1f%% (%.2f of %.2f GiB), %.1fs", 100.0 * static_cast<double>(done) / static_cast<double>(total),
                 static_cast<double>(done) / (1 << 30), static_cast<double>(total) / (1 << 30), timer.ms() / 1000.0);
    if (done == total) std::fprintf(stderr, "\n");
  };
  bench::write_synth_gguf(o, c.out);
  std::fprintf(stderr, "wrote %s in %.1fs\n", c.out.c_str(), timer.ms() / 1000.0);
  return 0;
}

RegisterCommand register_synth({"synth", "Write a random-weight model with a preset's exact shapes (for benchmarks)", 85,
                     [](CLI::App& sub) {
                       auto o = std::make_shared<SynthCliOptions>();
                       std::string names;
                       for (auto& p : bench::synth_presets()) names += (names.empty() ? "" : ", ") + p.name;
                       sub.add_option("--preset", o->preset, "Shapes to copy: " + names)->required();
                       sub.add_option("--vocab", o->vocab, "Vocabulary: vocab-only GGUF, tokenizer.json or HF folder")
                           ->required();
                       sub.add_option("out", o->out, "Output GGUF path")->required();
                       sub.add_option("--type", o->type, "Matrix type: f16, f32 or bf16")->capture_default_str();
                       sub.add_option("--seed", o->seed, "RNG seed (same seed, same file)")->capture_default_str();
                       sub.add_option("-t,--threads", o->threads, threads_help("Generator threads"))->check(CLI::Range(0, 1024));
                       sub.add_option("--layers", o->layers, "Write only the first N layers (small files for tests)");
                       sub.add_flag("--unpadded-vocab", o->unpadded_vocab,
                                    "Size the embedding to the vocabulary, not the preset's vocab size");
                       return std::function<int()>([o] { return run_synth(*o); });
                     }});

}  // namespace
}  // namespace pocketllm::cli
