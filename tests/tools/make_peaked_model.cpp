// Writes the peaked random model of the GGML-type tests (support/peaked_model.h)
// to a file, for recording llama.cpp's figures (tests/gguf_types/record_llamacpp.py).
#include <cstdio>
#include <exception>

#include "support/peaked_model.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_peaked_model OUT.gguf\n");
    return 2;
  }
  try {
    testsupport::write_peaked_model(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::printf("%s  %s\n", testsupport::sha256_file(argv[1]).c_str(), argv[1]);
  return 0;
}
