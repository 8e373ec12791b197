#include "hub/hub_errors.h"

#include <fmt/format.h>

namespace pocketllm::hub {

namespace {
std::string hub_says(const HttpResponse& r) {
  std::string m = r.header("X-Error-Message");
  if (m.size() > 300) m = m.substr(0, 300) + "...";
  return m.empty() ? "" : fmt::format(" (the Hub says: {})", m);
}
}  // namespace

void fail_http(const HttpResponse& r, const HubConfig& cfg, const RequestSubject& s) {
  const std::string code = r.header("X-Error-Code");
  const std::string what = s.file.empty() ? fmt::format("the file list of {}", s.repo) : fmt::format("{} from {}", s.file, s.repo);
  const std::string page = fmt::format("{}/{}", cfg.endpoint, s.repo);
  const std::string tokens = fmt::format("{}/settings/tokens", cfg.endpoint);
  const bool has_token = !cfg.token.empty();
  switch (r.status) {
    case 401:
      if (has_token)
        fail("the Hub refused the token from {} for {} (HTTP 401){}: it may be invalid or expired; create a new one at {}",
             cfg.token_source, what, hub_says(r), tokens);
      if (code == "GatedRepo")
        fail("{} is a gated model (HTTP 401){}: log in at {}, accept its licence, then set HF_TOKEN to an access token "
             "from {} (or run `hf auth login`)",
             s.repo, hub_says(r), page, tokens);
      fail("{} needs authentication (HTTP 401){}: check the name; a private or gated repo needs HF_TOKEN set to an "
           "access token from {} (and its licence accepted at {})",
           what, hub_says(r), tokens, page);
    case 403:
      if (code == "GatedRepo" || !has_token)
        fail("{} is a gated model and {} (HTTP 403){}: accept its licence at {} with the account of your token, "
             "then run the command again",
             s.repo, has_token ? "the token's account has no access yet" : "access needs a token (HF_TOKEN)", hub_says(r),
             page);
      fail("the token from {} may not read {} (HTTP 403){}: it needs read access to this repo ({})", cfg.token_source,
           what, hub_says(r), tokens);
    case 404:
      if (code == "RevisionNotFound") fail("{} has no revision '{}' (HTTP 404){}", s.repo, s.revision, hub_says(r));
      if (code == "RepoNotFound" || s.file.empty())
        fail("{}: no such model repo on {} (HTTP 404){}: check OWNER/REPO (a private repo also needs HF_TOKEN)", s.repo,
             cfg.endpoint, hub_says(r));
      fail("{} is not in {} at revision {} (HTTP 404){}", s.file, s.repo, s.revision, hub_says(r));
    case 429: {
      const std::string after = r.header("Retry-After");
      const bool seconds = !after.empty() && after.find_first_not_of("0123456789") == std::string::npos;
      fail("{} is rate-limiting requests (HTTP 429) for {}: retry {}{}", parse_url_or_fail(r.url, "URL").host, what,
           after.empty() ? "in a few minutes" : seconds ? fmt::format("in {} seconds", after) : "after " + after,
           has_token ? "" : "; requests with a token (HF_TOKEN) get a higher limit");
    }
    default: break;
  }
  if (r.status >= 500)
    throw NetworkError(fmt::format("the Hub answered HTTP {} for {}{}: it may be down or overloaded; retry later",
                                   r.status, what, hub_says(r)));
  fail("unexpected HTTP {} for {} from {}{}", r.status, what, r.url, hub_says(r));
}

}  // namespace pocketllm::hub
