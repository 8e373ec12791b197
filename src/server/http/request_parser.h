// An incremental HTTP/1.1 request parser that never holds more than its limits:
// the header section (request line, fields and chunked trailers) is capped in
// bytes and fields, the body in decoded bytes however it is framed
// (Content-Length or chunked, decoded as it arrives). Bytes after a complete
// request stay buffered for the next one (pipelining).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/http/message.h"

namespace pocketllm::server::http {

struct ParserLimits {
  size_t max_header_bytes = 32u << 10;  // request line + header fields (and, separately, chunked trailers)
  size_t max_header_fields = 100;
  size_t max_body_bytes = 4u << 20;
};

class RequestParser {
 public:
  enum class State { Incomplete, Complete, Failed };

  explicit RequestParser(ParserLimits limits) : limits_(limits) {}

  // Takes bytes received from the client and parses as far as they go.
  State feed(std::string_view bytes);
  // Parses what is buffered (after take(): the next pipelined request).
  State resume() { return parse(); }
  State state() const { return state_; }

  // After Failed: the status to answer (400, 413, 417, 431, 501, 505) and why.
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }

  // Some byte of the current request has arrived (blank lines before it aside).
  bool started() const { return started_; }
  // The header section is complete and asks for "100 Continue" before the body;
  // true once per request, for the caller to answer.
  bool take_continue_request();
  // What is known of the current request (method and path once its line parsed).
  const Request& current() const { return req_; }

  // After Complete: hands out the request and resets for the bytes after it.
  Request take();
  // Bytes of a next request are already buffered.
  bool has_buffered() const { return buf_.size() > pos_; }

 private:
  enum class Phase { Head, Body, ChunkSize, ChunkData, ChunkDataEnd, Trailers, Done };
  State parse();
  bool next_line(std::string_view& line, size_t max_len, size_t& counter, int status, const std::string& message);
  bool parse_request_line(std::string_view line);
  bool parse_field(std::string_view line);
  bool finish_head();
  bool parse_chunk_size(std::string_view line);
  State fail(int status, std::string message);

  ParserLimits limits_;
  std::string buf_;
  size_t pos_ = 0;  // bytes of buf_ already parsed
  Phase phase_ = Phase::Head;
  State state_ = State::Incomplete;
  Request req_;
  bool started_ = false, have_request_line_ = false, continue_pending_ = false;
  size_t head_bytes_ = 0;     // header section bytes consumed so far
  size_t trailer_bytes_ = 0;  // chunked trailer bytes consumed so far
  uint64_t remaining_ = 0;    // body or chunk bytes still to come
  int error_status_ = 0;
  std::string error_message_;
};

}  // namespace pocketllm::server::http
