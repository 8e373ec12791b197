// pllm_version, pllm_model_*: loading a model and describing it.
#include <cstring>
#include <filesystem>

#include "capi/handles.h"
#include "model/context.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;
using namespace pocketllm::capi;

namespace {

#define PLLM_STR2(x) #x
#define PLLM_STR(x) PLLM_STR2(x)
constexpr const char* kVersion =
    PLLM_STR(PLLM_VERSION_MAJOR) "." PLLM_STR(PLLM_VERSION_MINOR) "." PLLM_STR(PLLM_VERSION_PATCH);

void need_readable(const char* path, const char* what) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) raise(PLLM_ERR_IO, "{} {}: no such file or folder", what, path);
}

std::shared_ptr<const ModelCore> load_core(const char* path, const pllm_model_params& p) {
  need(path, "path");
  if (p.n_threads < 0 || p.n_threads > 1024) raise(PLLM_ERR_INVALID_ARGUMENT, "n_threads {} is not in 0..1024", p.n_threads);
  need_readable(path, "model");
  if (p.tokenizer_path) need_readable(p.tokenizer_path, "tokenizer");
  auto core = std::make_shared<ModelCore>();
  LoadOptions lo;
  lo.use_mmap = p.use_mmap != 0;
  if (p.tokenizer_path) lo.tokenizer_path = p.tokenizer_path;
  core->model = load_model(path, lo);
  core->n_threads = p.n_threads;
  core->kv_type = kv_type_of(p.kv_type, default_kv_type(*core->model));
  core->chat_template = p.chat_template ? std::string(need_text(p.chat_template, std::strlen(p.chat_template),
                                                                "chat_template"))
                                        : resolve_chat_template(*core->model, "", "").text;
  // An app may never chat: a template that does not parse fails the chat calls
  // (PLLM_ERR_TEMPLATE), not the load of a model that can still generate.
  if (core->model->tokenizer) {
    try {
      core->formatter = std::make_unique<ChatFormatter>(*core->model->tokenizer, core->chat_template);
    } catch (const Error& e) {
      core->template_error = e.what();
    }
  }
  return core;
}

pllm_string str(const std::string& s) { return {s.data(), s.size()}; }

}  // namespace

extern "C" {

const char* pllm_version(void) { return kVersion; }
int pllm_api_version(void) { return PLLM_API_VERSION; }

void pllm_model_default_params(pllm_model_params* p) {
  if (p) *p = pllm_model_params{0, 1, PLLM_KV_DEFAULT, nullptr, nullptr};
}

pllm_status pllm_model_load(const char* path, const pllm_model_params* params, pllm_model** model) {
  return guarded(nullptr, PLLM_ERR_FORMAT, [&] {
    need(model, "the model pointer") = nullptr;
    pllm_model_params p;
    pllm_model_default_params(&p);
    if (params) p = *params;
    auto handle = std::make_unique<pllm_model>();
    handle->core = load_core(path, p);
    *model = handle.release();
  });
}

void pllm_model_free(pllm_model* model) { delete model; }

const char* pllm_model_last_error(const pllm_model* model) { return model ? model->error.get() : ""; }

pllm_status pllm_model_get_info(const pllm_model* model, pllm_model_info* info) {
  return with_model(model, PLLM_ERR_INTERNAL, [&](const ModelCore& core) {
    need(info, "info");
    const Model& m = *core.model;
    const ModelConfig& c = m.cfg;
    pllm_model_info r{};
    r.architecture = str(c.arch);
    r.name = str(c.name);
    r.chat_template = str(core.chat_template);
    r.n_params = m.n_params();
    r.file_bytes = m.file_bytes;
    r.n_vocab = c.n_vocab;
    r.n_ctx_train = c.context_length;
    r.n_embd = c.dim;
    r.n_ff = c.hidden_dim;
    r.n_layers = c.n_layers;
    r.n_heads = c.n_heads;
    r.n_kv_heads = c.n_kv_heads;
    r.head_dim = c.head_dim;
    r.bos = m.tokenizer ? m.tokenizer->bos() : -1;
    r.eos = m.tokenizer ? m.tokenizer->eos() : -1;
    r.has_tokenizer = m.tokenizer != nullptr;
    *info = r;
  });
}

}  // extern "C"
