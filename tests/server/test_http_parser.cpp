// The server's HTTP/1.1 request parser in process: framing (Content-Length,
// chunked), its limits, malformed requests, pipelining, and bytes arriving one
// at a time.
#include <gtest/gtest.h>

#include "server/http/request_parser.h"
#include "server/http/router.h"
#include "server/request_log.h"

using namespace pocketllm::server;
using namespace pocketllm::server::http;
using State = RequestParser::State;

namespace {

ParserLimits small_limits() {
  ParserLimits l;
  l.max_header_bytes = 1024;
  l.max_header_fields = 20;
  l.max_body_bytes = 100;
  return l;
}

// Feeds `bytes` whole, then again one byte at a time: both must end the same way.
State parse_both_ways(const std::string& bytes, Request* out = nullptr, int* status = nullptr) {
  RequestParser whole(small_limits()), bytewise(small_limits());
  const State a = whole.feed(bytes);
  State b = State::Incomplete;
  for (char c : bytes) {
    b = bytewise.feed(std::string_view(&c, 1));
    if (b != State::Incomplete) break;
  }
  EXPECT_EQ(a, b) << bytes;
  if (a == State::Failed) {
    EXPECT_EQ(whole.error_status(), bytewise.error_status()) << bytes;
    if (status) *status = whole.error_status();
  }
  if (a == State::Complete && out) {
    *out = whole.take();
    const Request other = bytewise.take();
    EXPECT_EQ(out->body, other.body);
    EXPECT_EQ(out->path, other.path);
  }
  return a;
}

int failure_status(const std::string& bytes) {
  int status = 0;
  EXPECT_EQ(parse_both_ways(bytes, nullptr, &status), State::Failed) << bytes;
  return status;
}

TEST(HttpParser, ContentLengthBodyAndFields) {
  Request r;
  ASSERT_EQ(parse_both_ways("POST /v1/completions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                            "X-Key:  spaced value \t\r\n\r\nhello",
                            &r),
            State::Complete);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/v1/completions");
  EXPECT_EQ(r.query, "x=1");
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(r.header("x-key"), "spaced value");
  EXPECT_EQ(r.minor_version, 1);
  EXPECT_TRUE(r.keep_alive);
}

TEST(HttpParser, ChunkedBodyIsDecoded) {
  Request r;
  ASSERT_EQ(parse_both_ways("POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n",
                            &r),
            State::Complete);
  EXPECT_EQ(r.body, "hello 0123456789");
}

TEST(HttpParser, BodyLimitHoldsHoweverTheBodyIsFramed) {
  EXPECT_EQ(failure_status("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n"), 413);
  Request r;
  EXPECT_EQ(parse_both_ways("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'a'), &r),
            State::Complete);
  // Chunked: rejected as soon as the sizes add up past the limit, before the data arrives.
  EXPECT_EQ(failure_status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + std::string(64, 'a') +
                           "\r\n40\r\n"),
            413);
  EXPECT_EQ(failure_status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffff\r\n"), 413);
  // The parser never holds more body than the limit.
  RequestParser p(small_limits());
  p.feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  State st = State::Incomplete;
  for (int i = 0; i < 1000 && st == State::Incomplete; ++i) st = p.feed("10\r\n0123456789abcdef\r\n");
  EXPECT_EQ(st, State::Failed);
  EXPECT_EQ(p.error_status(), 413);
  EXPECT_LE(p.current().body.size(), 100u);
}

TEST(HttpParser, HeaderLimitsAre431) {
  EXPECT_EQ(failure_status("GET / HTTP/1.1\r\nX: " + std::string(2000, 'a') + "\r\n\r\n"), 431);
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 21; ++i) many.append("X").append(std::to_string(i)).append(": 1\r\n");
  EXPECT_EQ(failure_status(many + "\r\n"), 431);
  // An endless header line fails before its end arrives.
  RequestParser p(small_limits());
  EXPECT_EQ(p.feed("GET / HTTP/1.1\r\nX: " + std::string(1100, 'a')), State::Failed);
  EXPECT_EQ(p.error_status(), 431);
  // Chunked trailers are capped too.
  EXPECT_EQ(failure_status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " + std::string(1100, 'a') +
                           "\r\n\r\n"),
            431);
}

