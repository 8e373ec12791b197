#include "server/tool_call_stream.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

namespace pocketllm::server {
namespace {

constexpr std::string_view kQwenOpen = "<tool_call>", kQwenClose = "</tool_call>";
constexpr std::string_view kMistralMarker = "[TOOL_CALLS]", kPythonTag = "<|python_tag|>";
constexpr size_t npos = std::string::npos;

bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

size_t skip_ws(const std::string& s, size_t p) {
  while (p < s.size() && is_ws(s[p])) ++p;
  return p;
}

// One past the closing quote of the string literal at s[p] ('"'), or npos when it has not ended.
size_t string_end(const std::string& s, size_t p) {
  for (size_t i = p + 1; i < s.size(); ++i) {
    if (s[i] == '\\') ++i;
    else if (s[i] == '"') return i + 1;
  }
  return npos;
}

std::optional<std::string> decode_string(std::string_view literal) {
  const auto j = nlohmann::json::parse(literal, nullptr, false);
  if (!j.is_string()) return std::nullopt;
  return j.get<std::string>();
}

// One past the JSON value at s[p], or npos when it may not have ended (a scalar
// ends at a delimiter, or at the end of an answer that has ended).
size_t value_end(const std::string& s, size_t p, bool eof) {
  if (s[p] == '"') return string_end(s, p);
  if (s[p] == '{' || s[p] == '[') {
    int depth = 0;
    for (size_t i = p; i < s.size(); ++i) {
      const char c = s[i];
      if (c == '"') {
        i = string_end(s, i);
        if (i == npos) return npos;
        --i;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if ((c == '}' || c == ']') && --depth == 0) {
        return i + 1;
      }
    }
    return npos;
  }
  for (size_t i = p; i < s.size(); ++i)
    if (is_ws(s[i]) || s[i] == ',' || s[i] == '}' || s[i] == ']') return i;
  return eof ? s.size() : npos;
}

// JSON text without the whitespace outside its strings.
std::string compact(std::string_view s) {
  std::string out;
  bool in_string = false, escape = false;
  for (char c : s) {
    if (in_string) {
      if (escape) escape = false;
      else if (c == '\\') escape = true;
      else if (c == '"') in_string = false;
    } else if (is_ws(c)) {
      continue;
    } else if (c == '"') {
      in_string = true;
    }
    out += c;
  }
  return out;
}

// How many leading bytes of s end on a whole UTF-8 sequence (a cut one waits for its rest).
size_t utf8_whole(std::string_view s) {
  for (size_t back = 1; back <= 4 && back <= s.size(); ++back) {
    const auto c = static_cast<unsigned char>(s[s.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    return len > back ? s.size() - back : s.size();
  }
  return s.size();
}

// The length of the longest tail of s that is a proper beginning of marker.
size_t marker_prefix_tail(std::string_view s, std::string_view marker) {
  for (size_t k = std::min(marker.size() - 1, s.size()); k > 0; --k)
    if (marker.starts_with(s.substr(s.size() - k))) return k;
  return 0;
}

}  // namespace

ToolCallStream::ToolCallStream(ToolFormat f, const std::vector<ToolSpec>& tools) : f_(f) {
  for (const ToolSpec& t : tools) names_.push_back(t.name);
}

std::vector<ToolCallEvent> ToolCallStream::feed(std::string_view piece) {
  buf_ += piece;
  while (step(false) == Step::Progress) {
  }
  return std::exchange(out_, {});
}

std::vector<ToolCallEvent> ToolCallStream::finish() {
  for (;;) {
    while (step(true) == Step::Progress) {
    }
    const bool scanning = state_ == State::Start || state_ == State::Content || state_ == State::PlainContent;
    if (scanning && pos_ >= buf_.size()) break;
    if (scanning) {  // not reached: scanning states take all text at the end
      content(std::string_view(buf_).substr(pos_));
      pos_ = buf_.size();
      break;
    }
    fail();  // the answer ended inside something undecided
  }
  if (calls_ == 0 && !ws_.empty()) {  // an answer without calls is content byte for byte
    std::string w = std::exchange(ws_, {});
    emit(ToolCallEvent::Content, std::move(w));
  }
  ws_.clear();
  if (!utf8_content_.empty()) out_.push_back({ToolCallEvent::Content, std::exchange(utf8_content_, {}), -1});
  return std::exchange(out_, {});
}

void ToolCallStream::emit(ToolCallEvent::Kind k, std::string s) {
  if (k == ToolCallEvent::Content || k == ToolCallEvent::Arguments) {
    std::string& cut = k == ToolCallEvent::Content ? utf8_content_ : utf8_args_;
    s = cut + s;
    const size_t whole = utf8_whole(s);
    cut = s.substr(whole);
    s.resize(whole);
    if (s.empty()) return;
  }
  const int call = k == ToolCallEvent::Content ? -1 : calls_ - 1;
  if ((k == ToolCallEvent::Content || k == ToolCallEvent::Arguments) && !out_.empty() && out_.back().kind == k &&
      out_.back().call == call) {
    out_.back().text += s;  // one event per kind and call within a piece
    return;
  }
  out_.push_back({k, std::move(s), call});
}

void ToolCallStream::content(std::string_view s) {
  if (s.empty()) return;
  const size_t last = s.find_last_not_of(" \t\r\n");
  if (last == std::string_view::npos) {
    ws_ += s;
    return;
  }
  std::string text = std::exchange(ws_, std::string(s.substr(last + 1)));
  text += s.substr(0, last + 1);
  emit(ToolCallEvent::Content, std::move(text));
}

void ToolCallStream::begin_call_text(State next) {
  hold_ = pos_;
  state_ = next;
}

void ToolCallStream::start_object() {
  state_ = State::Object;
  obj_ = Obj::Key;
  key_.clear();
  name_.clear();
  args_.clear();
  have_args_ = started_ = false;
}

void ToolCallStream::call_started() {
  ++calls_;
  started_ = true;
  ws_.clear();  // whitespace before a call is not content
  emit(ToolCallEvent::CallStart, name_);
}

void ToolCallStream::call_ended() {
  if (!utf8_args_.empty()) out_.push_back({ToolCallEvent::Arguments, std::exchange(utf8_args_, {}), calls_ - 1});
  emit(ToolCallEvent::CallEnd, {});
  started_ = false;
  hold_ = pos_;
}

void ToolCallStream::fail() {
  if (started_) call_ended();  // a sent call stands, cut where its text breaks
  content(std::string_view(buf_).substr(hold_, pos_ - hold_));
  state_ = f_ == ToolFormat::Generic || f_ == ToolFormat::Llama3 ? State::PlainContent : State::Content;
}

ToolCallStream::Step ToolCallStream::content_scan(bool eof, std::string_view marker) {
  const std::string_view rest = std::string_view(buf_).substr(pos_);
  if (const size_t at = rest.find(marker); at != std::string_view::npos) {
    content(rest.substr(0, at));
    pos_ += at;
    begin_call_text(State::AfterMarker);
    pos_ += marker.size();
    return Step::Progress;
  }
  const size_t keep = eof ? 0 : marker_prefix_tail(rest, marker);
  content(rest.substr(0, rest.size() - keep));
  pos_ += rest.size() - keep;
  return Step::More;
}

ToolCallStream::Step ToolCallStream::step(bool eof) {
  const size_t n = buf_.size();
  // A fixed string at s[p]: true when there, More-worthy (nullopt) when the text so far may still become it.
  const auto literal_at = [&](size_t p, std::string_view lit) -> std::optional<bool> {
    const std::string_view have = std::string_view(buf_).substr(p, lit.size());
    if (have == lit) return true;
    if (!eof && have.size() < lit.size() && lit.starts_with(have)) return std::nullopt;
    return false;
  };
  switch (state_) {
    case State::Start: {
      const size_t p = skip_ws(buf_, pos_);
      content(std::string_view(buf_).substr(pos_, p - pos_));
      pos_ = p;
      if (p == n) return Step::More;
      const char c = buf_[p];
      if ((f_ == ToolFormat::Generic || f_ == ToolFormat::Llama3) && c == '{') {
        begin_call_text(State::Object);
        ++pos_;
        if (f_ == ToolFormat::Generic) state_ = State::GenericOpen;
        else start_object();
        return Step::Progress;
      }
      if (f_ == ToolFormat::Llama3 && c == '<') {
        const auto tag = literal_at(p, kPythonTag);
        if (!tag) return Step::More;
        if (*tag) {
          begin_call_text(State::LlamaTag);
          pos_ += kPythonTag.size();
          return Step::Progress;
        }
      }
      if (f_ == ToolFormat::Mistral && c == '[') {
        const auto marker = literal_at(p, kMistralMarker);
        if (!marker) return Step::More;
        if (!*marker) {  // a bare array of calls ([TOOL_CALLS] is a control token a detokenizer may drop)
          begin_call_text(State::ArrayItem);
          ++pos_;
          return Step::Progress;
        }
      }
      state_ = f_ == ToolFormat::Qwen || f_ == ToolFormat::Mistral ? State::Content : State::PlainContent;
      return Step::Progress;
    }
    case State::Content: return content_scan(eof, f_ == ToolFormat::Qwen ? kQwenOpen : kMistralMarker);
    case State::PlainContent:
      content(std::string_view(buf_).substr(pos_));
      pos_ = n;
      return Step::More;
    case State::AfterMarker:
    case State::LlamaTag:
    case State::ArrayItem: {
      const size_t p = skip_ws(buf_, pos_);
      if (p == n) return Step::More;
      pos_ = p;
      const char want = state_ == State::AfterMarker && f_ == ToolFormat::Mistral ? '[' : '{';
      if (buf_[p] != want) {
        fail();
        return Step::Progress;
      }
      ++pos_;
      if (want == '[') {
        state_ = State::ArrayItem;
      } else {
        start_object();
      }
      return Step::Progress;
    }
    case State::GenericOpen: {  // "tool_calls" : [
      size_t p = skip_ws(buf_, pos_);
      if (p == n) return Step::More;
      if (buf_[p] != '"') {
        pos_ = p;
        fail();
        return Step::Progress;
      }
      const size_t e = string_end(buf_, p);
      if (e == npos) return Step::More;
      if (decode_string(std::string_view(buf_).substr(p, e - p)) != "tool_calls") {
        pos_ = p;
        fail();
        return Step::Progress;
      }
      for (const char want : {':', '['}) {
        p = skip_ws(buf_, want == ':' ? e : p + 1);
        if (p == n) return Step::More;
        if (buf_[p] != want) {
          pos_ = p;
          fail();
          return Step::Progress;
        }
      }
      pos_ = p + 1;
      state_ = State::ArrayItem;
      return Step::Progress;
    }
    case State::ArrayNext:
    case State::GenericClose: {
      const size_t p = skip_ws(buf_, pos_);
      if (p == n) return Step::More;
      pos_ = p;
      const char c = buf_[p];
      if (state_ == State::ArrayNext && c == ',') {
        state_ = State::ArrayItem;
      } else if (state_ == State::ArrayNext && c == ']') {
        state_ = f_ == ToolFormat::Generic ? State::GenericClose : State::Content;
      } else if (state_ == State::GenericClose && c == '}') {
        state_ = State::PlainContent;
      } else {
        fail();
        return Step::Progress;
      }
      ++pos_;
      return Step::Progress;
    }
    case State::QwenClose: {
      const size_t p = skip_ws(buf_, pos_);
      if (p == n) return Step::More;
      const auto tag = literal_at(p, kQwenClose);
      if (!tag) return Step::More;
      pos_ = p;
      if (!*tag) {
        fail();
        return Step::Progress;
      }
      pos_ += kQwenClose.size();
      state_ = State::Content;
      return Step::Progress;
    }
    case State::Object: return object_step(eof);
  }
  return Step::More;
}

ToolCallStream::Step ToolCallStream::object_step(bool eof) {
  const size_t n = buf_.size();
  const auto failed_at = [&](size_t p) {
    pos_ = p;
    fail();
    return Step::Progress;
  };
  const auto known = [&](const std::string& name) {
    return std::find(names_.begin(), names_.end(), name) != names_.end();
  };
  // The arguments read whole (a JSON string, null, or before the name): sent with the call's start.
  const auto send_read_args = [&] {
    call_started();
    emit(ToolCallEvent::Arguments, args_);
  };
  if (obj_ == Obj::Args) {  // the arguments object, streamed without whitespace outside strings
    std::string piece;
    bool done = false;
    for (; pos_ < n && !done; ++pos_) {
      const char c = buf_[pos_];
      if (in_string_) {
        if (escape_) escape_ = false;
        else if (c == '\\') escape_ = true;
        else if (c == '"') in_string_ = false;
      } else if (is_ws(c)) {
        continue;
      } else if (c == '"') {
        in_string_ = true;
      } else if (c == '{' || c == '[') {
        ++depth_;
      } else if ((c == '}' || c == ']') && --depth_ == 0) {
        done = true;
      }
      piece += c;
    }
    if (started_) emit(ToolCallEvent::Arguments, std::move(piece));
    else args_ += piece;
    if (!done) return Step::More;
    have_args_ = true;
    obj_ = Obj::After;
    return Step::Progress;
  }
  const size_t p = skip_ws(buf_, pos_);
  if (p == n) return Step::More;
  const char c = buf_[p];
  switch (obj_) {
    case Obj::Key: {
      if (c == '}') {
        pos_ = p + 1;
        return object_end();
      }
      if (c != '"') return failed_at(p);
      const size_t e = string_end(buf_, p);
      if (e == npos) return Step::More;
      const auto key = decode_string(std::string_view(buf_).substr(p, e - p));
      if (!key) return failed_at(p);
      key_ = *key;
      pos_ = e;
      obj_ = Obj::Colon;
      return Step::Progress;
    }
    case Obj::Colon:
      if (c != ':') return failed_at(p);
      pos_ = p + 1;
      obj_ = Obj::Value;
      return Step::Progress;
    case Obj::After:
      if (c == ',') {
        pos_ = p + 1;
        obj_ = Obj::Key;
        return Step::Progress;
      }
      if (c != '}') return failed_at(p);
      pos_ = p + 1;
      return object_end();
    case Obj::Value: {
      if (key_ == "name" && name_.empty()) {
        if (c != '"') return failed_at(p);
        const size_t e = string_end(buf_, p);
        if (e == npos) return Step::More;
        const auto name = decode_string(std::string_view(buf_).substr(p, e - p));
        if (!name || !known(*name)) return failed_at(p);
        name_ = *name;
        pos_ = e;
        obj_ = Obj::After;
        if (have_args_) send_read_args();
        return Step::Progress;
      }
      if ((key_ == "arguments" || key_ == "parameters") && !have_args_) {
        if (c == '{') {
          pos_ = p;
          depth_ = 0;
          in_string_ = escape_ = false;
          args_.clear();
          obj_ = Obj::Args;
          if (!name_.empty()) call_started();
          return Step::Progress;
        }
        const size_t e = value_end(buf_, p, eof);
        if (e == npos) return Step::More;
        const std::string_view v = std::string_view(buf_).substr(p, e - p);
        if (v == "null") {
          args_ = "{}";
        } else {
          const auto text = c == '"' ? decode_string(v) : std::nullopt;
          if (!text || !nlohmann::json::parse(*text, nullptr, false).is_object()) return failed_at(p);
          args_ = compact(*text);  // arguments written as a JSON string holding the object
        }
        have_args_ = true;
        pos_ = e;
        obj_ = Obj::After;
        if (!name_.empty()) send_read_args();
        return Step::Progress;
      }
      const size_t e = value_end(buf_, p, eof);  // another key: its value is skipped
      if (e == npos) return Step::More;
      pos_ = e;
      obj_ = Obj::After;
      return Step::Progress;
    }
    case Obj::Args: break;
  }
  return Step::More;
}

ToolCallStream::Step ToolCallStream::object_end() {
  if (name_.empty()) {
    fail();
    return Step::Progress;
  }
  if (!started_) {  // no arguments given
    if (!have_args_) args_ = "{}";
    call_started();
    emit(ToolCallEvent::Arguments, args_);
  }
  call_ended();
  state_ = f_ == ToolFormat::Qwen      ? State::QwenClose
           : f_ == ToolFormat::Llama3 ? State::PlainContent
                                      : State::ArrayNext;
  return Step::Progress;
}

}  // namespace pocketllm::server
