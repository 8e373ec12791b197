// What the server-request harnesses share: a real tokenizer, a chat template and
// default sampling, built once (call server_fixture() from LLVMFuzzerInitialize,
// so loading the tokenizer does not count against the per-input timeout).
#pragma once
#include <memory>

#include "fuzz_util.h"
#include "runtime/chat_format.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace fuzzutil {

struct ServerFixture {
  std::unique_ptr<pocketllm::Tokenizer> tok =
      pocketllm::Tokenizer::from_hf(shared_data("tokenizers/hf/lenml-llama2_mistral-7b-vocab"));
  pocketllm::ChatFormatter fmt{*tok, "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"
                                     "{% if add_generation_prompt %}<|assistant|>{% endif %}"};
  pocketllm::SamplingParams defaults;
};

inline ServerFixture& server_fixture() {
  static ServerFixture fx;
  return fx;
}

}  // namespace fuzzutil
