// Shared by the GGML-type tests: making a fixture file from the peaked model,
// and comparing pocketllm's perplexity and greedy ids on a file with
// llama.cpp's recorded figures (reference.json's format, record_llamacpp.py).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gguf_types {

// The names of ref["files"], sorted.
std::vector<std::string> file_names(const nlohmann::json& ref);

// Makes dir/<name>.gguf from the F32 model with the pocketllm binary: `make` is
// the command after the input and output paths (["quantize", "--type", "Q4_K_M"]
// runs `pocketllm quantize F32 OUT --type Q4_K_M`); an empty `make` is the F32
// model itself.
std::filesystem::path make_file(const std::filesystem::path& f32, const std::filesystem::path& dir,
                                const std::string& name, const nlohmann::json& make);

// Runs pocketllm on `path` as llama.cpp ran (ref["perplexity"] and ref["greedy"]
// settings, entry["kv"] cache type) and checks entry's figures with the issue's
// tolerances (gtest failures). When `kld_dir` is set and holds <name>.kld (a
// llama-perplexity --kl-divergence-base file of this model, record_llamacpp.py
// leaves them), also KL <= 1e-3 with the same top token >= 99% of positions.
void check_against_llamacpp(const std::filesystem::path& path, const nlohmann::json& ref, const nlohmann::json& entry,
                            const std::string& name, const char* kld_dir);

// KL divergence of pocketllm's next-token distributions on `path` from
// llama.cpp's, read from a llama-perplexity --kl-divergence-base file of the
// same model (its chunks, tokens and log-probabilities), computed as
// llama-perplexity --kl-divergence does.
struct KlResult {
  double mean_kld = 0, same_top = 0;
  int64_t n = 0;
};
KlResult kl_from_llamacpp(const std::filesystem::path& path, const std::filesystem::path& kld_file, const std::string& kv);

}  // namespace gguf_types
