// The two Hub questions a download asks:
//   GET  {endpoint}/api/models/{repo}/revision/{rev}   -> commit (sha), file names (siblings[].rfilename)
//   HEAD {endpoint}/{repo}/resolve/{rev}/{file}        -> X-Repo-Commit, ETag / X-Linked-Etag, X-Linked-Size,
//                                                         and Location when the content lives elsewhere (LFS)
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hub/http_client.h"

namespace pocketllm::hub {

struct RepoListing {
  std::string commit;
  std::vector<std::string> files;
};

struct FileMeta {
  std::string commit;
  std::string etag;          // normalised: the blob's name in the cache
  bool lfs = false;          // the etag is X-Linked-Etag (the content's sha256)
  std::optional<uint64_t> size;
  std::string download_url;  // the redirect target when the HEAD answer was a redirect
};

std::string resolve_url(const std::string& endpoint, const std::string& repo, const std::string& revision,
                        const std::string& file);
RepoListing fetch_listing(HttpClient& http, const std::string& repo, const std::string& revision);
// The listing's JSON (url names the source in errors).
RepoListing parse_listing(const std::string& body, const std::string& url);
// HEAD by commit (what the listing said `revision` is); by the revision's name when
// the commit is unknown to the server.
FileMeta fetch_file_meta(HttpClient& http, const std::string& repo, const std::string& commit, const std::string& file,
                         const std::string& revision);

}  // namespace pocketllm::hub
