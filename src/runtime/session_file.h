// A session's state on disk, so an app resumes a conversation without prefilling it
// again: the model's fingerprint (model/fingerprint.h), the KV type and context size,
// the tokens, the cached keys/values of positions [0, n_past) of every layer as
// stored, and a checksum. Written atomically (core/atomic_file.h).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/fingerprint.h"

namespace pocketllm {

class Sequence;

// Why a state file was refused; the C API reports each kind with its own status.
class SessionFileError : public Error {
 public:
  enum class Kind { Io, Format, Mismatch };
  SessionFileError(Kind k, const std::string& what) : Error(what), kind_(k) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// Writes tokens (the first seq.n_past() of which are cached in seq) and seq's cache.
void save_session_file(const std::string& path, const ModelFingerprint& fp, const Sequence& seq,
                       std::span<const int32_t> tokens);

// Replaces seq's positions and `tokens` with the file's. Throws SessionFileError:
// Io or Mismatch or Format found in the header leave both unchanged; a damaged or
// unreadable cache (found while reading it into seq) leaves both empty.
void load_session_file(const std::string& path, const ModelFingerprint& fp, Sequence& seq,
                       std::vector<int32_t>& tokens);

}  // namespace pocketllm
