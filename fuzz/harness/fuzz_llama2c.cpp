// llama2.c checkpoint: header validation and the size check of every weight block.
#include "formats/llama2c.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzzutil::write_file("model.bin", data, size);
  fuzzutil::expect_clean([&] {
    auto mf = pocketllm::MappedFile::open(path, false);
    (void)pocketllm::llama2c::looks_like_checkpoint(*mf);
  });
  fuzzutil::expect_clean([&] {
    auto c = pocketllm::llama2c::open(path, true);
    // The last float of the classifier must be inside the mapping.
    const auto& h = c.h;
    int64_t vocab = h.vocab_size < 0 ? -int64_t(h.vocab_size) : h.vocab_size;
    volatile float last = c.wcls[vocab * h.dim - 1] + c.rms_final[h.dim - 1] + c.token_embedding[0];
    (void)last;
  });
  return 0;
}
