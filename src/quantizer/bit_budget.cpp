#include "quantizer/bit_budget.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>

#include <fmt/format.h>

#include "core/error.h"
#include "core/mapped_file.h"
#include "model/context.h"
#include "quant/plan.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm {
namespace {

// The lower convex hull of an item's options from its cheapest one: each next point
// is the one that saves the most cost per extra bit (ties: fewer bits).
std::vector<size_t> lower_hull(const std::vector<BudgetOption>& opts) {
  size_t cur = 0;
  for (size_t i = 1; i < opts.size(); ++i)
    if (opts[i].bits < opts[cur].bits || (opts[i].bits == opts[cur].bits && opts[i].cost < opts[cur].cost)) cur = i;
  std::vector<size_t> hull = {cur};
  for (;;) {
    size_t next = opts.size();
    double best = 0;
    for (size_t i = 0; i < opts.size(); ++i) {
      if (opts[i].bits <= opts[cur].bits || opts[i].cost >= opts[cur].cost) continue;
      const double slope = (opts[cur].cost - opts[i].cost) / static_cast<double>(opts[i].bits - opts[cur].bits);
      if (next == opts.size() || slope > best || (slope == best && opts[i].bits < opts[next].bits)) next = i, best = slope;
    }
    if (next == opts.size()) return hull;
    hull.push_back(cur = next);
  }
}

// Mean KL(base || model) over the probe tokens, the base's log-probabilities kept.
class KlProbe {
 public:
  KlProbe(const Model& m, std::vector<std::vector<int32_t>> chunks, int threads)
      : m_(m), chunks_(std::move(chunks)), threads_(threads) {
    for (auto& c : chunks_) n_ += static_cast<int64_t>(c.size());
    base_.resize(static_cast<size_t>(n_ * m.cfg.n_vocab));
    run([&](int64_t t, const float* lp) { std::copy(lp, lp + m_.cfg.n_vocab, base_.data() + t * m_.cfg.n_vocab); });
  }
  int64_t tokens() const { return n_; }
  double kl() {
    double sum = 0;
    run([&](int64_t t, const float* lp) {
      const float* b = base_.data() + t * m_.cfg.n_vocab;
      double k = 0;
      for (int64_t v = 0; v < m_.cfg.n_vocab; ++v) k += std::exp(static_cast<double>(b[v])) * (b[v] - lp[v]);
      sum += std::max(k, 0.0);
    });
    return sum / static_cast<double>(n_);
  }

 private:
  template <class F>
  void run(F&& f) {
    ContextParams cp;
    int64_t longest = 0;
    for (auto& c : chunks_) longest = std::max<int64_t>(longest, static_cast<int64_t>(c.size()));
    cp.n_ctx = longest;
    cp.n_threads = threads_;
    Context ctx(m_, cp);
    const int64_t nv = m_.cfg.n_vocab;
    std::vector<float> lp(static_cast<size_t>(nv));
    int64_t t = 0;
    for (auto& c : chunks_) {
      ctx.truncate(0);
      const float* logits = ctx.eval(c.data(), static_cast<int64_t>(c.size()), true);
      for (size_t i = 0; i < c.size(); ++i, ++t) {
        const float* l = logits + static_cast<int64_t>(i) * nv;
        const float mx = *std::max_element(l, l + nv);
        double s = 0;
        for (int64_t v = 0; v < nv; ++v) s += std::exp(static_cast<double>(l[v] - mx));
        const float lse = mx + static_cast<float>(std::log(s));
        for (int64_t v = 0; v < nv; ++v) lp[v] = l[v] - lse;
        f(t, lp.data());
      }
    }
  }
  const Model& m_;
  std::vector<std::vector<int32_t>> chunks_;
  int threads_;
  int64_t n_ = 0;
  std::vector<float> base_;  // [n_][n_vocab] log-probabilities of the float model
};

std::vector<std::vector<int32_t>> probe_chunks(const Model& m, const QuantizeOptions& o) {
  const Tokenizer& tok = *m.tokenizer;
  const bool add_bos = tok.add_bos() && tok.bos() >= 0;
  const auto text = MappedFile::open(o.methods.calib_file, false);
  std::vector<int32_t> tokens =
      tok.encode(std::string_view(reinterpret_cast<const char*>(text->data()), text->size()), false, false);
  const int64_t total = std::min<int64_t>(o.bpw_tokens, static_cast<int64_t>(tokens.size()));
  if (total < 1) fail("{}: no calibration tokens for --bpw", o.methods.calib_file);
  const int64_t body = o.methods.calib_ctx - (add_bos ? 1 : 0);
  std::vector<std::vector<int32_t>> chunks;
  for (int64_t done = 0; done < total;) {
    const int64_t n = std::min(body, total - done);
    std::vector<int32_t> c;
    if (add_bos) c.push_back(tok.bos());
    c.insert(c.end(), tokens.begin() + done, tokens.begin() + done + n);
    chunks.push_back(std::move(c));
    done += n;
  }
  return chunks;
}

double bpw_of(uint64_t bits, uint64_t weights) { return weights ? static_cast<double>(bits) / static_cast<double>(weights) : 0; }

}  // namespace

