#include "grammar/grammar_test_util.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/utf8.h"
#include "support/test_support.h"

namespace gtest_grammar {

using namespace pocketllm::grammar;

std::shared_ptr<const Vocab> small_vocab() {
  std::vector<std::string> t;
  for (int c = 0x20; c < 0x7F; ++c) t.push_back(std::string(1, static_cast<char>(c)));
  t.push_back("\n");
  t.push_back("\t");
  for (const char* s : {"{\"", "\":", "\",", "\"}", "true", "false", "null", "  ", "[1", ", ", "ab", "abc", "12", "-0",
                        "{}", "[]", "\"\"", "}\n", "e+", ".5", "\\n", "\\u00", "name", "\"name\"", "é", "日本", "\xE6",
                        "\x97\xA5", "\xE6\x97", "\xA5", "\xF0\x9F\x98\x80", "\xF0\x9F", "\x98\x80", "\x80", "\xFF"})
    t.push_back(s);
  t.push_back("");   // a control token: never allowed
  t.push_back("");   // end of generation
  const auto eog = static_cast<int32_t>(t.size() - 1);
  return std::make_shared<Vocab>(std::move(t), std::vector<int32_t>{eog});
}

bool viable_prefix(const std::shared_ptr<const Grammar>& g, const std::string& text) {
  Matcher m(g, nullptr);
  return m.accept_bytes(text);
}

std::string random_walk(const std::shared_ptr<const Grammar>& g, const std::shared_ptr<const Vocab>& vocab,
                        std::mt19937& rng, int max_steps, bool check_masks, bool* ended) {
  Matcher m(g, vocab);
  std::string text;
  *ended = false;
  for (int step = 0; step < max_steps; ++step) {
    const auto& mask = m.mask();
    std::vector<int32_t> allowed;
    for (int32_t id = 0; id < vocab->n_tokens(); ++id) {
      const bool bit = mask[id >> 6] >> (id & 63) & 1;
      if (bit) allowed.push_back(id);
      if (check_masks) {
        const bool want = vocab->is_eog(id) ? pocketllm::grammar::matches(*g, text)
                                            : !vocab->bytes(id).empty() && viable_prefix(g, text + vocab->bytes(id));
        EXPECT_EQ(bit, want) << "token " << id << " '" << vocab->bytes(id) << "' after '" << text << "'";
        EXPECT_EQ(m.allows(id), want) << "allows(" << id << ") after '" << text << "'";
      }
    }
    if (allowed.empty()) {
      ADD_FAILURE() << "no token allowed after '" << text << "'";
      return "";
    }
    // Prefer ending, then closing characters, as the walk grows, so it finishes.
    int32_t pick = -1;
    std::uniform_real_distribution<double> u(0, 1);
    const double pressure = std::min(1.0, step / static_cast<double>(max_steps / 3 + 1));
    for (int32_t id : allowed)
      if (vocab->is_eog(id) && u(rng) < 0.1 + pressure) pick = id;
    if (pick < 0 && u(rng) < pressure) {
      std::vector<int32_t> closers;
      for (int32_t id : allowed) {
        const std::string& b = vocab->bytes(id);
        if (b == "\"" || b == "}" || b == "]" || b == "\"}") closers.push_back(id);
      }
      if (!closers.empty()) pick = closers[rng() % closers.size()];
    }
    if (pick < 0) pick = allowed[rng() % allowed.size()];
    if (vocab->is_eog(pick)) {
      EXPECT_TRUE(m.accept_token(pick));
      *ended = true;
      return text;
    }
    EXPECT_TRUE(m.accept_token(pick));
    text += vocab->bytes(pick);
  }
  return "";
}

std::string validate_json(const std::string& schema, const std::vector<std::string>& texts, bool* skipped) {
  *skipped = false;
  const std::string py = testsupport::venv_python();
  if (py.empty() || testsupport::run_command({py, "-c", "import jsonschema"}).exit_code != 0) {
    *skipped = true;
    return "";
  }
  const auto dir = testsupport::temp_dir("grammar-validate");
  testsupport::write_file(dir / "schema.json", schema);
  testsupport::write_file(dir / "texts.json", nlohmann::json(texts).dump());
  const char* script = R"(
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
for t in json.load(open(sys.argv[2])):
    try:
        inst = json.loads(t)
    except Exception as e:
        print("not JSON: %r: %s" % (t, e)); sys.exit(1)
    errs = list(v.iter_errors(inst))
    if errs:
        print("invalid: %r: %s" % (t, errs[0].message)); sys.exit(1)
)";
  auto r = testsupport::run_command({py, "-c", script, (dir / "schema.json").string(), (dir / "texts.json").string()});
  if (r.exit_code != 0) return r.out + r.err;
  return "";
}

}  // namespace gtest_grammar
