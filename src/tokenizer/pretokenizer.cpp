#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenizer.h"

#include <pcre2.h>

#include <map>

#include "core/error.h"
#include "tokenizer/unicode_util.h"

namespace pocketllm::tok {

struct PreTokenizer::Compiled {
  pcre2_code* code = nullptr;
};

PreTokenizer::PreTokenizer(const std::vector<std::string>& patterns) {
  for (const auto& p : patterns) {
    int err = 0;
    PCRE2_SIZE err_off = 0;
    // UCP: \s \d \w and POSIX classes use Unicode properties. MATCH_INVALID_UTF:
    // invalid bytes never match and end up in gaps instead of failing the match.
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(), opts, &err, &err_off, nullptr);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      for (auto* c : compiled_) {
        pcre2_code_free(c->code);
        delete c;
      }
      fail("pre-tokenizer regex \"{}\": {} at offset {}", p, reinterpret_cast<const char*>(msg), err_off);
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when JIT is unavailable
    compiled_.push_back(new Compiled{code});
  }
}

PreTokenizer::~PreTokenizer() {
  for (auto* c : compiled_) {
    pcre2_code_free(c->code);
    delete c;
  }
}

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  std::vector<std::string_view> cur{text}, next;
  if (text.empty()) return {};
  for (auto* c : compiled_) {
    next.clear();
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(c->code, nullptr);
    for (std::string_view piece : cur) {
      auto subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
      size_t gap_start = 0, offset = 0;
      while (offset < piece.size()) {
        int rc = pcre2_match(c->code, subject, piece.size(), offset, 0, md, nullptr);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)  // e.g. JIT stack exhausted: retry with the interpreter
          rc = pcre2_match(c->code, subject, piece.size(), offset, PCRE2_NO_JIT, md, nullptr);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
          pcre2_match_data_free(md);
          PCRE2_UCHAR msg[256];
          pcre2_get_error_message(rc, msg, sizeof msg);
          fail("pre-tokenizer regex failed on a {}-byte piece: {}", piece.size(), reinterpret_cast<const char*>(msg));
        }
        if (rc < 0) break;
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me == ms) {  // empty match: no piece, move on by one char
          if (me >= piece.size()) break;
          offset = me + utf8_char_len(piece, me);
          continue;
        }
        if (ms > gap_start) next.push_back(piece.substr(gap_start, ms - gap_start));
        next.push_back(piece.substr(ms, me - ms));
        gap_start = offset = me;
      }
      if (gap_start < piece.size()) next.push_back(piece.substr(gap_start));
    }
    pcre2_match_data_free(md);
    cur.swap(next);
  }
  return cur;
}

namespace {
const std::string kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
const std::string kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const std::string kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// DeepSeek LLM's tokenizer.json splits: letters of cased scripts, ASCII/fullwidth
// punctuation, trailing spaces, CJK/Hangul runs, digits.
const std::string kDeepseekLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF})"
    R"(\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5})"
    R"(\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA})"
    R"(\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D})"
    R"(\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4})"
    R"(\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC})"
    R"(\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126})"
    R"(\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184})"
    R"(\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B})"
    R"(\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17})"
    R"(\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2})"
    R"(\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
const std::string kCjkRuns = R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";

const std::map<std::string, std::vector<std::string>>& families() {
  static const std::map<std::string, std::vector<std::string>> m = [] {
    std::map<std::string, std::vector<std::string>> f;
    f["default"] = {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"};
    for (const char* n : {"gpt-2", "gpt2", "mpt", "olmo", "jais", "phi-2", "roberta-bpe", "jina-es", "jina-de",
                          "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code", "gigachat", "trillion"})
      f[n] = {kGpt2};
    for (const char* n : {"llama-bpe", "llama3", "dbrx", "smaug-bpe"}) f[n] = {kLlama3};
    for (const char* n : {"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", "hunyuan"}) f[n] = {kQwen2};
    for (const char* n : {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"})
      f[n] = {R"(\p{N})", kGpt2};
    f["deepseek-llm"] = {"[\r\n]", kDeepseekLetters, R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)",
                         R"(\s+$)", kCjkRuns, R"(\p{N}+)"};
    f["deepseek-coder"] = {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjkRuns, R"(\p{N})"};
    f["falcon"] = {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"};
    f["tekken"] = {R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S))"};
    return f;
  }();
  return m;
}
}  // namespace

const std::string& gpt2_pattern() { return kGpt2; }

std::vector<std::string> pre_patterns_for(const std::string& pre_name) {
  auto it = families().find(pre_name);
  if (it == families().end()) fail("unknown pre-tokenizer type \"{}\" (tokenizer.ggml.pre)", pre_name);
  return it->second;
}

std::string pre_name_for(const std::vector<std::string>& patterns) {
  static const std::string hf_llama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static const std::string hf_qwen2 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  if (patterns.size() == 1 && patterns[0] == hf_llama3) return "llama-bpe";
  if (patterns.size() == 1 && patterns[0] == hf_qwen2) return "qwen2";
  for (const char* n : {"gpt-2", "llama-bpe", "qwen2", "starcoder", "deepseek-llm", "deepseek-coder", "falcon", "default", "tekken"})
    if (families().at(n) == patterns) return n;
  return "";
}

}  // namespace pocketllm::tok
