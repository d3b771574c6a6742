#include "sampling/sampler.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <unordered_map>

namespace tokamak {
namespace {

bool before(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

bool is_sorted_desc(const std::vector<Candidate>& c) {
  return std::is_sorted(c.begin(), c.end(), before);
}

}  // namespace

void apply_penalties(std::span<float> logits, std::span<const int32_t> recent,
                     const SamplingParams& params) {
  std::unordered_map<int32_t, int32_t> counts;
  for (int32_t id : recent) {
    if (id >= 0 && id < static_cast<int32_t>(logits.size())) ++counts[id];
  }
  for (const auto& [id, count] : counts) {
    float& l = logits[id];
    if (params.repeat_penalty != 1.0f) {
      l = l <= 0.0f ? l * params.repeat_penalty : l / params.repeat_penalty;
    }
    l -= static_cast<float>(count) * params.frequency_penalty +
         (count > 0 ? params.presence_penalty : 0.0f);
  }
}

int32_t argmax(std::span<const float> logits) {
  assert(!logits.empty());
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = static_cast<int32_t>(i);  // strict: ties keep lowest
  }
  return best;
}

std::vector<Candidate> make_candidates(std::span<const float> logits) {
  std::vector<Candidate> c(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) c[i] = {static_cast<int32_t>(i), logits[i], 0.0f};
  return c;
}

std::vector<Candidate> top_k_candidates(std::span<const float> logits, int32_t k) {
  assert(k > 0 && static_cast<size_t>(k) <= logits.size());
  // Min-heap (by `before`) of the best k seen so far: its front is the worst kept.
  std::vector<Candidate> heap;
  heap.reserve(k);
  for (int32_t i = 0; i < k; ++i) heap.push_back({i, logits[i], 0.0f});
  std::make_heap(heap.begin(), heap.end(), before);
  for (size_t i = k; i < logits.size(); ++i) {
    const Candidate x{static_cast<int32_t>(i), logits[i], 0.0f};
    if (before(x, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), before);
      heap.back() = x;
      std::push_heap(heap.begin(), heap.end(), before);
    }
  }
  std::sort_heap(heap.begin(), heap.end(), before);  // ascending by `before`: best first
  return heap;
}

void apply_temperature(std::vector<Candidate>& c, float temperature) {
  assert(temperature > 0.0f);
  for (auto& x : c) x.logit /= temperature;
}

void keep_top_k(std::vector<Candidate>& c, int32_t k) {
  if (k <= 0 || k >= static_cast<int32_t>(c.size())) {
    if (!is_sorted_desc(c)) std::sort(c.begin(), c.end(), before);
    return;
  }
  std::partial_sort(c.begin(), c.begin() + k, c.end(), before);
  c.resize(k);
}

void softmax_candidates(std::vector<Candidate>& c) {
  if (c.empty()) return;
  float max_logit = c[0].logit;
  for (const auto& x : c) max_logit = std::max(max_logit, x.logit);
  double sum = 0.0;
  std::vector<double> e(c.size());
  for (size_t i = 0; i < c.size(); ++i) {
    e[i] = std::exp(static_cast<double>(c[i].logit) - max_logit);
    sum += e[i];
  }
  for (size_t i = 0; i < c.size(); ++i) c[i].p = static_cast<float>(e[i] / sum);
}

void keep_top_p(std::vector<Candidate>& c, float p) {
  if (p >= 1.0f || c.size() <= 1) return;
  // softmax over the whole list, then the sorted prefix: sorting grows
  // (256, 1024, ...) only as far as the mass needs, since a long tail of
  // small probabilities rarely has to be ordered.
  float max_logit = c[0].logit;
  for (const auto& x : c) max_logit = std::max(max_logit, x.logit);
  double sum = 0.0;
  for (const auto& x : c) sum += std::exp(static_cast<double>(x.logit) - max_logit);
  size_t sorted = 0;
  double mass = 0.0;
  for (size_t k = 256;; k *= 4) {
    const size_t end = std::min(k, c.size());
    if (sorted == 0 && end == c.size()) {
      if (!is_sorted_desc(c)) std::sort(c.begin(), c.end(), before);
    } else {
      std::partial_sort(c.begin() + sorted, c.begin() + end, c.end(), before);
    }
    for (size_t i = sorted; i < end; ++i) {
      c[i].p = static_cast<float>(std::exp(static_cast<double>(c[i].logit) - max_logit) / sum);
      mass += c[i].p;
      if (mass >= p) {
        c.resize(i + 1);
        return;
      }
    }
    sorted = end;
    if (end == c.size()) return;  // rounding: the whole mass fell short of p
  }
}

