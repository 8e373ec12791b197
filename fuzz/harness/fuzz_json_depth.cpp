// The server's JSON request parsing at depth: each input is wrapped in nesting
// its first two bytes choose (up to 65,532 levels of arrays, objects or both)
// inside a chat message's content, then parsed and turned into a request.
// Bounded depth must make every such body a clean 400: before the bound, deep
// content crashed the server in a recursive copy.
#include "server/api_error.h"
#include "server/openai_json.h"
#include "server_fixture.h"

using namespace pocketllm;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)fuzzutil::server_fixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  fuzzutil::ServerFixture& fx = fuzzutil::server_fixture();
  const size_t depth = static_cast<size_t>(data[0]) << 8 | (data[1] & 0xfc);  // up to 65,532
  const std::string inner(reinterpret_cast<const char*>(data) + 2, size - 2);
  // The low bits pick the nesting: arrays, objects, or alternating.
  std::string open, close;
  for (size_t i = 0; i < depth; ++i) {
    const bool object = (data[1] & 3) == 1 || ((data[1] & 3) == 2 && i % 2);
    open += object ? "{\"k\":" : "[";
    close += object ? "}" : "]";
  }
  const std::string body = R"({"messages":[{"role":"user","content":)" + open + inner +
                           std::string(close.rbegin(), close.rend()) + "}],\"max_tokens\":1}";
  try {
    const auto j = server::parse_body(body);
    (void)server::parse_chat_request(j, fx.fmt, fx.defaults);
  } catch (const server::ApiError&) {
  } catch (const Error&) {
  }
  return 0;
}
