// A conversation as a list of tokens over one Context (an engine and a sequence),
// for apps (the C API, include/pocketllm.h): tokens are appended, or replaced by a
// new rendering of the conversation keeping the longest common prefix cached; each
// generate() prefills what is not cached yet and continues after the last token;
// the state saves to and restores from a file (runtime/session_file.h).
//
// Invariant: the first n_cached() tokens are the sequence's positions; the rest
// (appended, or the last token drawn) are run by the next generate().
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/context.h"
#include "model/fingerprint.h"
#include "runtime/generate.h"
#include "runtime/generation.h"

namespace pocketllm {

// Errors the C API reports with their own status (everything else is a plain Error).
class ContextFullError : public Error {
 public:
  using Error::Error;
};
class CallOrderError : public Error {
 public:
  using Error::Error;
};

class Session {
 public:
  Session(const Model& m, const ContextParams& p);

  const std::vector<int32_t>& tokens() const { return tokens_; }
  int64_t n_cached() const { return ctx_.n_past(); }
  int64_t n_ctx() const { return ctx_.n_ctx(); }
  KvType kv_type() const { return ctx_.sequence().kv().type(); }

  // Throws ContextFullError (nothing appended) when the tokens do not fit, Error for an id out of the vocabulary.
  void append(std::span<const int32_t> ids);
  // The session becomes `ids`; returns how many leading tokens stay cached.
  size_t replace(std::span<const int32_t> ids);
  void reset();

  struct GenerateOptions {
    SamplingParams sampling;
    GenerationLimits limits;
    // Pass the session's tokens as text first (token -1) and continue that text.
    bool echo_prompt = false;
    // After each token drawn, with the text that can be shown now; false stops.
    std::function<bool(int32_t token, const std::string& text)> on_token;
    const std::atomic<bool>* cancel = nullptr;  // set (from any thread) to stop
  };
  // Throws CallOrderError on an empty session, ContextFullError when the tokens
  // no longer fit (a generation that ended at the context's end).
  GenerateStats generate(const GenerateOptions& o);

  void save(const std::string& path);
  void load(const std::string& path);

 private:
  void check_ids(std::span<const int32_t> ids) const;
  const ModelFingerprint& fingerprint();

  Context ctx_;
  std::vector<int32_t> tokens_;
  std::optional<ModelFingerprint> fp_;  // computed at the first save or load
};

}  // namespace pocketllm
