// Speed: tokenizing 1 MB of mixed English / code / CJK text must take under a
// second on one core (the bar). Prints the figures it measures.
#include <gtest/gtest.h>

#include <time.h>

#include <cstdio>

#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;
namespace ts = testsupport;

namespace {

std::string mixed_text_1mb() {
  std::string english = ts::read_file(ts::shared_data() / "text/eval.txt");
  std::string code = ts::read_file(std::filesystem::path(POCKETLLM_SOURCE_DIR) / "src/tokenizer/bpe.cpp");
  std::string cjk =
      "\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C\xEF\xBC\x8C\xE4\xBB\x8A\xE5\xA4\xA9\xE5\xA4\xA9\xE6\xB0\x94"
      "\xE5\xBE\x88\xE5\xA5\xBD\xE3\x80\x82\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF\xE4\xB8\x96"
      "\xE7\x95\x8C\xE3\x80\x81\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4 \xED\x85\x8D\xEC\x8A\xA4\xED\x8A\xB8\n";
  std::string out;
  while (out.size() < (1u << 20)) {
    out += english.substr(0, 6000);
    out += code.substr(0, 3000);
    for (int i = 0; i < 12; ++i) out += cjk;
  }
  out.resize(1u << 20);
  while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
  return out;
}

// CPU time of this thread: the machine running the tests may be busy, and the
// bar is about one core's work, not wall-clock time.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double seconds_to_encode(const Tokenizer& tok, const std::string& text, size_t& n_tokens) {
  double t0 = thread_cpu_seconds();
  n_tokens = tok.encode(text, false, false).size();
  return thread_cpu_seconds() - t0;
}

}  // namespace

TEST(TokenizerSpeed, OneMegabyteUnderASecond) {
  std::string text = mixed_text_1mb();
  auto base = ts::shared_data() / "tokenizers";
  for (auto src : {base / "hf/llama3", base / "hf/qwen3", base / "hf/lenml-llama2_mistral-7b-vocab",
                   base / "llamacpp/ggml-vocab-llama-spm.gguf", base / "llamacpp/ggml-vocab-deepseek-llm.gguf"}) {
    double t0 = thread_cpu_seconds();
    auto tok = Tokenizer::load(src.string());
    double load_s = thread_cpu_seconds() - t0;
    size_t n = 0;
    double best = 1e9;
    for (int rep = 0; rep < 2; ++rep) best = std::min(best, seconds_to_encode(*tok, text, n));
    std::printf("[speed] %-40s load %.2f s CPU, encode 1 MiB: %.3f s CPU (%zu tokens, %.1f MB/s)\n",
                src.filename().string().c_str(), load_s, best, n, text.size() / best / 1e6);
    EXPECT_LT(best, 1.0) << src;
    double t1 = thread_cpu_seconds();
    std::string back = tok->decode(tok->encode(text, false, false));
    std::printf("[speed] %-40s encode+decode: %.3f s CPU\n", src.filename().string().c_str(), thread_cpu_seconds() - t1);
    EXPECT_EQ(back.size() > text.size() / 2, true);
  }
}
