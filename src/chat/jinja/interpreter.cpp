#include "chat/jinja/interpreter.h"

#include <algorithm>

#include "chat/jinja/text.h"

namespace pocketllm::chat::jinja {

struct Interpreter::Scope {
  ScopePtr parent;
  std::vector<std::pair<std::string, Value>> vars;

  const Value* lookup(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent.get())
      for (const auto& kv : s->vars)
        if (kv.first == name) return &kv.second;
    return nullptr;
  }
  void set(const std::string& name, Value v) {
    for (auto& kv : vars)
      if (kv.first == name) {
        kv.second = std::move(v);
        return;
      }
    vars.emplace_back(name, std::move(v));
  }
};

struct Interpreter::DepthGuard {
  Interpreter& in;
  explicit DepthGuard(Interpreter& i) : in(i) {
    if (++in.eval_depth_ > in.limits_.max_eval_depth) fail("template nesting too deep (over {} levels)", in.limits_.max_eval_depth);
    if ((++in.steps_ & 15) == 0 && std::chrono::steady_clock::now() > in.deadline_)
      fail("template rendering exceeded the time limit of {} ms", in.limits_.max_millis);
  }
  ~DepthGuard() { --in.eval_depth_; }
};

namespace {

bool expr_uses(const Expr* e, const std::string& name) {
  if (!e) return false;
  if (e->kind == ExprKind::Name && e->name == name) return true;
  for (const auto& a : e->args)
    if (expr_uses(a.get(), name)) return true;
  for (const auto& kv : e->kwargs)
    if (expr_uses(kv.second.get(), name)) return true;
  return false;
}

// Whether a macro body mentions `name` (jinja2 accepts extra arguments only when the body
// reads `varargs` / `kwargs`).
bool body_uses(const Body& body, const std::string& name) {
  for (const auto& s : body) {
    if (expr_uses(s->expr.get(), name) || expr_uses(s->cond.get(), name) || expr_uses(s->filter.get(), name)) return true;
    for (const auto& c : s->conds)
      if (expr_uses(c.get(), name)) return true;
    for (const auto& d : s->defaults)
      if (expr_uses(d.get(), name)) return true;
    for (const auto& b : s->bodies)
      if (body_uses(b, name)) return true;
    if (body_uses(s->body, name) || body_uses(s->else_body, name)) return true;
  }
  return false;
}

}  // namespace

[[noreturn]] void fail_undefined(const Value& u) {
  if (u.unsafe) fail("SecurityError: {}", u.text());
  fail("{}", u.text().empty() ? std::string("value is undefined") : u.text());
}

Interpreter::Interpreter(Limits limits) : limits_(limits) {
  globals_ = std::make_shared<Scope>();
  install_globals(*this, globals_->vars);
}

Interpreter::~Interpreter() = default;

std::string Interpreter::render(const Template& tpl, const Value& context) {
  std::string out;
  out_ = &out;
  work_ = 0;
  steps_ = 0;
  deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(limits_.max_millis);
  auto root = std::make_shared<Scope>();
  root->parent = globals_;
  if (context.is_object())
    for (const auto& [k, v] : context.object->items)
      if (k.is_string()) root->set(k.text(), v);
  // Namespaces and macro scopes may reference each other in cycles: break them on every exit.
  struct Cleanup {
    Interpreter& in;
    std::shared_ptr<Scope> root;
    ~Cleanup() {
      for (auto& w : in.namespaces_)
        if (auto o = w.lock()) o->items.clear();
      for (auto& w : in.scopes_)
        if (auto sc = w.lock()) {
          sc->vars.clear();
          sc->parent.reset();
        }
      root->vars.clear();
      in.namespaces_.clear();
      in.scopes_.clear();
      in.out_ = nullptr;
    }
  } cleanup{*this, root};
  try {
    exec_body(tpl.body, root);
  } catch (const TemplateRaised&) {
    throw;
  } catch (const Error& e) {
    throw Error(fmt::format("chat template error, line {}: {}", line_, e.what()));
  } catch (const std::exception& e) {
    throw Error(fmt::format("chat template error, line {}: {}", line_, e.what()));
  }
  return out;
}

void Interpreter::add_work(int64_t n) {
  work_ += n;
  if (work_ > limits_.max_work) fail("template exceeded the limit of {} loop iterations/items", limits_.max_work);
}