std::vector<size_t> solve_bit_budget(const std::vector<std::vector<BudgetOption>>& items, uint64_t budget_bits) {
  std::vector<std::vector<size_t>> hulls;
  std::vector<size_t> pos(items.size(), 0), choice(items.size());
  uint64_t total = 0;
  for (const auto& opts : items) {
    if (opts.empty()) fail("bit budget: an item has no options");
    hulls.push_back(lower_hull(opts));
    total += opts[hulls.back()[0]].bits;
  }
  if (total > budget_bits)
    fail("the cheapest types already take {} bits, over the budget of {} bits", total, budget_bits);
  for (;;) {  // the best hull step that fits
    size_t best = items.size();
    double best_slope = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      if (pos[i] + 1 >= hulls[i].size()) continue;
      const BudgetOption &a = items[i][hulls[i][pos[i]]], &b = items[i][hulls[i][pos[i] + 1]];
      if (total - a.bits + b.bits > budget_bits) continue;
      const double slope = (a.cost - b.cost) / static_cast<double>(b.bits - a.bits);
      if (best == items.size() || slope > best_slope) best = i, best_slope = slope;
    }
    if (best == items.size()) break;
    total += items[best][hulls[best][pos[best] + 1]].bits - items[best][hulls[best][pos[best]]].bits;
    ++pos[best];
  }
  for (size_t i = 0; i < items.size(); ++i) choice[i] = hulls[i][pos[i]];
  for (;;) {  // what the budget still allows off the hulls
    size_t bi = items.size(), bo = 0;
    double saving = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      const BudgetOption& cur = items[i][choice[i]];
      for (size_t k = 0; k < items[i].size(); ++k) {
        const BudgetOption& o = items[i][k];
        if (o.cost >= cur.cost || total - cur.bits + o.bits > budget_bits) continue;
        if (cur.cost - o.cost > saving) saving = cur.cost - o.cost, bi = i, bo = k;
      }
    }
    if (bi == items.size()) break;
    total = total - items[bi][choice[bi]].bits + items[bi][bo].bits;
    choice[bi] = bo;
  }
  return choice;
}

