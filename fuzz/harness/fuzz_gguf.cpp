// GGUF reader on arbitrary bytes: parse, then touch every metadata value and tensor
// view the way `info` and the loaders do, so a bad size that slipped through shows up.
#include "formats/gguf.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzzutil::write_file("in.gguf", data, size);
  for (bool mmap : {true, false}) {
    fuzzutil::expect_clean([&] {
      auto f = pocketllm::gguf::File::open(path, mmap);
      size_t sink = 0;
      for (const auto& [key, value] : f->metadata()) sink += key.size() + value.to_display().size();
      for (const auto& t : f->tensors()) {
        sink += t.n_elements();
        if (t.nbytes) sink += t.data[0] + t.data[t.nbytes - 1];  // views must lie inside the file
      }
      (void)f->get_string_array("tokenizer.ggml.tokens");
      (void)f->get_float_array("tokenizer.ggml.scores");
      (void)f->get_int_array("tokenizer.ggml.token_type");
      volatile size_t keep = sink;
      (void)keep;
    });
    if (size > 4096) break;  // the copy path once is enough for big inputs
  }
  return 0;
}
