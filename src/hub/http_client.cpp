#include "hub/http_client.h"

#include <httplib.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

namespace pocketllm::hub {

namespace {

constexpr int kMaxRedirects = 10;
constexpr int kMaxAttempts = 3;       // for 429 answers with a short Retry-After
constexpr int kMaxRetryAfterS = 10;   // longer waits are the user's call
constexpr size_t kMaxErrorBody = 64 << 10;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// NO_PROXY: comma-separated host names (suffix match, leading '.' optional), or '*'.
bool bypasses_proxy(const std::string& host, const std::string& no_proxy) {
  size_t start = 0;
  while (start <= no_proxy.size()) {
    size_t comma = no_proxy.find(',', start);
    if (comma == std::string::npos) comma = no_proxy.size();
    std::string entry = no_proxy.substr(start, comma - start);
    entry.erase(std::remove_if(entry.begin(), entry.end(), [](unsigned char c) { return std::isspace(c); }), entry.end());
    if (auto colon = entry.rfind(':'); colon != std::string::npos && entry.find(']') == std::string::npos &&
                                       entry.find(':') == colon)
      entry.erase(colon);  // host:port -> host
    while (entry.starts_with('.')) entry.erase(0, 1);
    if (entry == "*") return true;
    if (!entry.empty() && (iequals(host, entry) ||
                           (host.size() > entry.size() && host[host.size() - entry.size() - 1] == '.' &&
                            iequals(std::string_view(host).substr(host.size() - entry.size()), entry))))
      return true;
    start = comma + 1;
  }
  return false;
}

struct Proxy {
  std::string host, user, password;
  int port = 0;
};

std::optional<Proxy> proxy_for(const Url& u, const HubConfig& cfg) {
  const std::string& spec = u.scheme == "https" ? cfg.https_proxy : cfg.http_proxy;
  if (spec.empty() || bypasses_proxy(u.host, cfg.no_proxy)) return std::nullopt;
  const std::string full = spec.find("://") == std::string::npos ? "http://" + spec : spec;
  const char* var = u.scheme == "https" ? "HTTPS_PROXY" : "HTTP_PROXY";
  auto p = parse_url(full);
  if (!p || p->scheme != "http")
    fail("{}='{}': expected an http:// proxy URL such as http://proxy.example:3128", var, spec);
  Proxy out{p->host, "", "", p->port};
  const auto at = full.rfind('@');
  if (at != std::string::npos) {
    const std::string creds = full.substr(full.find("://") + 3, at - full.find("://") - 3);
    const auto colon = creds.find(':');
    out.user = creds.substr(0, colon);
    if (colon != std::string::npos) out.password = creds.substr(colon + 1);
  }
  return out;
}

std::string describe(httplib::Error e, const Url& u, long verify_result, int timeout_s, bool via_proxy) {
  const std::string where = u.host_port() + (via_proxy ? " (through the proxy)" : "");
  switch (e) {
    case httplib::Error::Connection:
      return fmt::format("cannot connect to {}: no network, an unknown host, or the connection was refused", where);
    case httplib::Error::ConnectionTimeout:
      return fmt::format("connecting to {} timed out after {} s", where, timeout_s);
    case httplib::Error::Read:
      return fmt::format("the connection to {} broke or stalled for more than {} s", where, timeout_s);
    case httplib::Error::Write:
      return fmt::format("sending the request to {} failed", where);
    case httplib::Error::SSLConnection:
      return fmt::format("the TLS handshake with {} failed", where);
    case httplib::Error::SSLLoadingCerts:
      return "cannot load the CA certificates (install ca-certificates, or point SSL_CERT_FILE at a PEM bundle)";
    case httplib::Error::SSLServerVerification:
      return fmt::format("the TLS certificate of {} is not trusted ({}): check the system CA certificates "
                         "(ca-certificates), SSL_CERT_FILE, and the clock",
                         where, verify_result != X509_V_OK ? X509_verify_cert_error_string(verify_result)
                                                           : "the host name does not match");
    default:
      return fmt::format("the request to {} failed: {}", where, httplib::to_string(e));
  }
}

std::optional<int> retry_after_seconds(const std::string& v) {
  if (v.empty() || v.size() > 9 || !std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); }))
    return std::nullopt;
  return std::stoi(v);
}

bool is_followed_redirect(int status) { return status == 301 || status == 302 || status == 303 || status == 307 || status == 308; }

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return "";
}

Url parse_url_or_fail(const std::string& text, const char* what) {
  auto u = parse_url(text);
  if (!u) fail("{} '{}' is not an http:// or https:// URL", what, text);
  return *u;
}

HttpClient::HttpClient(const HubConfig& cfg, const std::atomic<bool>* cancel)
    : cfg_(cfg), endpoint_origin_(parse_url_or_fail(cfg.endpoint, "HF_ENDPOINT").origin()), cancel_(cancel) {}

