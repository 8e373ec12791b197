#include "hub/checksum.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/error.h"

namespace pocketllm::hub {

struct Digest::Ctx {
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Digest::Digest(Kind kind) : kind_(kind), ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  if (!ctx_->md) throw std::bad_alloc();
  reset();
}

Digest::~Digest() = default;

void Digest::reset() {
  if (EVP_DigestInit_ex(ctx_->md, kind_ == Kind::Sha256 ? EVP_sha256() : EVP_sha1(), nullptr) != 1)
    fail("OpenSSL: cannot start a {} digest", kind_ == Kind::Sha256 ? "sha256" : "sha1");
}

void Digest::update(const void* data, size_t n) {
  if (n && EVP_DigestUpdate(ctx_->md, data, n) != 1) fail("OpenSSL: digest update failed");
}

std::string Digest::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->md, md, &len) != 1) fail("OpenSSL: digest failed");
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out;
}

std::string ExpectedChecksum::describe() const {
  switch (kind) {
    case Kind::Sha256: return "sha256 " + hex;
    case Kind::GitBlobSha1: return "git blob sha1 " + hex;
    case Kind::None: break;
  }
  return "no checksum";
}

std::string normalize_etag(std::string_view etag) {
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  while (!etag.empty() && etag.front() == '"') etag.remove_prefix(1);
  while (!etag.empty() && etag.back() == '"') etag.remove_suffix(1);
  return std::string(etag);
}

ExpectedChecksum expected_checksum(const std::string& etag, bool lfs) {
  const bool hex = !etag.empty() && std::all_of(etag.begin(), etag.end(), [](unsigned char c) { return std::isxdigit(c); });
  ExpectedChecksum e;
  if (hex && etag.size() == 64) e.kind = ExpectedChecksum::Kind::Sha256;  // LFS, or a mirror's sha256 ETag
  else if (hex && etag.size() == 40 && !lfs) e.kind = ExpectedChecksum::Kind::GitBlobSha1;
  e.hex = etag;
  std::transform(e.hex.begin(), e.hex.end(), e.hex.begin(), [](unsigned char c) { return std::tolower(c); });
  return e;
}

void hash_file_into(Digest& d, const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
  std::vector<char> buf(1 << 20);
  while (true) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      fail("{}: read failed: {}", path, std::strerror(err));
    }
    if (n == 0) break;
    d.update(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
}

std::string file_checksum(const std::string& path, ExpectedChecksum::Kind kind) {
  if (kind == ExpectedChecksum::Kind::Sha256) {
    Digest d(Digest::Kind::Sha256);
    hash_file_into(d, path);
    return d.hex();
  }
  Digest d(Digest::Kind::Sha1);
  const std::string header = "blob " + std::to_string(std::filesystem::file_size(path)) + '\0';
  d.update(header.data(), header.size());
  hash_file_into(d, path);
  return d.hex();
}

}  // namespace pocketllm::hub
