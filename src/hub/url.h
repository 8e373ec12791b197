// The little URL handling the Hub client needs: split http(s) URLs, resolve a
// redirect's Location, percent-encode path parts.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace pocketllm::hub {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6
  int port = 0;
  std::string target;  // path and query, starting with '/'

  std::string host_port() const;  // "host:port" ("[::1]:port" for IPv6)
  std::string origin() const { return scheme + "://" + host_port(); }
  std::string str() const { return origin() + target; }
};

// http(s)://host[:port][/path][?query]; nullopt for anything else.
std::optional<Url> parse_url(std::string_view text);
// A redirect's Location (absolute, or relative to `base`) as a full URL.
std::optional<Url> resolve_location(const Url& base, std::string_view location);
// Percent-encodes every byte but A-Z a-z 0-9 - . _ ~ (and '/' when keep_slash).
std::string percent_encode(std::string_view s, bool keep_slash);

}  // namespace pocketllm::hub