void keep_min_p(std::vector<Candidate>& c, float min_p) {
  if (min_p <= 0.0f || c.size() <= 1) return;
  float max_logit = c[0].logit;
  for (const auto& x : c) max_logit = std::max(max_logit, x.logit);
  const float threshold = max_logit + std::log(min_p);
  std::erase_if(c, [&](const Candidate& x) { return x.logit < threshold; });
}

int32_t draw_candidate(const std::vector<Candidate>& c, double u) {
  assert(!c.empty());
  double total = 0.0;
  for (const auto& x : c) total += x.p;
  const double target = u * total;
  double cum = 0.0;
  for (const auto& x : c) {
    cum += x.p;
    if (target < cum) return x.id;
  }
  return c.back().id;  // rounding: u * total landed on the total
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

std::vector<float> Sampler::penalised(std::span<const float> logits) const {
  std::vector<float> out(logits.begin(), logits.end());
  if (params_.has_penalties() && !recent_.empty()) {
    const std::vector<int32_t> window(recent_.begin(), recent_.end());
    apply_penalties(out, window, params_);
  }
  return out;
}

std::vector<Candidate> Sampler::distribution(std::span<const float> logits) const {
  const std::vector<float> l = penalised(logits);
  if (params_.greedy()) {
    const int32_t best = argmax(l);
    return {Candidate{best, l[best], 1.0f}};
  }
  // Top-k on the raw logits: dividing by a positive temperature keeps the order.
  const bool use_top_k = params_.top_k > 0 && params_.top_k < static_cast<int32_t>(l.size());
  std::vector<Candidate> c = use_top_k ? top_k_candidates(l, params_.top_k) : make_candidates(l);
  apply_temperature(c, params_.temperature);
  keep_top_p(c, params_.top_p);
  keep_min_p(c, params_.min_p);
  softmax_candidates(c);
  return c;
}

int32_t Sampler::sample(std::span<const float> logits) {
  if (params_.greedy()) {
    return params_.has_penalties() ? argmax(penalised(logits)) : argmax(logits);
  }
  const std::vector<Candidate> c = distribution(logits);
  return draw_candidate(c, rng_.next_double());
}

RowSampling Sampler::next_row() {
  RowSampling row;
  row.temperature = params_.temperature;
  if (params_.greedy()) return row;
  row.top_k = params_.top_k;
  row.top_p = params_.top_p;
  row.min_p = params_.min_p;
  row.u = rng_.next_double();
  return row;
}

int32_t sample_row(std::span<const float> logits, const RowSampling& row) {
  if (row.temperature <= 0.0f) return argmax(logits);
  const bool use_top_k = row.top_k > 0 && row.top_k < static_cast<int32_t>(logits.size());
  std::vector<Candidate> c = use_top_k ? top_k_candidates(logits, row.top_k) : make_candidates(logits);
  apply_temperature(c, row.temperature);
  keep_top_p(c, row.top_p);
  keep_min_p(c, row.min_p);
  softmax_candidates(c);
  return draw_candidate(c, row.u);
}

void Sampler::accept(int32_t id) {
  if (params_.repeat_last_n == 0) return;
  recent_.push_back(id);
  if (params_.repeat_last_n > 0 && recent_.size() > static_cast<size_t>(params_.repeat_last_n)) {
    recent_.pop_front();
  }
}

void Sampler::reset() {
  recent_.clear();
  rng_ = Pcg64(params_.seed);
}

}  // namespace tokamak