void Interpreter::check_size(size_t bytes, bool charge) {
  if (bytes > limits_.max_output) fail("template output or string exceeds {} bytes", limits_.max_output);
  if (charge) add_work(static_cast<int64_t>(bytes >> 10));
}

void Interpreter::write(const std::string& s) {
  if (out_->size() + s.size() > limits_.max_output) fail("template output exceeds {} bytes", limits_.max_output);
  out_->append(s);
}

Value Interpreter::make_namespace() {
  Value v = Value::new_object();
  v.object->is_namespace = true;
  namespaces_.push_back(v.object);
  return v;
}

std::vector<Value> Interpreter::iterate(const Value& v) {
  switch (v.type) {
    case Value::Type::Undefined: return {};
    case Value::Type::Array: {
      add_work(static_cast<int64_t>(v.array->size()) / 8);
      if (!v.is_generator) return *v.array;
      std::vector<Value> items = std::move(*v.array);  // a Python generator is exhausted by one pass
      v.array->clear();
      return items;
    }
    case Value::Type::String: {
      std::vector<Value> out;
      for (char32_t c : text::decode(v.text())) {
        std::string s;
        text::append_utf8(s, c);
        out.push_back(Value::from_string(std::move(s)));
      }
      add_work(static_cast<int64_t>(out.size()) / 8);
      return out;
    }
    case Value::Type::Object:
      if (!v.object->is_namespace) {
        std::vector<Value> out;
        for (const auto& kv : v.object->items) out.push_back(kv.first);
        return out;
      }
      [[fallthrough]];
    default: fail("'{}' object is not iterable", v.type_name());
  }
}

