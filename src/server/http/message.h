// HTTP/1.1 requests and responses as the server's own layer sees them (RFC 9112).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace pocketllm::server::http {

struct Header {
  std::string name;  // requests: lower-cased by the parser
  std::string value;
};

struct Request {
  std::string method;  // as sent (methods are case-sensitive)
  std::string target;  // the raw request-target
  std::string path;    // target before '?', percent-decoded
  std::string query;   // after '?', raw
  int minor_version = 1;  // HTTP/1.x
  std::vector<Header> headers;
  std::string body;  // decoded (chunked framing removed)
  bool keep_alive = true;

  // The first value of a header (name in lower case), "" when absent.
  std::string_view header(std::string_view lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<Header> headers;  // beyond Content-Type, Content-Length and Connection
};

// "Not Found" for 404 and so on; "Unknown" for codes the server does not use.
const char* reason_phrase(int status);

// Lower-case ASCII copy.
std::string to_lower(std::string_view s);

}  // namespace pocketllm::server::http
