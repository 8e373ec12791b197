// The chat page at "/" (src/server/chat_page/index.html compiled in): served as the
// file is, as HTML with a policy that allows only its own inline script and style, with
// no external URL; the other routes and the 405/404 answers unchanged; the llama.cpp-style
// "timings" the page shows. Then the page itself in headless Chromium (chat_page_browser.py):
// skipped outside CI without chromium, chromedriver or selenium, a failure in CI.
#include <gtest/gtest.h>
#include <httplib.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include "server_process.h"
#include "support/test_support.h"

using nlohmann::json;
using namespace servertest;
namespace fs = std::filesystem;

namespace {

class ChatPage : public SharedServerTest<ChatPage> {
 public:
  static std::vector<std::string> flags() { return {"-c", "256", "--alias", "tiny"}; }
};

std::string page_file() {
  return testsupport::read_file(fs::path(POCKETLLM_SOURCE_DIR) / "src" / "server" / "chat_page" / "index.html");
}

TEST_F(ChatPage, RootServesThePageAsHtml) {
  httplib::Client cli("127.0.0.1", port());
  auto res = cli.Get("/");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(res->body, page_file());  // byte for byte what the repository holds
  EXPECT_NE(res->body.find("<title>pocketllm</title>"), std::string::npos);
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
  const std::string csp = res->get_header_value("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos) << csp;
  // Inline code is allowed by hash only, never wholesale.
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_TRUE(std::regex_search(csp, std::regex("script-src 'sha256-[A-Za-z0-9+/]{43}='"))) << csp;
  EXPECT_TRUE(std::regex_search(csp, std::regex("style-src 'sha256-[A-Za-z0-9+/]{43}='"))) << csp;
  // A query string does not change the route.
  auto q = cli.Get("/?x=1");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->status, 200);
}

TEST_F(ChatPage, PageMakesNoExternalRequests) {
  const std::string page = http_get(port(), "/").body;
  ASSERT_FALSE(page.empty());
  // No absolute URL anywhere (src, href, fetch, CSS url()): everything is this server's.
  for (const char* scheme : {"http://", "https://", "//cdn", "ws://", "wss://"})
    EXPECT_EQ(page.find(scheme), std::string::npos) << scheme;
  const std::regex attr(R"re((src|href|action)\s*=\s*["']?([^"'\s>]*))re", std::regex::icase);
  for (std::sregex_iterator it(page.begin(), page.end(), attr), end; it != end; ++it) {
    const std::string url = (*it)[2].str();
    EXPECT_TRUE(url.rfind("data:", 0) == 0 || (url.rfind("/", 0) == 0 && url.rfind("//", 0) != 0))
        << (*it)[0].str();
  }
  EXPECT_EQ(page.find("@import"), std::string::npos);
  // Model output goes in as text.
  EXPECT_EQ(page.find("innerHTML"), std::string::npos);
  EXPECT_EQ(page.find("insertAdjacentHTML"), std::string::npos);
  EXPECT_EQ(page.find("document.write"), std::string::npos);
  EXPECT_NE(page.find("name=\"viewport\""), std::string::npos);
}