std::string Interpreter::capture(const Body& body, const ScopePtr& scope) {
  std::string buf;
  std::string* saved = out_;
  out_ = &buf;
  try {
    exec_body(body, scope);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return buf;
}

Interpreter::Flow Interpreter::exec_body(const Body& body, const ScopePtr& scope) {
  for (const auto& s : body) {
    Flow f = exec(*s, scope);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

void Interpreter::assign(const ScopePtr& scope, const std::vector<std::string>& targets, const Value& v) {
  if (targets.size() == 1) {
    scope->set(targets[0], v);
    return;
  }
  if (v.is_undefined()) fail_undefined(v);
  std::vector<Value> items = iterate(v);
  if (items.size() != targets.size())
    fail("{} values to unpack (expected {}, got {})", items.size() > targets.size() ? "too many" : "not enough",
         targets.size(), items.size());
  for (size_t i = 0; i < targets.size(); ++i) scope->set(targets[i], items[i]);
}

Interpreter::Flow Interpreter::exec(const Stmt& s, const ScopePtr& scope) {
  DepthGuard guard(*this);
  if (s.line) line_ = s.line;
  switch (s.kind) {
    case StmtKind::Text: write(s.text); break;
    case StmtKind::Print: {
      // python-jinja2 evaluates a constant {{ expression }} at compile time through its
      // getitem, where slicing a non-sequence gives Undefined instead of raising TypeError.
      Value v;
      if (!(s.expr->has_slice && folds(*s.expr, scope) && eval_folded(*s.expr, scope, v, true))) v = eval(*s.expr, scope);
      if (v.is_string()) write(v.text());
      else write(v.str());
      break;
    }
    case StmtKind::If:
      for (size_t i = 0; i < s.conds.size(); ++i)
        if (eval(*s.conds[i], scope).truthy()) return exec_body(s.bodies[i], scope);
      return exec_body(s.else_body, scope);
    case StmtKind::For: return exec_for(s, scope);
    case StmtKind::Set: exec_set(s, scope); break;
    case StmtKind::Macro: scope->set(s.name, make_macro(s, scope, s.name)); break;
    case StmtKind::CallBlock: {
      Value caller = make_macro(s, scope, "caller");
      write(eval_call(*s.expr, scope, &caller).str());
      break;
    }
    case StmtKind::FilterBlock: {
      std::string body = capture(s.body, scope);
      CallArgs none;
      Value input = Value::from_string(std::move(body));
      // The chain's innermost filter reads the body text (BlockInput).
      const Expr* chain[64];
      size_t n = 0;
      for (const Expr* f = s.filter.get(); f && f->kind == ExprKind::Filter && n < 64; f = f->args[0].get()) chain[n++] = f;
      for (size_t i = n; i-- > 0;) {
        CallArgs args;
        collect_args(*chain[i], 1, scope, args);
        input = apply_filter(*this, chain[i]->name, input, args);
      }
      write(input.str());
      break;
    }
    case StmtKind::With: {
      auto inner = std::make_shared<Scope>();
      inner->parent = scope;
      for (size_t i = 0; i < s.targets.size(); ++i) inner->set(s.targets[i], eval(*s.defaults[i], scope));
      return exec_body(s.body, inner);
    }
    case StmtKind::Break: return Flow::Break;
    case StmtKind::Continue: return Flow::Continue;
    case StmtKind::Generation: {
      // transformers implements this as a call block: the body runs in its own scope.
      auto inner = std::make_shared<Scope>();
      inner->parent = scope;
      write(capture(s.body, inner));
      break;
    }
  }
  return Flow::Normal;
}

void Interpreter::exec_set(const Stmt& s, const ScopePtr& scope) {
  Value v;
  if (s.expr) {
    v = eval(*s.expr, scope);
  } else {
    v = Value::from_string(capture(s.body, scope));
    if (s.filter) {
      const Expr* chain[64];
      size_t n = 0;
      for (const Expr* f = s.filter.get(); f && f->kind == ExprKind::Filter && n < 64; f = f->args[0].get()) chain[n++] = f;
      for (size_t i = n; i-- > 0;) {
        CallArgs args;
        collect_args(*chain[i], 1, scope, args);
        v = apply_filter(*this, chain[i]->name, v, args);
      }
    }
  }
  if (!s.attr_target.empty()) {
    const Value* ns = scope->lookup(s.attr_target);
    if (!ns || !ns->is_namespace()) fail("cannot assign attribute on non-namespace object '{}'", s.attr_target);
    ns->object->set(Value::from_string(s.targets[0]), std::move(v));
    return;
  }
  assign(scope, s.targets, v);
}

bool Interpreter::loop_fetch(LoopState& st, size_t count) {
  while (st.items.size() < count && st.scanned < st.source.size()) {
    const Value& item = st.source[st.scanned++];
    if (!st.accept) {
      st.items.push_back(item);
      continue;
    }
    add_work(1);
    if (st.accept(item)) st.items.push_back(item);
  }
  return st.items.size() >= count;
}

Interpreter::Flow Interpreter::exec_for(const Stmt& s, const ScopePtr& scope) {
  Value iterable = eval(*s.expr, scope);
  bool completed_body = false;
  Value loop = Value::new_object();
  loop.object->is_namespace = true;
  auto state = std::make_shared<LoopState>();
  loop.object->loop = state;
  state->source = iterate(iterable);
  if (s.cond)
    state->accept = [this, &s, scope](const Value& item) {
      auto tmp = std::make_shared<Scope>();
      tmp->parent = scope;
      assign(tmp, s.targets, item);
      return eval(*s.cond, tmp).truthy();
    };
  std::weak_ptr<LoopState> weak = state;
  state->cycle = make_callable("cycle", [weak](Interpreter&, CallArgs& a) {
    auto st = weak.lock();
    if (a.positional.empty() || !st) fail("no items for cycling given");
    return a.positional[static_cast<size_t>(st->index) % a.positional.size()];
  });
  struct Finish {  // the filter must not run once this frame is gone
    LoopState& st;
    ~Finish() {
      st.accept = nullptr;
      st.scanned = st.source.size();
    }
  } finish{*state};
  for (int64_t i = 0; loop_fetch(*state, static_cast<size_t>(i) + 1); ++i) {
    add_work(1);
    state->index = i;
    auto inner = std::make_shared<Scope>();
    inner->parent = scope;
    assign(inner, s.targets, state->items[static_cast<size_t>(i)]);
    inner->set("loop", loop);
    Flow flow = exec_body(s.body, inner);
    if (flow == Flow::Break) break;
    if (flow == Flow::Normal) completed_body = true;
  }
  // As compiled by jinja2, `else` runs unless some iteration ran its body to the end.
  if (!completed_body) {
    auto other = std::make_shared<Scope>();
    other->parent = scope;
    return exec_body(s.else_body, other);  // break/continue there act on an enclosing loop
  }
  return Flow::Normal;
}

Value Interpreter::make_macro(const Stmt& s, const ScopePtr& scope, const std::string& name) {
  scopes_.push_back(scope);
  const Stmt* stmt = &s;
  std::weak_ptr<Scope> weak = scope;
  const bool takes_varargs = body_uses(s.body, "varargs");
  const bool takes_kwargs = body_uses(s.body, "kwargs");
  const bool takes_caller = name == "caller" || body_uses(s.body, "caller");
  return make_callable(name, [stmt, weak, name, takes_varargs, takes_kwargs, takes_caller](Interpreter& in, CallArgs& args) -> Value {
    ScopePtr defining = weak.lock();
    if (!defining) fail("macro '{}' called after its template finished", name);
    in.add_work(1);
    if (++in.call_depth_ > in.limits_.max_call_depth) {
      --in.call_depth_;
      fail("macro recursion deeper than {} calls", in.limits_.max_call_depth);
    }
    struct Release {
      int& d;
      ~Release() { --d; }
    } release{in.call_depth_};
    auto local = std::make_shared<Scope>();
    local->parent = defining;
    const auto& params = stmt->targets;
    if (!takes_varargs && args.positional.size() > params.size())
      fail("macro '{}' takes not more than {} argument(s)", name, params.size());
    Array varargs;
    for (size_t i = 0; i < args.positional.size(); ++i) {
      if (i < params.size()) local->set(params[i], args.positional[i]);
      else varargs.push_back(args.positional[i]);
    }
    Value kwargs = Value::new_object();
    for (auto& [k, v] : args.named) {
      bool is_param = false;
      for (size_t i = 0; i < params.size(); ++i)
        if (params[i] == k) {
          if (i < args.positional.size()) fail("macro '{}' got multiple values for argument '{}'", name, k);
          is_param = true;
        }
      if (is_param || (k == "caller" && takes_caller)) local->set(k, v);
      else if (takes_kwargs) kwargs.object->set(Value::from_string(k), v);
      else fail("macro '{}' takes no keyword argument '{}'", name, k);
    }
    for (size_t i = args.positional.size(); i < params.size(); ++i) {
      if (std::any_of(local->vars.begin(), local->vars.end(), [&](const auto& kv) { return kv.first == params[i]; }))
        continue;  // given by keyword
      const Expr* def = stmt->defaults[i].get();
      local->set(params[i], def ? in.eval(*def, local) : Value::undefined("parameter '" + params[i] + "' was not provided"));
    }
    local->set("varargs", Value::from_array(std::move(varargs), true));
    local->set("kwargs", kwargs);
    int saved_line = in.line_;
    std::string out = in.capture(stmt->body, local);
    in.line_ = saved_line;
    return Value::from_string(std::move(out));
  });
}

void Interpreter::collect_args(const Expr& e, size_t first, const ScopePtr& scope, CallArgs& out) {
  for (size_t i = first; i < e.args.size(); ++i) out.positional.push_back(eval(*e.args[i], scope));
  for (const auto& [k, v] : e.kwargs) out.named.emplace_back(k, eval(*v, scope));
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) fail_undefined(callee);
  if (callee.type != Value::Type::Callable) fail("'{}' object is not callable", callee.type_name());
  return callee.callable->fn(*this, args);
}

Value Interpreter::eval_call(const Expr& e, const ScopePtr& scope, const Value* caller) {
  Value callee = eval(*e.args[0], scope);
  CallArgs args;
  collect_args(e, 1, scope, args);
  if (caller) args.named.emplace_back("caller", *caller);
  return call(callee, args);
}

Value Interpreter::getattr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (is_method(obj, name)) {
    Value self = obj;
    return make_callable(name, [self, name](Interpreter& in, CallArgs& a) { return call_method(in, self, name, a); });
  }
  if (is_unsafe_method(obj, name)) {
    Value u = Value::undefined(fmt::format("access to attribute '{}' of '{}' object is unsafe.", name, obj.type_name()));
    u.unsafe = true;
    return u;
  }
  if (obj.is_object() && obj.object->loop) return loop_attribute(*obj.object->loop, name);
  if (obj.is_object())
    if (const Value* v = obj.object->find(name)) return *v;
  return Value::undefined(fmt::format("'{}' has no attribute '{}'",
                                      obj.is_namespace() ? std::string("Namespace") : std::string(obj.type_name()) + " object", name));
}

Value Interpreter::loop_attribute(LoopState& st, const std::string& name) {
  const int64_t i = st.index;
  if (name == "last" || name == "nextitem") {
    bool more = loop_fetch(st, static_cast<size_t>(i) + 2);
    if (name == "last") return Value::from_bool(!more);
    return more ? st.items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item");
  }
  if (name == "length" || name == "revindex" || name == "revindex0") loop_fetch(st, SIZE_MAX);
  const int64_t n = static_cast<int64_t>(st.items.size());
  if (name == "index") return Value::from_int(i + 1);
  if (name == "index0") return Value::from_int(i);
  if (name == "revindex") return Value::from_int(n - i);
  if (name == "revindex0") return Value::from_int(n - i - 1);
  if (name == "first") return Value::from_bool(i == 0);
  if (name == "length") return Value::from_int(n);
  if (name == "depth") return Value::from_int(1);
  if (name == "depth0") return Value::from_int(0);
  if (name == "previtem") return i > 0 ? st.items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item");
  if (name == "cycle") return st.cycle;
  return Value::undefined(fmt::format("'LoopContext' object has no attribute '{}'", name));
}

Value Interpreter::getitem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (obj.is_generator) fail("'generator' object is not subscriptable");
  if (obj.is_array() && key.is_integral()) {
    int64_t n = static_cast<int64_t>(obj.array->size());
    int64_t i = key.as_int();
    if (i < 0) i += n;
    if (i >= 0 && i < n) return (*obj.array)[static_cast<size_t>(i)];
  } else if (obj.is_string() && key.is_integral()) {
    auto cps = text::decode(obj.text());
    int64_t n = static_cast<int64_t>(cps.size());
    int64_t i = key.as_int();
    if (i < 0) i += n;
    if (i >= 0 && i < n) return Value::from_string(text::encode(cps, static_cast<size_t>(i), static_cast<size_t>(i) + 1));
  } else if (obj.is_object() && !obj.is_namespace()) {
    if (const Value* v = obj.object->find(key)) return *v;
  }
  if (key.is_string()) return getattr(obj, key.text());
  return Value::undefined(fmt::format("'{}' object has no element {}", obj.type_name(), key.repr()));
}

