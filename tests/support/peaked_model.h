// The small random llama model the GGML-type tests quantize (tests/gguf_types):
// every row a multiple of 256 (K-quants need whole super-blocks), next-token
// distributions peaked (a unigram prior, each token's most frequent successor
// favoured, sharpened attention: PPL ~180 on the families text, greedy margins
// mostly > 0.3), so implementation differences show in perplexity and greedy ids. The bytes are
// the same on every platform (integer RNG, only exactly rounded float
// operations), so llama.cpp's figures recorded offline on them stay valid:
// tests pin the file's sha256.
#pragma once
#include <filesystem>
#include <string>

namespace testsupport {

// Writes the F32 model (GGUF, llama architecture, 4 layers, dim 256, FFN 512,
// 8 heads / 2 KV heads, untied head, stories260K's 512-token vocabulary from
// shared_data()/families/llama-tied.gguf, unigram and bigram counts from
// shared_data()/text/calib.txt).
void write_peaked_model(const std::filesystem::path& out);

// sha256 of a file, lower-case hex (sha256sum).
std::string sha256_file(const std::filesystem::path& p);

}  // namespace testsupport