TEST(HttpParser, ContentLengthConflictsAndSmugglingShapesAre400) {
  EXPECT_EQ(failure_status("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"), 400);
  EXPECT_EQ(failure_status("POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\nhello!"), 400);
  EXPECT_EQ(failure_status("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(failure_status("POST / HTTP/1.1\r\nContent-Length: \r\n\r\n"), 400);
  EXPECT_EQ(failure_status("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"), 400);
  EXPECT_EQ(failure_status("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
  EXPECT_EQ(failure_status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
  EXPECT_EQ(failure_status("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501);
  // Identical repeats are allowed (RFC 9110 8.6).
  Request r;
  ASSERT_EQ(parse_both_ways("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", &r), State::Complete);
  EXPECT_EQ(r.body, "ok");
}

TEST(HttpParser, MalformedRequestsAre400Or505) {
  for (const std::string bad :
       {"GET\r\n\r\n", "GET /\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n", "G(T / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1 x\r\n\r\n",
        "GET nopath HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nNo colon\r\n\r\n", "GET / HTTP/1.1\r\nBad name: x\r\n\r\n",
        "GET / HTTP/1.1\r\nX : y\r\n\r\n", "GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", "GET / FTP/1.1\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n"})
    EXPECT_EQ(failure_status(bad), 400) << bad;
  EXPECT_EQ(failure_status("GET / HTTP/2.0\r\n\r\n"), 505);
  EXPECT_EQ(failure_status("POST / HTTP/1.1\r\nExpect: something\r\n\r\n"), 417);
}

TEST(HttpParser, PathIsDecodedAndTargetsNormalised) {
  Request r;
  ASSERT_EQ(parse_both_ways("GET /a%20b%0a%zz%4 HTTP/1.1\r\n\r\n", &r), State::Complete);
  EXPECT_EQ(r.path, "/a b\n%zz%4");
  ASSERT_EQ(parse_both_ways("GET http://host:8080/v1/models?q HTTP/1.1\r\n\r\n", &r), State::Complete);
  EXPECT_EQ(r.path, "/v1/models");
  EXPECT_EQ(r.query, "q");
}

TEST(HttpParser, KeepAliveAndExpect) {
  Request r;
  ASSERT_EQ(parse_both_ways("GET / HTTP/1.0\r\n\r\n", &r), State::Complete);
  EXPECT_FALSE(r.keep_alive);
  ASSERT_EQ(parse_both_ways("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r), State::Complete);
  EXPECT_TRUE(r.keep_alive);
  ASSERT_EQ(parse_both_ways("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n", &r), State::Complete);
  EXPECT_FALSE(r.keep_alive);
  RequestParser p(small_limits());
  EXPECT_EQ(p.feed("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"), State::Incomplete);
  EXPECT_TRUE(p.take_continue_request());
  EXPECT_FALSE(p.take_continue_request());
  EXPECT_EQ(p.feed("ok"), State::Complete);
}

TEST(HttpParser, PipelinedRequestsAndBareLineFeeds) {
  RequestParser p(small_limits());
  EXPECT_FALSE(p.started());
  EXPECT_EQ(p.feed("\r\n"), State::Incomplete);
  EXPECT_FALSE(p.started()) << "blank lines before a request do not start it";
  EXPECT_EQ(p.feed("GET /a HTTP/1.1\n\nPOST /b HTTP/1.1\r\nContent-Length: 1\r\n\r\nxGET /c"), State::Complete);
  EXPECT_EQ(p.take().path, "/a");
  ASSERT_TRUE(p.has_buffered());
  EXPECT_EQ(p.resume(), State::Complete);
  Request b = p.take();
  EXPECT_EQ(b.path, "/b");
  EXPECT_EQ(b.body, "x");
  EXPECT_EQ(p.resume(), State::Incomplete);
  EXPECT_TRUE(p.started());
  EXPECT_EQ(p.feed(" HTTP/1.1\r\n\r\n"), State::Complete);
  EXPECT_EQ(p.take().path, "/c");
}

TEST(HttpRouter, WrongMethodListsTheAllowedOnes) {
  Router r;
  int hits = 0;
  r.add("GET", "/health", [&](Exchange&) { ++hits; });
  r.add("POST", "/v1/completions", [&](Exchange&) { ++hits; });
  EXPECT_NE(r.find("GET", "/health").handler, nullptr);
  EXPECT_NE(r.find("HEAD", "/health").handler, nullptr);
  EXPECT_EQ(r.find("POST", "/health").handler, nullptr);
  EXPECT_EQ(r.find("POST", "/health").allow, "GET, HEAD");
  EXPECT_EQ(r.find("GET", "/v1/completions").allow, "POST");
  EXPECT_EQ(r.find("GET", "/nope").allow, "");
}

TEST(RequestLog, ClientFieldsCannotSplitOrForgeLines) {
  EXPECT_EQ(escape_log_field("/v1/models"), "/v1/models");
  EXPECT_EQ(escape_log_field("/a\nPOST /b 200\r\t\\\x7f\xc3\xa9"), "/a\\x0aPOST\\x20/b\\x20200\\x0d\\x09\\x5c\\x7f\\xc3\\xa9");
  const std::string line = request_log_line("GET", "/x\n/y z", 404, 0, 1.5);
  EXPECT_EQ(line, "GET /x\\x0a/y\\x20z 404 tokens=0 ms=1.5\n");
  EXPECT_EQ(escape_log_field(std::string(300, 'a')), std::string(256, 'a') + "...[+44 bytes]");
}

}  // namespace
