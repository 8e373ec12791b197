#include "hub/hub_api.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "hub/checksum.h"
#include "hub/hub_errors.h"
#include "hub/model_ref.h"

namespace pocketllm::hub {

namespace {

constexpr int kMaxHeadHops = 5;

bool is_3xx(int status) { return status >= 300 && status < 400; }

std::optional<uint64_t> parse_size(const std::string& s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string resolve_url(const std::string& endpoint, const std::string& repo, const std::string& revision,
                        const std::string& file) {
  return endpoint + "/" + repo + "/resolve/" + percent_encode(revision, false) + "/" + percent_encode(file, true);
}

RepoListing parse_listing(const std::string& body, const std::string& url) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  const std::string bad = fmt::format("{} answered with something that is not a Hub model listing", url);
  if (!j.is_object() || !j.contains("sha") || !j["sha"].is_string() || !j.contains("siblings") || !j["siblings"].is_array())
    fail("{} (no 'sha' string and 'siblings' array): is HF_ENDPOINT a Hugging Face Hub?", bad);
  RepoListing out;
  out.commit = j["sha"].get<std::string>();
  check_plain_name(out.commit, "commit");
  for (auto& s : j["siblings"]) {
    if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string())
      fail("{} (a sibling without an 'rfilename' string)", bad);
    out.files.push_back(s["rfilename"].get<std::string>());
  }
  return out;
}

RepoListing fetch_listing(HttpClient& http, const std::string& repo, const std::string& revision) {
  const std::string url =
      http.config().endpoint + "/api/models/" + repo + "/revision/" + percent_encode(revision, false);
  const HttpResponse r = http.get(url);
  if (r.status != 200) fail_http(r, http.config(), {repo, revision, ""});
  return parse_listing(r.body, url);
}

namespace {

// HEAD of the file at one revision; same-origin redirects without metadata (a renamed
// repo) are followed, the others are the answer (the metadata sits on the redirect
// when the content lives elsewhere, e.g. LFS on a CDN).
HttpResponse head_resolve(HttpClient& http, std::string url) {
  HttpResponse r;
  for (int hop = 0;; ++hop) {
    r = http.head(url);
    const bool has_meta = !r.header("X-Linked-Etag").empty() || !r.header("ETag").empty();
    if (!is_3xx(r.status) || has_meta || hop == kMaxHeadHops) return r;
    const auto from = parse_url_or_fail(url, "URL");
    const auto next = resolve_location(from, r.header("Location"));
    if (!next || next->origin() != from.origin()) return r;
    url = next->str();
  }
}

}  // namespace

FileMeta fetch_file_meta(HttpClient& http, const std::string& repo, const std::string& commit, const std::string& file,
                         const std::string& revision) {
  std::string url = resolve_url(http.config().endpoint, repo, commit, file);
  HttpResponse r = head_resolve(http, url);
  // The Hub resolves commits; a mirror that only knows branch names gets a second chance.
  if (r.status == 404 && revision != commit && r.header("X-Error-Code") != "EntryNotFound") {
    url = resolve_url(http.config().endpoint, repo, revision, file);
    r = head_resolve(http, url);
  }
  if (r.status >= 400 || r.status < 200) fail_http(r, http.config(), {repo, commit, file});
  FileMeta m;
  m.commit = r.header("X-Repo-Commit");
  if (m.commit.empty()) m.commit = commit;
  check_plain_name(m.commit, "X-Repo-Commit");
  const std::string linked = r.header("X-Linked-Etag");
  m.lfs = !linked.empty();
  m.etag = normalize_etag(m.lfs ? linked : r.header("ETag"));
  if (m.etag.empty())
    fail("{}: the answer has no ETag, so the file cannot be verified or cached: is HF_ENDPOINT ({}) a Hugging Face Hub?",
         url, http.config().endpoint);
  check_plain_name(m.etag, "ETag of " + file);
  m.size = parse_size(r.header("X-Linked-Size"));
  if (!m.size && !is_3xx(r.status)) m.size = parse_size(r.header("Content-Length"));
  m.download_url = url;
  if (is_3xx(r.status) && !r.header("Location").empty()) {
    const auto target = resolve_location(parse_url_or_fail(url, "URL"), r.header("Location"));
    if (!target) fail("{} redirects to '{}', which is not an http(s) URL", url, r.header("Location"));
    m.download_url = target->str();
  }
  return m;
}

}  // namespace pocketllm::hub