bool Interpreter::folds(const Expr& e, const ScopePtr& scope) {
  auto all_fold = [&] {
    for (const auto& a : e.args)
      if (a && !folds(*a, scope)) return false;
    for (const auto& kv : e.kwargs)
      if (!folds(*kv.second, scope)) return false;
    return true;
  };
  auto truthy_const = [&](const Expr& x, bool& out) {
    Value v;
    if (!eval_folded(x, scope, v, true)) return false;
    out = v.truthy();
    return true;
  };
  switch (e.kind) {
    case ExprKind::Literal: return true;
    case ExprKind::Name:
    case ExprKind::Call:
    case ExprKind::BlockInput: return false;
    case ExprKind::Ternary: {  // only the branch chosen by a constant test matters
      bool t = false;
      if (!folds(*e.args[1], scope) || !truthy_const(*e.args[1], t)) return false;
      const Expr* chosen = t ? e.args[0].get() : e.args[2].get();
      return !chosen || folds(*chosen, scope);
    }
    case ExprKind::Binary:
      if (e.op == "and" || e.op == "or") {
        bool t = false;
        if (!folds(*e.args[0], scope) || !truthy_const(*e.args[0], t)) return false;
        if (t == (e.op == "or")) return true;  // short-circuited
        return folds(*e.args[1], scope);
      }
      return all_fold();
    case ExprKind::Filter:  // filters taking the template context are never folded
      if (e.name == "map" || e.name == "select" || e.name == "reject" || e.name == "selectattr" || e.name == "rejectattr")
        return false;
      return all_fold();
    default: return all_fold();
  }
}

