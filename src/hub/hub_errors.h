// An HTTP error answer from the Hub, turned into an Error that says what to do:
// 401/403 (gated or private repo: token, licence), 404 (repo, revision or file),
// 429 (rate limit, with Retry-After), 5xx (the Hub is down: a NetworkError, so a
// cached copy can still be used).
#pragma once
#include <string>

#include "hub/config.h"
#include "hub/http_client.h"

namespace pocketllm::hub {

struct RequestSubject {
  std::string repo, revision;
  std::string file;  // empty: the repo's file list
};

[[noreturn]] void fail_http(const HttpResponse& r, const HubConfig& cfg, const RequestSubject& s);

}  // namespace pocketllm::hub