bool HttpClient::sends_token(const Url& u) const { return !cfg_.token.empty() && u.origin() == endpoint_origin_; }

void HttpClient::check_cancel() const {
  if (cancel_ && cancel_->load()) throw Interrupted("interrupted");
}

HttpResponse HttpClient::send(const std::string& method, const Url& u, uint64_t offset,
                              const BodySink* sink, size_t max_body) {
  check_cancel();
  httplib::Client cli(u.scheme + "://" + u.host_port());
  cli.set_follow_location(false);
  cli.set_url_encode(false);  // paths arrive encoded
  cli.set_keep_alive(false);
  cli.set_connection_timeout(cfg_.timeout_s);
  cli.set_read_timeout(cfg_.timeout_s);
  cli.set_write_timeout(cfg_.timeout_s);
  const auto proxy = proxy_for(u, cfg_);
  if (proxy) {
    cli.set_proxy(proxy->host, proxy->port);
    if (!proxy->user.empty()) cli.set_proxy_basic_auth(proxy->user, proxy->password);
  }
  httplib::Headers h{{"User-Agent", "pocketllm/0.1.0"}, {"Accept-Encoding", "identity"}};
  if (sends_token(u)) h.emplace("Authorization", "Bearer " + cfg_.token);
  if (offset > 0) h.emplace("Range", "bytes=" + std::to_string(offset) + "-");

  HttpResponse r;
  r.url = u.str();
  bool body_too_large = false;
  const auto ok = [&] { return r.status >= 200 && r.status < 300; };
  auto keep_meta = [&](const httplib::Response& res) {
    r.status = res.status;
    for (auto& [k, v] : res.headers) r.headers.emplace_back(k, v);
    return sink && ok() ? sink->on_start(r) : true;
  };
  auto receive = [&](const char* data, size_t n) {
    if (cancel_ && cancel_->load()) return false;
    if (sink && ok()) return sink->on_data(data, n);
    const size_t limit = sink ? kMaxErrorBody : max_body;
    if (r.body.size() + n > limit) {
      if (!sink) {
        body_too_large = true;
        return false;
      }
      n = limit - r.body.size();  // keep the start of a long error page
    }
    r.body.append(data, n);
    return true;
  };
  httplib::Result res = method == "HEAD" ? cli.Head(u.target, h) : cli.Get(u.target, h, keep_meta, receive);
  if (res.error() == httplib::Error::Canceled) {
    check_cancel();
    if (body_too_large) fail("the answer of {} is larger than {} bytes", u.str(), max_body);
    return r;  // the sink stopped the transfer
  }
  if (!res) {
    long verify = X509_V_OK;
    if (res.error() == httplib::Error::SSLServerVerification) verify = cli.get_openssl_verify_result();
    throw NetworkError(describe(res.error(), u, verify, cfg_.timeout_s, proxy.has_value()));
  }
  if (r.status == 0) {  // HEAD and 204 answers skip the response handler
    r.status = res->status;
    for (auto& [k, v] : res->headers) r.headers.emplace_back(k, v);
  }
  return r;
}

HttpResponse HttpClient::send_retrying(const std::string& method, const Url& u, uint64_t offset,
                                       const BodySink* sink, size_t max_body) {
  for (int attempt = 1;; ++attempt) {
    HttpResponse r = send(method, u, offset, sink, max_body);
    if (r.status != 429 || attempt == kMaxAttempts) return r;
    const auto wait = retry_after_seconds(r.header("Retry-After"));
    if (wait && *wait > kMaxRetryAfterS) return r;
    const int s = wait ? std::max(*wait, 1) : attempt;
    std::fprintf(stderr, "%s is rate-limiting requests (HTTP 429); retrying in %d s\n", u.host.c_str(), s);
    for (int i = 0; i < s * 10; ++i) {
      check_cancel();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

HttpResponse HttpClient::follow(const std::string& url, uint64_t offset,
                                const BodySink* sink, size_t max_body) {
  Url u = parse_url_or_fail(url, "URL");
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    HttpResponse r = send_retrying("GET", u, offset, sink, max_body);
    const std::string location = r.header("Location");
    if (!is_followed_redirect(r.status) || location.empty()) return r;
    auto next = resolve_location(u, location);
    if (!next) fail("{} redirected to '{}', which is not an http(s) URL", u.str(), location);
    u = *next;
  }
  fail("{}: more than {} redirects", url, kMaxRedirects);
}

HttpResponse HttpClient::head(const std::string& url) {
  return send_retrying("HEAD", parse_url_or_fail(url, "URL"), 0, nullptr, 0);
}

HttpResponse HttpClient::get(const std::string& url, size_t max_body) { return follow(url, 0, nullptr, max_body); }

HttpResponse HttpClient::get_to(const std::string& url, uint64_t offset, const BodySink& sink) {
  return follow(url, offset, &sink, 0);
}

}  // namespace pocketllm::hub
