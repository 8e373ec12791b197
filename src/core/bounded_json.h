// JSON from outside (request bodies, model folders, --messages files) parsed with
// a bound on nesting depth. nlohmann's parser is iterative, but copying, dumping
// or comparing a value recurses once per level: a 200k-deep array parses fine and
// then overflows the stack of whatever touches it. The bound is checked while
// parsing (a parser callback), so no deep value is ever built.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/error.h"

namespace pocketllm {

// Arrays and objects nested deeper than this are rejected. Real inputs (OpenAI
// requests, config.json, tokenizer.json, chat messages) stay under ~10 levels.
inline constexpr int kMaxJsonDepth = 128;

// The input nests arrays/objects deeper than the bound.
class JsonTooDeep : public Error {
 public:
  using Error::Error;
};

// Parses `text` like Json::parse (syntax errors throw nlohmann's parse_error) but
// throws JsonTooDeep ("SOURCE: JSON nested deeper than N levels") past max_depth.
// `inner`, when given, is called for every event as with Json::parse(text, cb).
template <class Json = nlohmann::json>
Json parse_json_bounded(std::string_view text, std::string_view source,
                        typename Json::parser_callback_t inner = nullptr, int max_depth = kMaxJsonDepth) {
  using Event = typename Json::parse_event_t;
  // depth = containers enclosing the one that starts, so the top level is 0.
  typename Json::parser_callback_t cb = [&](int depth, Event ev, Json& parsed) -> bool {
    if ((ev == Event::object_start || ev == Event::array_start) && depth >= max_depth)
      throw JsonTooDeep(fmt::format("{}: JSON nested deeper than {} levels", source, max_depth));
    return inner ? inner(depth, ev, parsed) : true;
  };
  return Json::parse(text.begin(), text.end(), cb);
}

}  // namespace pocketllm
