#include "runtime/session_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/atomic_file.h"
#include "core/hash64.h"
#include "model/model.h"
#include "model/sequence.h"

namespace pocketllm {
namespace {

constexpr char kMagic[8] = {'P', 'L', 'L', 'M', 'S', 'E', 'S', 'S'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kByteOrder = 0x01020304;  // read back swapped on a machine of the other order
constexpr uint32_t kMaxArch = 256;

// The fixed fields after the magic and the architecture name.
struct Fixed {
  uint64_t config, vocab, tensors;
  uint32_t kv_type, reserved;
  int64_t n_ctx, n_layers, kv_dim, n_tokens, n_past;
};

const char* kv_name(uint32_t t) { return t == 0 ? "f32" : t == 1 ? "f16" : t == 2 ? "q8" : "unknown"; }
uint32_t kv_code(KvType t) { return t == KvType::F32 ? 0 : t == KvType::F16 ? 1 : 2; }

[[noreturn]] void refuse(SessionFileError::Kind k, const std::string& path, const std::string& why) {
  throw SessionFileError(k, path + ": " + why);
}

class Writer {
 public:
  explicit Writer(AtomicFile& f) : f_(f) {}
  void put(const void* p, size_t n) {
    f_.write(p, n);
    h_.add(p, n);
  }
  template <class T>
  void put_value(const T& v) {
    put(&v, sizeof v);
  }
  uint64_t hash() const { return h_.value(); }

 private:
  AtomicFile& f_;
  Hash64 h_;
};

class Reader {
 public:
  Reader(std::FILE* f, const std::string& path) : f_(f), path_(path) {}
  // Short reads are damage: the size was checked first, so the file changed or the disk failed.
  void get(void* p, size_t n) {
    if (n && std::fread(p, 1, n, f_) != n)
      refuse(SessionFileError::Kind::Io, path_, fmt::format("read failed: {}", std::strerror(errno)));
    h_.add(p, n);
  }
  template <class T>
  T get_value() {
    T v;
    get(&v, sizeof v);
    return v;
  }
  uint64_t hash() const { return h_.value(); }

 private:
  std::FILE* f_;
  const std::string& path_;
  Hash64 h_;
};

}  // namespace

void save_session_file(const std::string& path, const ModelFingerprint& fp, const Sequence& seq,
                       std::span<const int32_t> tokens) {
  const KvCache& kv = seq.kv();
  std::unique_ptr<AtomicFile> f;
  try {
    f = std::make_unique<AtomicFile>(path);
  } catch (const Error& e) {
    refuse(SessionFileError::Kind::Io, path, e.what());
  }
  try {
    Writer w(*f);
    w.put(kMagic, sizeof kMagic);
    w.put_value(kVersion);
    w.put_value(kByteOrder);
    w.put_value(static_cast<uint32_t>(fp.arch.size()));
    w.put(fp.arch.data(), fp.arch.size());
    const Fixed fx{fp.config, fp.vocab, fp.tensors, kv_code(kv.type()), 0, seq.n_ctx(), kv.n_layers(), kv.kv_dim(),
                   static_cast<int64_t>(tokens.size()), seq.n_past()};
    w.put_value(fx);
    w.put(tokens.data(), tokens.size_bytes());
    for (int64_t l = 0; l < kv.n_layers(); ++l) {
      auto k = kv.k_bytes(l, seq.n_past()), v = kv.v_bytes(l, seq.n_past());
      w.put(k.data(), k.size());
      w.put(v.data(), v.size());
    }
    const uint64_t sum = w.hash();
    f->write(&sum, sizeof sum);
    f->commit();
  } catch (const SessionFileError&) {
    throw;
  } catch (const Error& e) {
    refuse(SessionFileError::Kind::Io, path, e.what());
  }
}

void load_session_file(const std::string& path, const ModelFingerprint& fp, Sequence& seq,
                       std::vector<int32_t>& tokens) {
  using K = SessionFileError::Kind;
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) refuse(K::Io, path, ec.message());
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) refuse(K::Io, path, std::strerror(errno));
  Reader r(file.get(), path);
  const char* what = "not a pocketllm session file";
  if (size < sizeof kMagic + 12) refuse(K::Format, path, what);
  char magic[sizeof kMagic];
  r.get(magic, sizeof magic);
  if (std::memcmp(magic, kMagic, sizeof kMagic) != 0) refuse(K::Format, path, what);
  const auto version = r.get_value<uint32_t>();
  if (r.get_value<uint32_t>() != kByteOrder) refuse(K::Format, path, "written on a machine of the other byte order");
  if (version != kVersion)
    refuse(K::Format, path, fmt::format("session file version {}; this pocketllm reads version {}", version, kVersion));
  const auto arch_len = r.get_value<uint32_t>();
  if (arch_len > kMaxArch || size < sizeof kMagic + 12 + arch_len + sizeof(Fixed)) refuse(K::Format, path, "truncated header");
  std::string arch(arch_len, '\0');
  r.get(arch.data(), arch_len);
  const auto fx = r.get_value<Fixed>();

