#include "chat/jinja/parser.h"

#include <cerrno>
#include <cstdlib>

#include "chat/jinja/lexer.h"
#include "core/error.h"

namespace pocketllm::chat::jinja {

namespace {

constexpr int kMaxParseNesting = 100;  // nested parentheses / blocks
constexpr int kMaxExprDepth = 400;     // height of an expression tree

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  Template parse() {
    Template tpl;
    tpl.body = parse_body({});
    if (cur().type != TokenType::End) error("unexpected tag '{}'", cur().text);
    return tpl;
  }

 private:
  // ---- token helpers -------------------------------------------------------------
  const Token& cur() const { return t_[p_]; }
  const Token& peek(size_t n = 1) const { return t_[std::min(p_ + n, t_.size() - 1)]; }
  void next() {
    if (p_ + 1 < t_.size()) ++p_;
  }
  bool is_op(const char* op) const { return cur().type == TokenType::Operator && cur().text == op; }
  bool is_name(const char* name) const { return cur().type == TokenType::Name && cur().text == name; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }
  template <class... Args>
  [[noreturn]] void error(fmt::format_string<Args...> f, Args&&... args) const {
    fail("chat template syntax error, line {}: {}", cur().line, fmt::format(f, std::forward<Args>(args)...));
  }
  std::string describe() const {
    switch (cur().type) {
      case TokenType::End: return "end of template";
      case TokenType::BlockEnd: return "end of statement block";
      case TokenType::VarEnd: return "end of print statement";
      case TokenType::Data: return "template data";
      default: return "'" + cur().text + "'";
    }
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) error("expected '{}', got {}", op, describe());
  }
  std::string expect_name() {
    if (cur().type != TokenType::Name) error("expected a name, got {}", describe());
    std::string n = cur().text;
    next();
    return n;
  }
  void expect_block_end() {
    if (cur().type != TokenType::BlockEnd) error("expected end of statement block, got {}", describe());
    next();
  }

  struct NestGuard {
    Parser& p;
    explicit NestGuard(Parser& parser) : p(parser) {
      if (++p.nesting_ > kMaxParseNesting) p.error("template nested too deeply");
    }
    ~NestGuard() { --p.nesting_; }
  };

