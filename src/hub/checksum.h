// How a downloaded file is checked against what the Hub says it is (OpenSSL EVP):
// LFS files by the sha256 of their content (X-Linked-Etag), small files by git's
// blob SHA-1 (their ETag), i.e. SHA-1 of "blob <size>\0" followed by the content.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace pocketllm::hub {

class Digest {
 public:
  enum class Kind { Sha256, Sha1 };
  explicit Digest(Kind kind);
  ~Digest();
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;

  void update(const void* data, size_t n);
  std::string hex();  // finishes the digest: lower-case hex
  void reset();

 private:
  Kind kind_;
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// What a file's checksum must be, from the ETags of a HEAD answer.
struct ExpectedChecksum {
  enum class Kind { None, Sha256, GitBlobSha1 } kind = Kind::None;
  std::string hex;  // lower case
  std::string describe() const;  // "sha256 <hex>", "git blob sha1 <hex>"
};

// huggingface_hub's normalisation of an ETag header: W/ prefix and quotes dropped.
std::string normalize_etag(std::string_view etag);
// From the normalised ETag: the sha256 of an LFS file (X-Linked-Etag) or the
// git blob SHA-1 of a small one; None when it is neither (an unknown mirror).
ExpectedChecksum expected_checksum(const std::string& etag, bool lfs);

// Feeds a whole file to the digest (the part of a download already on disk).
void hash_file_into(Digest& d, const std::string& path);
// The file's checksum in the expected kind (git's blob SHA-1 includes its header).
std::string file_checksum(const std::string& path, ExpectedChecksum::Kind kind);

}  // namespace pocketllm::hub
