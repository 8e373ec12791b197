// A plain TCP client on 127.0.0.1 for what cpp-httplib's client cannot do:
// malformed or hostile requests, half-closing, idling and trickling bytes.
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace servertest {

// The final response in raw bytes (interim 1xx responses skipped); its body
// de-chunked when it was chunked. status 0: no complete status line.
struct RawResponse {
  int status = 0;
  int interim = 0;  // 1xx responses before it
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool complete = false;  // the whole body was there
};
RawResponse parse_response(const std::string& bytes);

class RawConnection {
 public:
  explicit RawConnection(int port);  // connects; ok() tells whether it did
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return fd_ >= 0; }
  // False once the server has closed or reset the connection.
  bool send(std::string_view bytes);
  void shutdown_write();
  void close();
  // True when something (bytes or the end) can be read within `wait`.
  bool readable(std::chrono::milliseconds wait);
  // Reads until the server closes the connection or `timeout` passes.
  std::string read_all(std::chrono::milliseconds timeout);
  // Reads until one whole final response has arrived (or close, or `timeout`).
  RawResponse read_response(std::chrono::milliseconds timeout);

 private:
  void read_until(std::string& out, std::chrono::milliseconds timeout, const std::function<bool(const std::string&)>& done);
  int fd_ = -1;
};

// A whole request in one go on a new connection, its response parsed.
RawResponse raw_request(int port, const std::string& request, std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace servertest
