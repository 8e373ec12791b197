// HTTP(S) for the Hub through cpp-httplib + OpenSSL: system CA certificates (and
// SSL_CERT_FILE / SSL_CERT_DIR, which OpenSSL reads), proxies from HTTPS_PROXY /
// HTTP_PROXY / NO_PROXY, redirects followed here (not by httplib, which would
// forward the token) so that Authorization only ever goes to the Hub endpoint's
// own origin, and 429 answers with a short Retry-After waited out.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "hub/config.h"
#include "hub/url.h"

namespace pocketllm::hub {

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // the whole body of small answers; of errors up to 64 KiB
  std::string url;   // the URL that gave this answer (after redirects)
  std::string header(std::string_view name) const;  // case-insensitive; "" when absent
};

// A failure below HTTP (no connection, DNS, TLS, timeout, a cut connection): what
// makes a pull fall back to the cache, unlike an HTTP error status.
class NetworkError : public Error {
 public:
  using Error::Error;
};

// The user pressed Ctrl-C (the cancel flag was set).
class Interrupted : public Error {
 public:
  using Error::Error;
};

class HttpClient {
 public:
  // cancel, when given, is polled while waiting and between received chunks.
  explicit HttpClient(const HubConfig& cfg, const std::atomic<bool>* cancel = nullptr);

  // One HEAD request; redirects are returned, not followed.
  HttpResponse head(const std::string& url);
  // GET following redirects; the body is kept (an Error past max_body bytes).
  HttpResponse get(const std::string& url, size_t max_body = size_t{64} << 20);
  // Where get_to sends a 2xx answer: on_start sees its status and headers before
  // the body, on_data the body; either returns false to stop the transfer (the
  // caller knows why).
  struct BodySink {
    std::function<bool(const HttpResponse&)> on_start;
    std::function<bool(const char*, size_t)> on_data;
  };
  // GET following redirects, from byte `offset` (a Range request when > 0). Answers
  // other than 2xx keep their body in the response instead.
  HttpResponse get_to(const std::string& url, uint64_t offset, const BodySink& sink);

  const HubConfig& config() const { return cfg_; }
  // Whether requests to `u` carry the token: only the endpoint's own origin gets it.
  bool sends_token(const Url& u) const;
  void check_cancel() const;

 private:
  HttpResponse send_retrying(const std::string& method, const Url& u, uint64_t offset, const BodySink* sink,
                             size_t max_body);
  HttpResponse send(const std::string& method, const Url& u, uint64_t offset, const BodySink* sink, size_t max_body);
  HttpResponse follow(const std::string& url, uint64_t offset, const BodySink* sink, size_t max_body);

  HubConfig cfg_;
  std::string endpoint_origin_;
  const std::atomic<bool>* cancel_;
};

Url parse_url_or_fail(const std::string& text, const char* what);

}  // namespace pocketllm::hub
