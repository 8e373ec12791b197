// HTTPS: a fake Hub behind TLS with a test CA made now by the openssl CLI, trusted
// through SSL_CERT_FILE (as OpenSSL reads it), refused without it; and the same
// through an HTTP CONNECT proxy (HTTPS_PROXY, NO_PROXY).
#include <gtest/gtest.h>

#include "hub/hub_cli_fixture.h"

using namespace hubtest;
namespace ts = testsupport;

namespace {

using ts::contains;

// A CA and a certificate for 127.0.0.1 signed by it, in dir: ca.pem, srv.pem, srv.key.
bool make_test_ca(const fs::path& dir) {
  ts::write_file(dir / "ext.cnf", "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
  const std::string d = dir.string();
  const std::vector<std::vector<std::string>> steps = {
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
       d + "/ca.key", "-out", d + "/ca.pem", "-days", "2", "-subj", "/CN=pocketllm test CA"},
      {"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
       d + "/srv.key", "-out", d + "/srv.csr", "-subj", "/CN=127.0.0.1"},
      {"openssl", "x509", "-req", "-in", d + "/srv.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key",
       "-CAcreateserial", "-out", d + "/srv.pem", "-days", "2", "-extfile", d + "/ext.cnf"}};
  for (auto& s : steps) {
    auto r = ts::run_command(s);
    if (r.exit_code != 0) {
      ADD_FAILURE() << s[0] << " " << s[1] << ": " << r.err;
      return false;
    }
  }
  return true;
}

class HubHttps : public HubCli {
 protected:
  void SetUp() override {
    tls_ = ts::temp_dir("tls");
    ASSERT_TRUE(make_test_ca(tls_));
    start(standard_repos(), {"--tls", (tls_ / "srv.pem").string(), (tls_ / "srv.key").string(), "--cdn", "other", "--proxy"});
  }
  std::string trust() const { return "SSL_CERT_FILE=" + (tls_ / "ca.pem").string(); }
  fs::path tls_;
};

}  // namespace

TEST_F(HubHttps, TrustsTheCaOfSslCertFileOnly) {
  ASSERT_TRUE(contains(hub_->endpoint(), "https://"));
  auto r = cli({"pull", "test/tiny-GGUF:Q8_0"}, {"SSL_CERT_FILE=/nonexistent", "SSL_CERT_DIR=/nonexistent"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "the TLS certificate of 127.0.0.1:" ) && contains(r.err, "is not trusted") &&
              contains(r.err, "SSL_CERT_FILE"))
      << r.err;
  r = cli({"pull", "test/tiny-GGUF:Q8_0"});  // the system's CA certificates do not know the test CA
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "is not trusted")) << r.err;
  r = cli({"pull", "test/gated-GGUF:Q8_0"}, {trust(), "HF_TOKEN=hf_good"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(sha256_of(repo_dir("test/gated-GGUF") / "snapshots" / std::string(40, 'c') / "g-Q8_0.gguf"),
            sha256_of(family_gguf("llama-tied")));
  for (auto& req : hub_->log())  // over TLS too, the token stays on the Hub's host
    EXPECT_EQ(req["authorization"], req["server"] == "hub" ? "Bearer hf_good" : "") << req.dump();
}

TEST_F(HubHttps, GoesThroughTheHttpsProxy) {
  const std::string proxy = "HTTPS_PROXY=http://127.0.0.1:" + std::to_string(hub_->proxy_port());
  auto r = cli({"pull", "test/tiny-GGUF:Q8_0"}, {trust(), proxy});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int tunnels_to_hub = 0, tunnels_to_cdn = 0;
  for (auto& req : hub_->log()) {
    if (req["method"] != "CONNECT") continue;
    tunnels_to_hub += req["path"] == hub_->endpoint().substr(8);
    tunnels_to_cdn += req["path"] == "127.0.0.1:" + std::to_string(hub_->cdn_port());
  }
  EXPECT_GE(tunnels_to_hub, 2) << hub_->log().dump();
  EXPECT_EQ(tunnels_to_cdn, 1);
  // A proxy that is down: a clear error; NO_PROXY bypasses it.
  const std::string dead = "HTTPS_PROXY=http://127.0.0.1:9";
  r = cli({"pull", "test/tiny-GGUF:Q4_K_M"}, {trust(), dead});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "(through the proxy)")) << r.err;
  r = cli({"pull", "test/tiny-GGUF:Q4_K_M"}, {trust(), dead, "NO_PROXY=localhost,127.0.0.1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}