static bool contains_undefined(const Value& v, int depth = 0) {
  if (v.is_undefined() || depth > 64) return true;
  if (v.is_array())
    for (const auto& x : *v.array)
      if (contains_undefined(x, depth + 1)) return true;
  if (v.is_object())
    for (const auto& [k, x] : v.object->items)
      if (contains_undefined(k, depth + 1) || contains_undefined(x, depth + 1)) return true;
  return false;
}

// Evaluates a foldable expression as python-jinja2's compile-time folding would. Inside an
// expression only values without Undefined are folded; a whole {{ }} accepts any value.
bool Interpreter::eval_folded(const Expr& e, const ScopePtr& scope, Value& out, bool whole_output) {
  const bool saved = const_mode_;
  const_mode_ = true;
  try {
    out = eval(e, scope);
  } catch (const TemplateRaised&) {
    const_mode_ = saved;
    throw;
  } catch (const Error&) {
    const_mode_ = saved;
    return false;
  }
  const_mode_ = saved;
  return whole_output || !contains_undefined(out);
}

Value Interpreter::eval(const Expr& e, const ScopePtr& scope) {
  DepthGuard guard(*this);
  if (e.has_slice && !const_mode_ && folds(e, scope)) {
    Value folded;
    if (eval_folded(e, scope, folded, false)) return folded;
  }
  switch (e.kind) {
    case ExprKind::Literal: return e.value;
    case ExprKind::Name: {
      if (const Value* v = scope->lookup(e.name)) return *v;
      return Value::undefined("'" + e.name + "' is undefined");
    }
    case ExprKind::List:
    case ExprKind::Tuple: {
      Array items;
      for (const auto& a : e.args) items.push_back(eval(*a, scope));
      return Value::from_array(std::move(items), e.kind == ExprKind::Tuple);
    }
    case ExprKind::Dict: {
      Value d = Value::new_object();
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Value k = eval(*e.args[i], scope);
        if (k.type == Value::Type::Array && !k.is_tuple) fail("unhashable type: 'list'");
        if (k.is_object()) fail("unhashable type: 'dict'");
        d.object->set(k, eval(*e.args[i + 1], scope));
      }
      return d;
    }
    case ExprKind::Unary: {
      Value v = eval(*e.args[0], scope);
      if (e.op == "not") return Value::from_bool(!v.truthy());
      if (v.is_undefined()) fail_undefined(v);
      if (!v.is_number()) fail("bad operand type for unary {}: '{}'", e.op, v.type_name());
      if (e.op == "+") return v.type == Value::Type::Bool ? Value::from_int(v.as_int()) : v;
      if (v.type == Value::Type::Float) return Value::from_float(-v.number);
      if (v.as_int() == INT64_MIN) fail("integer overflow");
      return Value::from_int(-v.as_int());
    }
    case ExprKind::Binary: {
      Value a = eval(*e.args[0], scope);
      if (e.op == "and") return a.truthy() ? eval(*e.args[1], scope) : a;
      if (e.op == "or") return a.truthy() ? a : eval(*e.args[1], scope);
      Value b = eval(*e.args[1], scope);
      return binary_op(*this, e.op, a, b);
    }
    case ExprKind::Compare: {
      Value left = eval(*e.args[0], scope);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.args[i + 1], scope);
        if (!compare_op(e.ops[i], left, right)) return Value::from_bool(false);
        left = std::move(right);
      }
      return Value::from_bool(true);
    }
    case ExprKind::Ternary:
      if (eval(*e.args[1], scope).truthy()) return eval(*e.args[0], scope);
      if (e.args[2]) return eval(*e.args[2], scope);
      return Value::undefined("the inline if-expression evaluated to false and no else section was defined");
    case ExprKind::GetAttr: return getattr(eval(*e.args[0], scope), e.name);
    case ExprKind::GetItem: {
      Value obj = eval(*e.args[0], scope);
      return getitem(obj, eval(*e.args[1], scope));
    }
    case ExprKind::Slice: {
      Value obj = eval(*e.args[0], scope);
      Value parts[3];
      for (int i = 0; i < 3; ++i) parts[i] = e.args[1 + i] ? eval(*e.args[1 + i], scope) : Value::none();
      if (const_mode_ && !obj.is_string() && !obj.is_array() && !obj.is_undefined())
        return Value::undefined("slice of a constant");
      return slice_value(*this, obj, parts[0], parts[1], parts[2]);
    }
    case ExprKind::Call: return eval_call(e, scope, nullptr);
    case ExprKind::Filter: {
      Value input = eval(*e.args[0], scope);
      CallArgs args;
      collect_args(e, 1, scope, args);
      return apply_filter(*this, e.name, input, args);
    }
    case ExprKind::Test: {
      Value v = eval(*e.args[0], scope);
      CallArgs args;
      collect_args(e, 1, scope, args);
      bool r = apply_test(*this, e.name, v, args);
      return Value::from_bool(e.negated ? !r : r);
    }
    case ExprKind::BlockInput: fail("internal error: filter block input evaluated directly");
  }
  return Value();
}

}  // namespace pocketllm::chat::jinja
