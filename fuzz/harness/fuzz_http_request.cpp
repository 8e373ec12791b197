// The server's HTTP/1.1 request parser: arbitrary bytes fed in pieces whose
// sizes the input chooses. It must end in Complete or Failed or wait for more,
// never hold a body past its limit, and give the same verdict however the bytes
// were split.
#include <cstdlib>

#include "fuzz_util.h"
#include "server/http/request_parser.h"

using namespace pocketllm::server::http;

static ParserLimits limits() {
  ParserLimits l;
  l.max_header_bytes = 2048;
  l.max_header_fields = 32;
  l.max_body_bytes = 4096;
  return l;
}

// Parses every request in `bytes`, split at the given piece sizes; returns a trace of verdicts.
static std::string run(const std::string& bytes, const uint8_t* splits, size_t n_splits) {
  RequestParser p(limits());
  std::string trace;
  size_t pos = 0, k = 0;
  auto drain = [&](RequestParser::State st) {
    while (st == RequestParser::State::Complete) {
      const Request r = p.take();
      if (r.body.size() > limits().max_body_bytes) std::abort();
      trace += "C" + std::to_string(r.body.size()) + r.method + " ";
      st = p.resume();
    }
    if (st == RequestParser::State::Failed) trace += "F" + std::to_string(p.error_status()) + " ";
    return st;
  };
  RequestParser::State st = RequestParser::State::Incomplete;
  while (pos < bytes.size() && st != RequestParser::State::Failed) {
    const size_t piece = n_splits ? 1 + splits[k++ % n_splits] : bytes.size();
    st = drain(p.feed(std::string_view(bytes).substr(pos, piece)));
    pos += piece;
  }
  if (p.current().body.size() > limits().max_body_bytes) std::abort();
  return trace;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t n_splits = std::min<size_t>(data[0] % 8, size - 1);
  const std::string bytes(reinterpret_cast<const char*>(data) + 1 + n_splits, size - 1 - n_splits);
  if (run(bytes, data + 1, n_splits) != run(bytes, nullptr, 0)) std::abort();
  return 0;
}
