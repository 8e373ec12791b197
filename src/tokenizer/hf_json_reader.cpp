#include "tokenizer/hf_json_reader.h"

#include "core/error.h"
#include "core/mapped_file.h"

namespace pocketllm::tok {

nlohmann::json read_tokenizer_json(const std::string& path, HfModelTables& tables) {
  using nlohmann::json;
  using Event = json::parse_event_t;
  struct Level {
    bool is_array;
    std::string key;  // current key when an object
  };
  std::vector<Level> stack;
  std::vector<std::string> pair;  // elements of one ["a", "b"] merge
  // Where the parser is: 1 = directly in model.vocab, 2 = in model.merges, 3 = in one merge pair.
  auto where = [&]() -> int {
    size_t n = stack.size();
    if (n < 3 || stack[0].is_array || stack[0].key != "model" || stack[1].is_array) return 0;
    if (n == 3 && stack[1].key == "vocab" && !stack[2].is_array) return 1;
    if (n == 3 && stack[1].key == "merges" && stack[2].is_array) return 2;
    if (n == 4 && stack[1].key == "merges" && stack[2].is_array && stack[3].is_array) return 3;
    return 0;
  };
  json::parser_callback_t cb = [&](int, Event ev, json& parsed) -> bool {
    switch (ev) {
      case Event::object_start:
        stack.push_back({false, {}});
        if (where() == 1) tables.vocab_is_object = true;
        return true;
      case Event::array_start:
        stack.push_back({true, {}});
        if (where() == 3) pair.clear();
        return true;
      case Event::key:
        if (!stack.empty()) stack.back().key = parsed.get<std::string>();
        return true;
      case Event::value: {
        int w = where();
        if (w == 1) {
          if (!parsed.is_number_integer()) fail("{}: model.vocab[\"{}\"] is not an integer id", path, stack.back().key);
          tables.vocab.emplace_back(stack.back().key, parsed.get<int64_t>());
          return false;
        }
        if (w == 2) {
          if (!parsed.is_string()) fail("{}: bad merge entry {}", path, parsed.dump());
          const std::string& s = parsed.get_ref<const std::string&>();
          size_t sp = s.find(' ', 1);
          if (sp == std::string::npos) fail("{}: bad merge \"{}\"", path, s);
          tables.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
          return false;
        }
        if (w == 3) {
          if (!parsed.is_string()) fail("{}: bad merge element {}", path, parsed.dump());
          pair.push_back(parsed.get<std::string>());
          return false;
        }
        return true;
      }
      case Event::array_end: {
        bool was_pair = where() == 3;
        if (was_pair) {
          if (pair.size() != 2) fail("{}: a merge pair has {} elements", path, pair.size());
          tables.merges.emplace_back(std::move(pair[0]), std::move(pair[1]));
        }
        stack.pop_back();
        return !was_pair;
      }
      case Event::object_end:
        stack.pop_back();
        return true;
    }
    return true;
  };
  auto f = MappedFile::open(path);
  const char* begin = reinterpret_cast<const char*>(f->data());
  try {
    return json::parse(begin, begin + f->size(), cb);
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
}

}  // namespace pocketllm::tok