  // Another model: said before anything else about the file's contents.
  if (arch != fp.arch)
    refuse(K::Mismatch, path, fmt::format("saved with a '{}' model; this model is '{}'", arch, fp.arch));
  if (fx.config != fp.config) refuse(K::Mismatch, path, "saved with a model of other hyperparameters");
  if (fx.vocab != fp.vocab) refuse(K::Mismatch, path, "saved with a model of another vocabulary");
  if (fx.tensors != fp.tensors) refuse(K::Mismatch, path, "saved with other weights (tensor names, types, shapes or contents differ)");
  const KvCache& kv = seq.kv();
  if (fx.kv_type != kv_code(kv.type()))
    refuse(K::Mismatch, path, fmt::format("saved with a {} KV cache; this session's is {} (create it with the same KV type)",
                                          kv_name(fx.kv_type), kv_name(kv_code(kv.type()))));
  if (fx.n_ctx != seq.n_ctx())
    refuse(K::Mismatch, path, fmt::format("saved from a session of context size {}; this one's is {} (create it with n_ctx {})",
                                          fx.n_ctx, seq.n_ctx(), fx.n_ctx));
  if (fx.n_layers != kv.n_layers() || fx.kv_dim != kv.kv_dim() || fx.reserved != 0)
    refuse(K::Format, path, "the header contradicts the model it names");
  if (fx.n_past < 0 || fx.n_past > fx.n_ctx || fx.n_tokens < fx.n_past || fx.n_tokens > fx.n_ctx + 1)
    refuse(K::Format, path, fmt::format("{} tokens of which {} cached do not fit a context of {}", fx.n_tokens,
                                        fx.n_past, fx.n_ctx));
  const size_t kv_bytes = kv.k_bytes(0, fx.n_past).size() * 2 * static_cast<size_t>(kv.n_layers());
  const size_t want = sizeof kMagic + 12 + arch_len + sizeof(Fixed) + static_cast<size_t>(fx.n_tokens) * 4 + kv_bytes + 8;
  if (size != want)
    refuse(K::Format, path, fmt::format("{} bytes where the header implies {}: the file is truncated or damaged", size, want));
  std::vector<int32_t> ids(static_cast<size_t>(fx.n_tokens));
  r.get(ids.data(), ids.size() * 4);
  for (int32_t id : ids)
    if (id < 0 || id >= seq.model().cfg.n_vocab) refuse(K::Format, path, fmt::format("token id {} is not in the vocabulary", id));

  // The header holds: read the cache in place. From here a failure empties the session.
  seq.truncate(0);
  tokens.clear();
  for (int64_t l = 0; l < kv.n_layers(); ++l) {
    auto k = seq.kv().k_bytes(l, fx.n_past), v = seq.kv().v_bytes(l, fx.n_past);
    r.get(k.data(), k.size());
    r.get(v.data(), v.size());
  }
  const uint64_t sum = r.hash();
  uint64_t stored = 0;
  if (std::fread(&stored, 1, sizeof stored, file.get()) != sizeof stored || stored != sum)
    refuse(K::Format, path, "the checksum does not match: the file is damaged");
  seq.advance(fx.n_past);
  tokens = std::move(ids);
}

}  // namespace pocketllm