BudgetChoice choose_types_for_budget(const Model& float_model, FloatTensors& tensors, const calib::CalibStats& stats,
                                     const QuantizeOptions& o, ThreadPool& pool) {
  struct Item {
    std::string name;
    int64_t rows, cols;
    std::vector<TypeCandidate> cands;
    std::vector<double> error, kl;  // kl < 0: not run (beaten on bits and output error)
  };
  std::vector<Item> items;
  for (auto& [name, t] : tensors) {
    if (t.ne.size() < 2 || calib::stats_key(name).empty()) continue;
    const TensorPlan p = plan_tensor(o.plan, name, t.rows(), t.cols());
    if (!p.quantize) continue;
    items.push_back({name, t.rows(), t.cols(), type_candidates(t.cols()), {}, {}});
  }
  if (items.empty()) fail("--bpw: the model has no block linears to quantize");
  // An impossible budget fails before the sensitivity runs.
  BudgetChoice out;
  uint64_t cheapest = 0;
  for (auto& it : items) {
    out.weights += static_cast<uint64_t>(it.rows * it.cols);
    cheapest += it.cands.front().bits(it.rows, it.cols);
  }
  const uint64_t budget = static_cast<uint64_t>(std::floor(o.bpw * static_cast<double>(out.weights)));
  if (cheapest > budget)
    fail("--bpw {}: the cheapest types take {:.4f} bits per weight on these block linears; give at least that", o.bpw,
         bpw_of(cheapest, out.weights));
  KlProbe probe(float_model, probe_chunks(float_model, o), o.methods.threads);
  // --learn runs on the chosen type only: learning every candidate would multiply its cost
  // by the candidates (up to 10); the sensitivities are those of the other methods' codes.
  calib::CalibMethod probe_method = o.methods.weights;
  probe_method.learn = false;
  probe_method.learn_progress = nullptr;
  probe_method.row_weighting = nullptr;  // --mlp-aware, like --learn, runs on the chosen type only
  std::fprintf(stderr, "bpw: sensitivity of %zu block linears: KL of the float model with only that tensor quantized, "
                       "over %lld calibration tokens\n", items.size(), static_cast<long long>(probe.tokens()));
  for (size_t n = 0; n < items.size(); ++n) {
    Item& it = items[n];
    FloatTensor& ft = tensors.at(it.name);
    const std::vector<float> orig = ft.data;
    const auto st = stats.find(calib::stats_key(it.name));
    if (st == stats.end() || !st->second.second_moments) fail("{}: no calibration statistics for --bpw", it.name);
    const std::vector<float> h = st->second.hessian();
    std::vector<std::vector<float>> values;
    for (const TypeCandidate& c : it.cands) {
      const QuantizedResult q = quantize_to_candidate(c, it.name, it.rows, it.cols, orig.data(), stats,
                                                      probe_method, pool, false);
      values.push_back(dequantize(q.tensor.type, q.tensor.bytes.data(), q.tensor.bytes.size(), it.rows, it.cols));
      // On at most 256 rows spread through the matrix (cols² each): it only ranks candidates.
      it.error.push_back(calib::relative_output_error(orig.data(), values.back().data(), it.rows, it.cols, h, 256, &pool));
    }
    std::string line;
    for (size_t k = 0; k < it.cands.size(); ++k) {
      bool beaten = false;
      for (size_t j = 0; j < it.cands.size(); ++j)
        beaten = beaten || (j != k && it.cands[j].bits(it.rows, it.cols) <= it.cands[k].bits(it.rows, it.cols) &&
                            it.error[j] < it.error[k]);
      double kl = -1;
      if (!beaten) {
        std::copy(values[k].begin(), values[k].end(), ft.data.begin());  // in place: the model views this buffer
        kl = probe.kl();
        line += fmt::format(" {} {:.2e}", it.cands[k].name, kl);
      }
      it.kl.push_back(kl);
    }
    std::copy(orig.begin(), orig.end(), ft.data.begin());
    std::fprintf(stderr, "bpw: [%zu/%zu] %-26s KL:%s\n", n + 1, items.size(), it.name.c_str(), line.c_str());
  }
  // Solve.
  std::vector<std::vector<BudgetOption>> opts(items.size());
  std::vector<std::vector<size_t>> which(items.size());  // option -> candidate
  for (size_t n = 0; n < items.size(); ++n) {
    for (size_t k = 0; k < items[n].cands.size(); ++k)
      if (items[n].kl[k] >= 0) {
        opts[n].push_back({items[n].cands[k].bits(items[n].rows, items[n].cols), items[n].kl[k]});
        which[n].push_back(k);
      }
  }
  const std::vector<size_t> pick = solve_bit_budget(opts, budget);
  nlohmann::json tensors_report = nlohmann::json::array();
  double kl_sum = 0;
  for (size_t n = 0; n < items.size(); ++n) {
    const Item& it = items[n];
    const size_t k = which[n][pick[n]];
    const TypeCandidate& c = it.cands[k];
    out.types[it.name] = c;
    const uint64_t bits = c.bits(it.rows, it.cols);
    out.bits += bits;
    kl_sum += it.kl[k];
    nlohmann::json options = nlohmann::json::array();
    for (size_t j = 0; j < it.cands.size(); ++j)
      options.push_back({{"type", it.cands[j].name},
                         {"bpw", bpw_of(it.cands[j].bits(it.rows, it.cols), static_cast<uint64_t>(it.rows * it.cols))},
                         {"output_error", it.error[j]},
                         {"kl", it.kl[j] >= 0 ? nlohmann::json(it.kl[j]) : nlohmann::json(nullptr)}});
    tensors_report.push_back({{"tensor", it.name},
                              {"type", c.name},
                              {"stored_type", dtype_name(c.type)},
                              {"bpw", bpw_of(bits, static_cast<uint64_t>(it.rows * it.cols))},
                              {"sensitivity_kl", it.kl[k]},
                              {"output_error", it.error[k]},
                              {"options", options}});
    std::fprintf(stderr, "bpw: %-26s -> %-15s %.3f bpw  KL alone %.3e  output error %.3e\n", it.name.c_str(),
                 c.name.c_str(), bpw_of(bits, static_cast<uint64_t>(it.rows * it.cols)), it.kl[k], it.error[k]);
  }
  std::fprintf(stderr, "bpw: block linears %.4f bits per weight (budget %.4f; %llu weights), sum of single-tensor KL %.3e\n",
               bpw_of(out.bits, out.weights), o.bpw, static_cast<unsigned long long>(out.weights), kl_sum);
  out.report = {{"budget_bpw", o.bpw},
                {"achieved_bpw", bpw_of(out.bits, out.weights)},
                {"weights", out.weights},
                {"bits", out.bits},
                {"probe_tokens", probe.tokens()},
                {"sensitivity", "KL of the float model with only this tensor quantized (calibration text)"},
                {"tensors", tensors_report}};
  return out;
}

}  // namespace pocketllm
