// Tree-walking evaluator with python-jinja2 semantics (ImmutableSandboxedEnvironment,
// default Undefined) and hard limits so hostile templates end quickly with an Error.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/value.h"
#include "core/error.h"

namespace pocketllm::chat::jinja {

struct Limits {
  int64_t max_work = 1'000'000;          // loop iterations, macro calls, items built by filters/operators
  size_t max_output = 16u << 20;         // bytes of output and of any single string
  int max_call_depth = 64;               // nested macro calls
  int max_eval_depth = 500;              // nested statement/expression evaluation
  int64_t max_millis = 5000;             // wall-clock backstop for anything the counts miss
};

// Thrown by raise_exception(): carries the template's own message unchanged.
class TemplateRaised : public Error {
 public:
  using Error::Error;
};

class Interpreter {
 public:
  explicit Interpreter(Limits limits = {});
  ~Interpreter();

  // Renders `tpl` with the variables of `context` (a dict Value) plus the globals.
  std::string render(const Template& tpl, const Value& context);

  // Services used by filters, tests, methods and globals.
  Value call(const Value& callee, CallArgs& args);
  Value getattr(const Value& obj, const std::string& name);
  Value loop_attribute(LoopState& st, const std::string& name);
  bool loop_fetch(LoopState& st, size_t count);  // accepts items until `count` are available
  Value getitem(const Value& obj, const Value& key);
  std::vector<Value> iterate(const Value& v);  // Python iteration (dict -> keys, str -> chars)
  void add_work(int64_t n);
  // Fails above max_output; when `charge`, counts the bytes built as work (1 unit per KiB).
  void check_size(size_t bytes, bool charge = true);
  Value make_namespace();
  const Limits& limits() const { return limits_; }

 private:
  struct Scope;
  using ScopePtr = std::shared_ptr<Scope>;
  enum class Flow { Normal, Break, Continue };
  struct DepthGuard;

  Flow exec_body(const Body& body, const ScopePtr& scope);
  Flow exec(const Stmt& s, const ScopePtr& scope);
  Flow exec_for(const Stmt& s, const ScopePtr& scope);
  void exec_set(const Stmt& s, const ScopePtr& scope);
  std::string capture(const Body& body, const ScopePtr& scope);
  Value eval(const Expr& e, const ScopePtr& scope);
  bool folds(const Expr& e, const ScopePtr& scope);  // would python-jinja2 constant-fold it?
  bool eval_folded(const Expr& e, const ScopePtr& scope, Value& out, bool whole_output);
  Value eval_call(const Expr& e, const ScopePtr& scope, const Value* caller);
  void collect_args(const Expr& e, size_t first, const ScopePtr& scope, CallArgs& out);
  Value make_macro(const Stmt& s, const ScopePtr& scope, const std::string& name);
  void write(const std::string& s);
  void assign(const ScopePtr& scope, const std::vector<std::string>& targets, const Value& v);

  Limits limits_;
  std::string* out_ = nullptr;
  int64_t work_ = 0;
  uint64_t steps_ = 0;
  std::chrono::steady_clock::time_point deadline_;
  int eval_depth_ = 0;
  int call_depth_ = 0;
  int line_ = 0;
  bool const_mode_ = false;
  ScopePtr globals_;
  std::vector<std::weak_ptr<Object>> namespaces_;  // cleared after render to break reference cycles
  std::vector<std::weak_ptr<Scope>> scopes_;       // macros capture scopes: cleared likewise
};

// Implemented in filters.cpp / methods.cpp / operators.cpp.
Value apply_filter(Interpreter& in, const std::string& name, const Value& input, CallArgs& args);
bool apply_test(Interpreter& in, const std::string& name, const Value& v, CallArgs& args);
bool is_method(const Value& self, const std::string& name);
bool is_unsafe_method(const Value& self, const std::string& name);
Value call_method(Interpreter& in, const Value& self, const std::string& name, CallArgs& args);
void install_globals(Interpreter& in, std::vector<std::pair<std::string, Value>>& globals);
Value binary_op(Interpreter& in, const std::string& op, const Value& a, const Value& b);
bool compare_op(const std::string& op, const Value& a, const Value& b);
Value slice_value(Interpreter& in, const Value& v, const Value& start, const Value& stop, const Value& step);
std::string percent_format(Interpreter& in, const std::string& fmt, const Value& args);
[[noreturn]] void fail_undefined(const Value& u);

}  // namespace pocketllm::chat::jinja
