// SentencePiece .model reader (a protobuf read by hand); when a fuzzed file loads, it
// also has to encode and decode.
#include "fuzz_util.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzzutil::write_file("tokenizer.model", data, size);
  fuzzutil::expect_clean([&] {
    auto tok = pocketllm::Tokenizer::from_sentencepiece(path);
    auto ids = tok->encode("  Hello  world! <s> 12345 \xc3\xa9\xe4\xb8\xad \n\t ", true, true);
    (void)tok->decode(ids);
    std::vector<int32_t> all;
    for (int32_t i = 0; i < tok->n_vocab() && i < 64; ++i) all.push_back(i);
    (void)tok->decode(all, false);
  });
  return 0;
}
