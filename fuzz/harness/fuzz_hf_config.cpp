// Loading a Hugging Face folder: config.json is the fuzzed input; next to it sit a
// tiny tokenizer and an empty-but-valid safetensors file so parsing goes past the config.
#include "fuzz_util.h"
#include "model/model.h"

static std::string folder() {
  static const std::string dir = [] {
    // A safetensors file with no tensors: 8-byte header length + "{}".
    const uint8_t st[] = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    fuzzutil::write_file("model.safetensors", st, sizeof st);
    return fuzzutil::scratch_dir().string();
  }();
  return dir;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string dir = folder();
  fuzzutil::write_file("config.json", data, size);
  fuzzutil::expect_clean([&] {
    pocketllm::LoadOptions opt;
    opt.load_tokenizer = false;
    (void)pocketllm::load_model(dir, opt);
  });
  return 0;
}