TEST_F(ChatPage, OtherMethodsAndRoutesUnchanged) {
  httplib::Client cli("127.0.0.1", port());
  auto head = cli.Head("/");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  EXPECT_EQ(head->get_header_value("Content-Type"), "text/html; charset=utf-8");
  auto post = cli.Post("/", "{}", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD");
  EXPECT_EQ(json::parse(post->body, nullptr, false)["error"]["type"], "invalid_request_error") << post->body;
  // The API's JSON answers as before.
  EXPECT_EQ(http_get(port(), "/index.html").status, 404);
  EXPECT_EQ(http_get(port(), "/v1/models").json()["data"][0]["id"], "tiny");
  auto get_chat = cli.Get("/v1/chat/completions");
  ASSERT_TRUE(get_chat);
  EXPECT_EQ(get_chat->status, 405);
}

// The speeds the page shows: llama.cpp's "timings", in the last streamed chunk that has the
// usage and in a whole response.
void expect_timings(const json& t, int64_t completion_tokens) {
  ASSERT_TRUE(t.is_object()) << t.dump();
  EXPECT_GT(t["prompt_n"].get<int64_t>(), 0) << t.dump();
  EXPECT_GT(t["prompt_ms"].get<double>(), 0) << t.dump();
  EXPECT_GT(t["prompt_per_second"].get<double>(), 0) << t.dump();
  EXPECT_EQ(t["predicted_n"].get<int64_t>(), completion_tokens) << t.dump();
  EXPECT_GT(t["predicted_ms"].get<double>(), 0) << t.dump();
  const double rate = t["predicted_per_second"].get<double>();
  EXPECT_NEAR(rate, 1000.0 * completion_tokens / t["predicted_ms"].get<double>(), rate * 1e-9) << t.dump();
}

TEST_F(ChatPage, ResponsesCarryTimings) {
  const json msgs = {{{"role", "user"}, {"content", "Once upon a time"}}};
  auto r = http_post(port(), "/v1/chat/completions",
                     json{{"messages", msgs}, {"max_tokens", 16}, {"temperature", 0}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = r.json();
  expect_timings(j["timings"], j["usage"]["completion_tokens"].get<int64_t>());
  EXPECT_EQ(j["timings"]["prompt_n"].get<int64_t>() + j["usage"]["prompt_tokens_details"]["cached_tokens"].get<int64_t>(),
            j["usage"]["prompt_tokens"].get<int64_t>());

  for (const bool include_usage : {false, true}) {
    json body = {{"messages", msgs}, {"max_tokens", 16}, {"temperature", 0}, {"stream", true}};
    if (include_usage) body["stream_options"] = {{"include_usage", true}};
    auto s = http_stream(port(), "/v1/chat/completions", body.dump());
    ASSERT_EQ(s.status, 200);
    int with_timings = 0;
    for (const std::string& e : s.events) {
      const json c = json::parse(e, nullptr, false);
      if (!c.is_object() || !c.contains("timings")) continue;
      ++with_timings;
      ASSERT_TRUE(c["usage"].is_object()) << e;  // sent with the usage
      expect_timings(c["timings"], c["usage"]["completion_tokens"].get<int64_t>());
    }
    EXPECT_EQ(with_timings, 1) << include_usage;
  }
}

// The API key guards the API, not the page (which holds no secret and asks for the key).
TEST(ChatPageKey, PageIsServedWithoutTheKey) {
  ServerProcess server({"--api-key", "sekrit"});
  ASSERT_NE(server.port(), 0);
  EXPECT_EQ(http_get(server.port(), "/").status, 200);
  EXPECT_EQ(http_get(server.port(), "/v1/models").status, 401);
  EXPECT_EQ(http_get(server.port(), "/v1/models", {{"Authorization", "Bearer sekrit"}}).status, 200);
}

// CI (CI=true, or POCKETLLM_REQUIRE_MODELS=1 as .ci/run sets) installs what the browser test
// needs (scripts/install-deps.sh, scripts/venv.sh): a missing piece there is a failure.
bool browser_required() {
  const char* ci = std::getenv("CI");
  return testsupport::models_required() || (ci && std::string(ci) == "true");
}

#define SKIP_OR_FAIL(msg)                              \
  do {                                                 \
    if (browser_required()) FAIL() << msg;             \
    GTEST_SKIP() << msg;                               \
  } while (0)

// Types a message, sees the reply stream in, stops a long one, sees the speeds, reloads and
// finds the conversation, and screenshots a phone-sized window (tests/server/chat_page_browser.py).
TEST(ChatPageBrowser, StreamStopSpeedsReloadPhone) {
  const std::string python = testsupport::venv_python();
  if (python.empty()) SKIP_OR_FAIL("no Python venv: run `bash scripts/venv.sh` (or set POCKETLLM_PYTHON)");
  int st = 0;
  const std::string probe = testsupport::shell_output("'" + python + "' -c 'import selenium' 2>&1", st);
  if (st != 0) SKIP_OR_FAIL(python << " has no selenium (run `bash scripts/venv.sh`):\n" << probe);
  for (const char* tool : {"/usr/bin/chromium", "/usr/bin/chromedriver"})
    if (!fs::exists(tool)) SKIP_OR_FAIL(tool << " is missing (bash scripts/install-deps.sh: Debian's chromium, chromium-driver)");

  // A long context so a stopped reply was far from its end. The scalar kernels keep a
  // reply slow enough for Stop to land mid-reply: with SIMD kernels stories260K decodes
  // ~1000 tokens/s on a fast host, and a browser starved by other tests then saw a
  // 4000-token reply end before its Stop click was handled.
  const char* isa = std::getenv("POCKETLLM_ISA");
  const std::string saved_isa = isa ? isa : "";
  setenv("POCKETLLM_ISA", "ref", 1);
  ServerProcess server({"-c", "4096", "--alias", "stories"});
  if (saved_isa.empty()) unsetenv("POCKETLLM_ISA");
  else setenv("POCKETLLM_ISA", saved_isa.c_str(), 1);
  ASSERT_NE(server.port(), 0);
  const fs::path shots = testsupport::temp_dir("chat-page");
  const fs::path script = fs::path(POCKETLLM_SOURCE_DIR) / "tests" / "server" / "chat_page_browser.py";
  const std::string out = testsupport::shell_output("'" + python + "' '" + script.string() + "' " + server.base_url() + " '" +
                                          shots.string() + "' 2>&1",
                                      st);
  ASSERT_EQ(st, 0) << out << "\nserver log:\n" << server.log();
  const json r = json::parse(out.substr(out.rfind("\n{") == std::string::npos ? 0 : out.rfind("\n{") + 1), nullptr,
                             false);
  ASSERT_TRUE(r.is_object()) << out;
  EXPECT_EQ(r["problems"], json::array()) << r.dump(2);
  EXPECT_GE(r.value("partials", 0), 2) << r.dump();
  EXPECT_TRUE(fs::exists(shots / "chat-page.png")) << r.dump();
  EXPECT_GT(fs::file_size(shots / "chat-page.png"), 1000u);
}

}  // namespace