  ExprPtr node(ExprKind kind) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = cur().line;
    return e;
  }
  ExprPtr finish(ExprPtr e) {
    e->has_slice = e->kind == ExprKind::Slice;
    for (auto& a : e->args)
      if (a && a->has_slice) e->has_slice = true;
    int d = 0;
    for (auto& a : e->args)
      if (a) d = std::max(d, a->depth);
    for (auto& kv : e->kwargs) d = std::max(d, kv.second->depth);
    e->depth = d + 1;
    if (e->depth > kMaxExprDepth) error("expression nested too deeply");
    return e;
  }

  // ---- statements ----------------------------------------------------------------
  Body parse_body(const std::vector<std::string>& end_tags) {
    Body body;
    while (true) {
      const Token& tk = cur();
      if (tk.type == TokenType::End) {
        if (!end_tags.empty()) error("unexpected end of template, expected '{}'", end_tags.back());
        return body;
      }
      if (tk.type == TokenType::Data) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Text;
        s->text = tk.text;
        body.push_back(std::move(s));
        next();
      } else if (tk.type == TokenType::VarBegin) {
        next();
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Print;
        s->line = cur().line;
        s->expr = parse_tuple(true);
        if (cur().type != TokenType::VarEnd) error("expected end of print statement, got {}", describe());
        next();
        body.push_back(std::move(s));
      } else if (tk.type == TokenType::BlockBegin) {
        const Token& name = peek();
        if (name.type != TokenType::Name) {
          next();
          error("expected a statement name, got {}", describe());
        }
        for (const auto& e : end_tags)
          if (name.text == e) return body;
        next();
        body.push_back(parse_statement());
      } else {
        error("unexpected {}", describe());
      }
    }
  }

  // Consumes "{% name" of an end/intermediate tag that parse_body stopped at.
  std::string take_tag() {
    next();  // BlockBegin
    std::string n = cur().text;
    next();
    return n;
  }

  StmtPtr parse_statement() {
    NestGuard guard(*this);
    auto s = std::make_unique<Stmt>();
    s->line = cur().line;
    std::string tag = expect_name();
    if (tag == "if") {
      s->kind = StmtKind::If;
      s->conds.push_back(parse_tuple(false));
      expect_block_end();
      s->bodies.push_back(parse_body({"elif", "else", "endif"}));
      while (true) {
        std::string t = take_tag();
        if (t == "elif") {
          s->conds.push_back(parse_tuple(false));
          expect_block_end();
          s->bodies.push_back(parse_body({"elif", "else", "endif"}));
        } else if (t == "else") {
          expect_block_end();
          s->else_body = parse_body({"endif"});
          take_tag();
          break;
        } else {
          break;
        }
      }
      expect_block_end();
    } else if (tag == "for") {
      s->kind = StmtKind::For;
      s->targets = parse_targets();
      if (!skip_name("in")) error("expected 'in' in for loop, got {}", describe());
      s->expr = parse_tuple(false, true);
      if (skip_name("if")) s->cond = parse_tuple(false);
      if (is_name("recursive")) error("recursive for loops are not supported");
      expect_block_end();
      ++loop_depth_;
      s->body = parse_body({"else", "endfor"});
      --loop_depth_;
      if (take_tag() == "else") {
        expect_block_end();
        s->else_body = parse_body({"endfor"});
        take_tag();
      }
      expect_block_end();
    } else if (tag == "set") {
      s->kind = StmtKind::Set;
      if (cur().type == TokenType::Name && peek().type == TokenType::Operator && peek().text == ".") {
        s->attr_target = expect_name();
        next();
        s->targets.push_back(expect_name());
      } else {
        s->targets = parse_targets();
      }
      if (skip_op("=")) {
        s->expr = parse_tuple(true);
        expect_block_end();
      } else {
        if (!s->attr_target.empty() || s->targets.size() != 1) error("block set needs a single name");
        if (is_op("|")) s->filter = parse_filter_chain(nullptr);
        expect_block_end();
        s->body = parse_body({"endset"});
        take_tag();
        expect_block_end();
      }
    } else if (tag == "macro") {
      s->kind = StmtKind::Macro;
      s->name = expect_name();
      parse_params(*s);
      expect_block_end();
      int saved = loop_depth_;
      loop_depth_ = 0;
      s->body = parse_body({"endmacro"});
      loop_depth_ = saved;
      take_tag();
      if (cur().type == TokenType::Name) next();
      expect_block_end();
    } else if (tag == "call") {
      s->kind = StmtKind::CallBlock;
      if (is_op("(")) parse_params(*s);
      s->expr = parse_expression(true);
      if (s->expr->kind != ExprKind::Call) error("expected a call in call block");
      expect_block_end();
      s->body = parse_body({"endcall"});
      take_tag();
      expect_block_end();
    } else if (tag == "filter") {
      s->kind = StmtKind::FilterBlock;
      s->filter = parse_filter_chain(nullptr, false);
      expect_block_end();
      s->body = parse_body({"endfilter"});
      take_tag();
      expect_block_end();
    } else if (tag == "with") {
      s->kind = StmtKind::With;
      while (cur().type != TokenType::BlockEnd) {
        if (!s->targets.empty()) expect_op(",");
        s->targets.push_back(expect_name());
        expect_op("=");
        s->defaults.push_back(parse_expression(true));
      }
      expect_block_end();
      s->body = parse_body({"endwith"});
      take_tag();
      expect_block_end();
    } else if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) error("'{}' outside of a loop", tag);
      s->kind = tag == "break" ? StmtKind::Break : StmtKind::Continue;
      expect_block_end();
    } else if (tag == "generation") {
      s->kind = StmtKind::Generation;
      expect_block_end();
      s->body = parse_body({"endgeneration"});
      take_tag();
      expect_block_end();
    } else {
      error("encountered unknown or unsupported tag '{}'", tag);
    }
    return s;
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    bool paren = skip_op("(");
    do {
      if (paren && is_op(")")) break;
      names.push_back(expect_name());
    } while (skip_op(","));
    if (paren) expect_op(")");
    for (const auto& n : names)
      if (n == "true" || n == "false" || n == "none" || n == "True" || n == "False" || n == "None")
        error("cannot assign to '{}'", n);
    return names;
  }

  void parse_params(Stmt& s) {
    expect_op("(");
    while (!is_op(")")) {
      if (!s.targets.empty()) expect_op(",");
      if (is_op(")")) break;
      s.targets.push_back(expect_name());
      s.defaults.push_back(skip_op("=") ? parse_expression(true) : nullptr);
    }
    next();
  }

  // ---- expressions ---------------------------------------------------------------
  bool at_tuple_end(bool for_iter) const {
    if (cur().type == TokenType::VarEnd || cur().type == TokenType::BlockEnd || cur().type == TokenType::End) return true;
    if (is_op(")")) return true;
    if (for_iter && (is_name("if") || is_name("recursive"))) return true;
    return false;
  }

  ExprPtr parse_tuple(bool with_condexpr, bool for_iter = false) {
    auto first = parse_expression(with_condexpr);
    if (!is_op(",")) return first;
    auto t = node(ExprKind::Tuple);
    t->args.push_back(std::move(first));
    while (skip_op(",")) {
      if (at_tuple_end(for_iter)) break;
      t->args.push_back(parse_expression(with_condexpr));
    }
    return finish(std::move(t));
  }

  ExprPtr parse_expression(bool with_condexpr) {
    NestGuard guard(*this);
    auto e = parse_or();
    if (!with_condexpr) return e;
    while (is_name("if")) {
      next();
      auto t = node(ExprKind::Ternary);
      t->args.push_back(std::move(e));
      t->args.push_back(parse_or());
      t->args.push_back(skip_name("else") ? parse_expression(true) : nullptr);
      e = finish(std::move(t));
    }
    return e;
  }

  ExprPtr binary(const std::string& op, ExprPtr l, ExprPtr r) {
    auto b = node(ExprKind::Binary);
    b->op = op;
    b->args.push_back(std::move(l));
    b->args.push_back(std::move(r));
    return finish(std::move(b));
  }

  ExprPtr parse_or() {
    auto l = parse_and();
    while (skip_name("or")) l = binary("or", std::move(l), parse_and());
    return l;
  }
  ExprPtr parse_and() {
    auto l = parse_not();
    while (skip_name("and")) l = binary("and", std::move(l), parse_not());
    return l;
  }
  ExprPtr parse_not() {
    if (is_name("not")) {
      NestGuard guard(*this);
      auto u = node(ExprKind::Unary);
      next();
      u->op = "not";
      u->args.push_back(parse_not());
      return finish(std::move(u));
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    auto first = parse_math1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (cur().type == TokenType::Operator &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == ">" || cur().text == "<=" ||
           cur().text == ">=")) {
        op = cur().text;
        next();
      } else if (is_name("in")) {
        op = "in";
        next();
      } else if (is_name("not") && peek().type == TokenType::Name && peek().text == "in") {
        op = "not in";
        next();
        next();
      } else {
        break;
      }
      if (!cmp) {
        cmp = node(ExprKind::Compare);
        cmp->args.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(parse_math1());
    }
    return cmp ? finish(std::move(cmp)) : std::move(first);
  }
  ExprPtr parse_math1() {
    auto l = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = cur().text;
      next();
      l = binary(op, std::move(l), parse_concat());
    }
    return l;
  }
  ExprPtr parse_concat() {
    auto l = parse_math2();
    while (skip_op("~")) l = binary("~", std::move(l), parse_math2());
    return l;
  }
  ExprPtr parse_math2() {
    auto l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = cur().text;
      next();
      l = binary(op, std::move(l), parse_pow());
    }
    return l;
  }
  ExprPtr parse_pow() {
    auto l = parse_unary(true);
    while (skip_op("**")) l = binary("**", std::move(l), parse_unary(true));
    return l;
  }
  ExprPtr parse_unary(bool with_filter) {
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      NestGuard guard(*this);
      auto u = node(ExprKind::Unary);
      u->op = cur().text;
      next();
      u->args.push_back(parse_unary(false));
      e = finish(std::move(u));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    const Token& tk = cur();
    auto e = node(ExprKind::Literal);
    switch (tk.type) {
      case TokenType::Name:
        if (tk.text == "true" || tk.text == "True") e->value = Value::from_bool(true);
        else if (tk.text == "false" || tk.text == "False") e->value = Value::from_bool(false);
        else if (tk.text == "none" || tk.text == "None") e->value = Value::none();
        else {
          e->kind = ExprKind::Name;
          e->name = tk.text;
        }
        next();
        return e;
      case TokenType::String: {
        std::string s;
        while (cur().type == TokenType::String) {
          s += cur().text;
          next();
        }
        e->value = Value::from_string(std::move(s));
        return e;
      }
      case TokenType::Integer: {
        errno = 0;
        long long v = std::strtoll(tk.text.c_str(), nullptr, 10);
        if (errno == ERANGE) error("integer literal too large: {}", tk.text);
        e->value = Value::from_int(v);
        next();
        return e;
      }
      case TokenType::Float:
        e->value = Value::from_float(std::strtod(tk.text.c_str(), nullptr));
        next();
        return e;
      case TokenType::Operator:
        if (tk.text == "(") {
          next();
          if (skip_op(")")) {
            e->value = Value::from_array({}, true);
            return e;
          }
          auto inner = parse_expression(true);
          if (is_op(",")) {
            auto t = node(ExprKind::Tuple);
            t->args.push_back(std::move(inner));
            while (skip_op(",")) {
              if (is_op(")")) break;
              t->args.push_back(parse_expression(true));
            }
            inner = finish(std::move(t));
          }
          expect_op(")");
          return inner;
        }
        if (tk.text == "[") {
          NestGuard guard(*this);
          e->kind = ExprKind::List;
          next();
          while (!skip_op("]")) {
            if (!e->args.empty()) expect_op(",");
            if (skip_op("]")) break;
            e->args.push_back(parse_expression(true));
          }
          return finish(std::move(e));
        }
        if (tk.text == "{") {
          NestGuard guard(*this);
          e->kind = ExprKind::Dict;
          next();
          while (!skip_op("}")) {
            if (!e->args.empty()) expect_op(",");
            if (skip_op("}")) break;
            e->args.push_back(parse_expression(true));
            expect_op(":");
            e->args.push_back(parse_expression(true));
          }
          return finish(std::move(e));
        }
        break;
      default: break;
    }
    error("unexpected {}", describe());
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      if (is_op(".")) {
        next();
        if (cur().type == TokenType::Name) {
          auto g = node(ExprKind::GetAttr);
          g->name = cur().text;
          next();
          g->args.push_back(std::move(e));
          e = finish(std::move(g));
        } else if (cur().type == TokenType::Integer) {
          auto g = node(ExprKind::GetItem);
          auto idx = node(ExprKind::Literal);
          idx->value = Value::from_int(std::strtoll(cur().text.c_str(), nullptr, 10));
          next();
          g->args.push_back(std::move(e));
          g->args.push_back(std::move(idx));
          e = finish(std::move(g));
        } else {
          error("expected attribute name after '.', got {}", describe());
        }
      } else if (is_op("[")) {
        next();
        e = parse_subscript(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr target) {
    NestGuard guard(*this);
    ExprPtr parts[3];
    bool is_slice = false;
    int idx = 0;
    while (!is_op("]")) {
      if (skip_op(":")) {
        is_slice = true;
        if (++idx > 2) error("too many ':' in slice");
        continue;
      }
      if (parts[idx]) error("unexpected {} in subscript", describe());
      parts[idx] = parse_expression(true);
    }
    next();
    if (!is_slice) {
      if (!parts[0]) error("empty subscript");
      auto g = node(ExprKind::GetItem);
      g->args.push_back(std::move(target));
      g->args.push_back(std::move(parts[0]));
      return finish(std::move(g));
    }
    auto s = node(ExprKind::Slice);
    s->args.push_back(std::move(target));
    for (auto& p : parts) s->args.push_back(std::move(p));
    return finish(std::move(s));
  }

  // Parses "(args, name=value)" into e->args (after existing entries) and e->kwargs.
  void parse_call_args(Expr& e) {
    NestGuard guard(*this);
    expect_op("(");
    bool first = true;
    while (!skip_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (skip_op(")")) break;
      if (is_op("*") || is_op("**")) error("*args / **kwargs in calls are not supported");
      if (cur().type == TokenType::Name && peek().type == TokenType::Operator && peek().text == "=") {
        std::string k = cur().text;
        next();
        next();
        e.kwargs.emplace_back(k, parse_expression(true));
      } else {
        if (!e.kwargs.empty()) error("positional argument follows keyword argument");
        e.args.push_back(parse_expression(true));
      }
    }
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto c = node(ExprKind::Call);
    c->args.push_back(std::move(callee));
    parse_call_args(*c);
    return finish(std::move(c));
  }

  std::string dotted_name() {
    std::string n = expect_name();
    while (is_op(".") && peek().type == TokenType::Name) {
      next();
      n += "." + expect_name();
    }
    return n;
  }

  // "| f(args) | g" chain; input may be null (filter blocks, block set).
  ExprPtr parse_filter_chain(ExprPtr input, bool leading_pipe = true) {
    bool first = true;
    while (first ? (!leading_pipe || skip_op("|")) : skip_op("|")) {
      first = false;
      auto f = node(ExprKind::Filter);
      f->name = dotted_name();
      f->args.push_back(input ? std::move(input) : node(ExprKind::BlockInput));
      if (is_op("(")) parse_call_args(*f);
      input = finish(std::move(f));
    }
    return input;
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    while (true) {
      if (is_op("|")) {
        e = parse_filter_chain(std::move(e));
      } else if (is_name("is")) {
        next();
        auto t = node(ExprKind::Test);
        t->negated = skip_name("not");
        t->name = dotted_name();
        t->args.push_back(std::move(e));
        if (is_op("(")) {
          parse_call_args(*t);
        } else if ((cur().type == TokenType::Name || cur().type == TokenType::String ||
                    cur().type == TokenType::Integer || cur().type == TokenType::Float || is_op("(") || is_op("[") ||
                    is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) error("you cannot chain multiple tests with 'is'");
          t->args.push_back(parse_postfix(parse_primary()));
        }
        e = finish(std::move(t));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  std::vector<Token> t_;
  size_t p_ = 0;
  int nesting_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Template parse_template(const std::string& source) { return Parser(tokenize(source)).parse(); }

}  // namespace pocketllm::chat::jinja
