// The server's request parsing: body JSON -> sampling fields -> chat messages rendered
// with a template and tokenized, or a completion prompt. Only ApiError (a 400) or
// pocketllm::Error may come out.
#include "fuzz_util.h"
#include "server/api_error.h"
#include "server/openai_json.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;

struct Fixture {
  std::unique_ptr<Tokenizer> tok =
      Tokenizer::from_hf(fuzzutil::shared_data("tokenizers/hf/lenml-llama2_mistral-7b-vocab"));
  ChatFormatter fmt{*tok, "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"
                          "{% if add_generation_prompt %}<|assistant|>{% endif %}"};
  SamplingParams defaults;
};

static Fixture& fixture() {
  static Fixture fx;
  return fx;
}

// The tokenizer loads before the per-input timeout starts counting.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)fixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& fx = fixture();
  const std::string body(reinterpret_cast<const char*>(data), size);
  try {
    auto j = server::parse_body(body);
    (void)server::parse_common(j, fx.defaults);
    try {
      (void)server::parse_chat_request(j, fx.fmt, fx.defaults);
    } catch (const server::ApiError&) {
    } catch (const Error&) {
    }
    (void)server::parse_completion_request(j, *fx.tok, fx.defaults);
  } catch (const server::ApiError&) {
  } catch (const Error&) {
  }
  return 0;
}
