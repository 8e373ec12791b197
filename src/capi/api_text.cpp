// pllm_tokenize, pllm_detokenize, pllm_chat_render: the model's text side.
#include "capi/handles.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;
using namespace pocketllm::capi;

namespace pocketllm::capi {

std::vector<int32_t> tokenize_text(const ModelCore& core, const char* text, size_t len, uint32_t flags) {
  need_flags(flags, PLLM_TOKENIZE_ADD_SPECIAL | PLLM_TOKENIZE_PARSE_SPECIAL, "tokenize");
  const std::string_view s = need_text(text, len, "text");
  return core.tokenizer().encode(s, flags & PLLM_TOKENIZE_ADD_SPECIAL, flags & PLLM_TOKENIZE_PARSE_SPECIAL);
}

}  // namespace pocketllm::capi

extern "C" {

pllm_status pllm_tokenize(const pllm_model* model, const char* text, size_t text_len, uint32_t flags, int32_t* tokens,
                          size_t capacity, size_t* n_tokens) {
  return with_model(model, PLLM_ERR_INVALID_ARGUMENT, [&](const ModelCore& core) {
    need(n_tokens, "n_tokens");
    copy_out(tokenize_text(core, text, text_len, flags), tokens, capacity, n_tokens);
  });
}

pllm_status pllm_detokenize(const pllm_model* model, const int32_t* tokens, size_t n_tokens, uint32_t flags, char* text,
                            size_t capacity, size_t* text_len) {
  return with_model(model, PLLM_ERR_INVALID_ARGUMENT, [&](const ModelCore& core) {
    need(text_len, "text_len");
    need_flags(flags, PLLM_DETOKENIZE_SKIP_SPECIAL, "detokenize");
    if (!tokens && n_tokens) raise(PLLM_ERR_INVALID_ARGUMENT, "tokens is NULL with a count of {}", n_tokens);
    const Tokenizer& tok = core.tokenizer();
    std::vector<int32_t> ids(tokens, tokens + n_tokens);
    for (int32_t id : ids)
      if (id < 0 || id >= tok.n_vocab())
        raise(PLLM_ERR_INVALID_ARGUMENT, "token id {} is not in the vocabulary (0..{})", id, tok.n_vocab() - 1);
    copy_out(tok.decode(ids, flags & PLLM_DETOKENIZE_SKIP_SPECIAL), text, capacity, text_len);
  });
}

pllm_status pllm_chat_render(const pllm_model* model, const pllm_chat_message* messages, size_t n_messages,
                             int add_generation_prompt, char* text, size_t capacity, size_t* text_len) {
  return with_model(model, PLLM_ERR_TEMPLATE, [&](const ModelCore& core) {
    need(text_len, "text_len");
    const std::vector<ChatMessage> msgs = chat_messages(messages, n_messages);
    copy_out(core.chat().render(msgs, add_generation_prompt != 0), text, capacity, text_len);
  });
}

}  // extern "C"
