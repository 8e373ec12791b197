// The server's request parsing: body JSON -> sampling fields -> chat messages rendered
// with a template and tokenized, or a completion prompt. Only ApiError (a 400) or
// pocketllm::Error may come out.
#include "server/api_error.h"
#include "server/openai_json.h"
#include "server_fixture.h"

using namespace pocketllm;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)fuzzutil::server_fixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzzutil::ServerFixture& fx = fuzzutil::server_fixture();
  const std::string body(reinterpret_cast<const char*>(data), size);
  try {
    auto j = server::parse_body(body);
    (void)server::parse_common(j, fx.defaults);
    try {
      (void)server::parse_chat_request(j, fx.fmt, fx.defaults);
    } catch (const server::ApiError&) {
    } catch (const Error&) {
    }
    (void)server::parse_completion_request(j, *fx.tok, fx.defaults);
  } catch (const server::ApiError&) {
  } catch (const Error&) {
  }
  return 0;
}
