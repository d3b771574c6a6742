#include "runtime/scheduler.h"

#include <algorithm>
#include <cassert>

namespace tokamak {

Scheduler::Scheduler(SchedulerOptions options, BlockPool& pool,
                     std::unique_ptr<BatchingPolicy> policy)
    : options_(options), pool_(pool), policy_(std::move(policy)) {
  options_.max_sequences = std::max(options_.max_sequences, 1);
  options_.max_step_tokens = std::max(options_.max_step_tokens, 1);
  running_.reserve(options_.max_sequences);
  step_.sequences.reserve(options_.max_sequences);
  step_.sampled.reserve(options_.max_sequences);
  ordered_.reserve(options_.max_sequences);
  step_sequences_.reserve(options_.max_sequences);
  logits_rows_.reserve(options_.max_sequences);
  tokens_.reserve(options_.max_step_tokens);
  positions_.reserve(options_.max_step_tokens);
  token_seq_.reserve(options_.max_step_tokens);
}

Scheduler::~Scheduler() {
  for (auto& [id, seq] : owned_) release_blocks(*seq);
}

int32_t Scheduler::blocks_for(int32_t num_positions) const {
  return (num_positions + pool_.block_size() - 1) / pool_.block_size();
}

int32_t Scheduler::reservation(const Sequence& s) const {
  const int64_t wanted = static_cast<int64_t>(s.num_prompt_tokens) + s.max_tokens;
  return static_cast<int32_t>(
      std::min<int64_t>(std::max<int64_t>(wanted, s.num_tokens()), options_.capacity));
}

void Scheduler::add(std::unique_ptr<Sequence> seq) {
  Sequence* s = seq.get();
  owned_[s->id] = std::move(seq);
  waiting_.push_back(s);
}

std::unique_ptr<Sequence> Scheduler::remove(RequestId id) {
  auto it = owned_.find(id);
  if (it == owned_.end()) return nullptr;
  return remove(it->second.get());
}

std::unique_ptr<Sequence> Scheduler::remove(Sequence* seq) {
  auto it = owned_.find(seq->id);
  if (it == owned_.end() || it->second.get() != seq) return nullptr;
  std::unique_ptr<Sequence> out = std::move(it->second);
  owned_.erase(it);
  if (auto r = std::find(running_.begin(), running_.end(), seq); r != running_.end()) {
    running_.erase(r);
  } else if (auto w = std::find(waiting_.begin(), waiting_.end(), seq); w != waiting_.end()) {
    waiting_.erase(w);
  }
  release_blocks(*out);
  return out;
}

std::unique_ptr<Sequence> Scheduler::remove_first_waiting() {
  if (waiting_.empty()) return nullptr;
  return remove(waiting_.front());
}

void Scheduler::release_blocks(Sequence& s) {
  pool_.free(s.block_table);
  s.block_table.clear();
  s.num_published_blocks = 0;
  s.num_computed_tokens = 0;
  s.num_scheduled = 0;
}

BlockHash Scheduler::block_hash(Sequence& s, int32_t block) {
  const int32_t bs = pool_.block_size();
  while (static_cast<int32_t>(s.block_hashes.size()) <= block) {
    const size_t i = s.block_hashes.size();
    const BlockHash parent = i == 0 ? BlockPool::kNoParent : s.block_hashes[i - 1];
    const std::span<const int32_t> toks(s.tokens.data() + i * bs, bs);
    s.block_hashes.push_back(BlockPool::hash_block(parent, toks));
  }
  return s.block_hashes[block];
}

void Scheduler::take_cached_prefix(Sequence& s) {
  if (!policy_->prefix_caching() || !pool_.caching() || !s.block_table.empty()) return;
  const int32_t bs = pool_.block_size();
  // The last token is always fed (its logits give the next id), so its block
  // is never taken from the cache.
  const int32_t max_blocks = (s.num_tokens() - 1) / bs;
  for (int32_t b = 0; b < max_blocks; ++b) {
    const BlockHash parent = b == 0 ? BlockPool::kNoParent : block_hash(s, b - 1);
    const std::span<const int32_t> toks(s.tokens.data() + static_cast<size_t>(b) * bs, bs);
    const std::optional<int32_t> hit = pool_.take_cached(block_hash(s, b), parent, toks);
    if (!hit) break;
    s.block_table.push_back(*hit);
  }
  const int32_t num_hit = static_cast<int32_t>(s.block_table.size());
  s.num_published_blocks = num_hit;
  s.num_computed_tokens = num_hit * bs;
}

void Scheduler::preempt_newest() {
  Sequence* victim = running_.back();
  running_.pop_back();
  release_blocks(*victim);
  ++victim->num_preemptions;
  ++counters_.num_preemptions;
  waiting_.push_front(victim);
  preempted_this_step_ = true;
}

bool Scheduler::grow(Sequence& s, int32_t num_positions) {
  const int32_t need = blocks_for(num_positions) - static_cast<int32_t>(s.block_table.size());
  if (need <= 0) return true;
  while (!pool_.allocate(need, s.block_table)) {
    const bool self = running_.back() == &s;
    preempt_newest();
    if (self) return false;
  }
  return true;
}

AdmissionView Scheduler::admission_view(Clock::time_point now) const {
  AdmissionView v;
  v.num_running = num_running();
  v.num_waiting = num_waiting();
  if (!waiting_.empty())
    v.oldest_wait_ms =
        std::chrono::duration<double, std::milli>(now - waiting_.front()->submitted).count();
  return v;
}

bool Scheduler::has_work(Clock::time_point now) const {
  if (!running_.empty()) return true;
  return !waiting_.empty() && policy_->num_to_admit(admission_view(now)) > 0;
}

std::optional<Clock::time_point> Scheduler::next_admission(Clock::time_point now) const {
  if (waiting_.empty()) return std::nullopt;
  const double ms = policy_->admit_in_ms(admission_view(now));
  if (ms < 0) return std::nullopt;
  return now +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(ms));
}

void Scheduler::admit(Clock::time_point now, int32_t& budget) {
  int32_t allowed = policy_->num_to_admit(admission_view(now));
  while (allowed > 0 && !waiting_.empty() && num_running() < options_.max_sequences) {
    if (budget <= 0 && !policy_->runs_to_completion()) break;
    Sequence& s = *waiting_.front();
    const bool first_admission = !s.started;
    take_cached_prefix(s);
    const int32_t n = std::min(s.num_pending(), budget);
    const int32_t positions =
        policy_->reserves_full_length() ? reservation(s) : s.num_computed_tokens + n;
    const int32_t need = blocks_for(positions) - static_cast<int32_t>(s.block_table.size());
    if (!pool_.allocate(need, s.block_table)) {
      release_blocks(s);  // the cache hits go back; admitted when blocks free up
      break;
    }
    waiting_.pop_front();
    running_.push_back(&s);
    --allowed;
    if (first_admission) {
      s.started = true;
      s.first_scheduled = now;
      s.num_cached_tokens = std::min(s.num_computed_tokens, s.num_prompt_tokens);
      counters_.num_prefix_hit_tokens += s.num_cached_tokens;
    }
    if (n > 0) {
      s.num_scheduled = n;
      budget -= n;
      step_.sequences.push_back(&s);
    }
  }
}

const ScheduledStep& Scheduler::schedule(Clock::time_point now) {
  step_.sequences.clear();
  step_.sampled.clear();
  preempted_this_step_ = false;
  int32_t num_decodes = 0;
  for (Sequence* s : running_) {
    s->num_scheduled = 0;
    num_decodes += s->num_pending() == 1;
  }
  // Decodes take their token before prompt chunks get the rest.
  int32_t decode_budget = std::min(num_decodes, options_.max_step_tokens);
  int32_t chunk_budget = options_.max_step_tokens - decode_budget;
  for (size_t i = 0; i < running_.size(); ++i) {
    Sequence& s = *running_[i];
    const bool decode = s.num_pending() == 1;
    const int32_t n = decode ? std::min(decode_budget, 1) : std::min(s.num_pending(), chunk_budget);
    if (n <= 0) continue;
    if (!grow(s, s.num_computed_tokens + n)) break;  // s was the newest: preempted itself
    (decode ? decode_budget : chunk_budget) -= n;
    s.num_scheduled = n;
    step_.sequences.push_back(&s);
  }
  int32_t budget = decode_budget + chunk_budget;
  if (!preempted_this_step_) admit(now, budget);
  build_plan();
  return step_;
}

void Scheduler::build_plan() {
  // Sequences fed one token (decodes) first, then prompt chunks, each group
  // in scheduling order: a backend can then run the step's decode rows as
  // one batch (e.g. flash-decoding attention) and the chunks apart.
  ordered_.clear();
  for (Sequence* s : step_.sequences)
    if (s->num_scheduled == 1) ordered_.push_back(s);
  for (Sequence* s : step_.sequences)
    if (s->num_scheduled != 1) ordered_.push_back(s);
  step_.sequences.swap(ordered_);
  tokens_.clear();
  positions_.clear();
  token_seq_.clear();
  step_sequences_.clear();
  logits_rows_.clear();
  for (size_t i = 0; i < step_.sequences.size(); ++i) {
    Sequence& s = *step_.sequences[i];
    const int32_t first = s.num_computed_tokens;
    for (int32_t p = first; p < first + s.num_scheduled; ++p) {
      tokens_.push_back(s.tokens[p]);
      positions_.push_back(p);
      token_seq_.push_back(static_cast<int32_t>(i));
    }
    step_sequences_.push_back(StepSequence{s.block_table});
    if (first + s.num_scheduled == s.num_tokens()) {
      logits_rows_.push_back(static_cast<int32_t>(tokens_.size()) - 1);
      step_.sampled.push_back(&s);
    }
  }
  step_.num_tokens = static_cast<int32_t>(tokens_.size());
  step_.plan.tokens = tokens_;
  step_.plan.positions = positions_;
  step_.plan.token_seq = token_seq_;
  step_.plan.sequences = step_sequences_;
  step_.plan.logits_rows = logits_rows_;
}

void Scheduler::commit_step() {
  const int32_t bs = pool_.block_size();
  const bool publish = policy_->prefix_caching() && pool_.caching();
  for (Sequence* s : step_.sequences) {
    s->num_computed_tokens += s->num_scheduled;
    s->num_scheduled = 0;
    if (!publish) continue;
    const int32_t num_full = s->num_computed_tokens / bs;
    for (int32_t b = s->num_published_blocks; b < num_full; ++b) {
      const BlockHash parent = b == 0 ? BlockPool::kNoParent : block_hash(*s, b - 1);
      const std::span<const int32_t> toks(s->tokens.data() + static_cast<size_t>(b) * bs, bs);
      pool_.publish(s->block_table[b], block_hash(*s, b), parent, toks);
    }
    s->num_published_blocks = std::max(s->num_published_blocks, num_full);
  }
}

int64_t Scheduler::num_held_slots() const {
  int64_t n = 0;
  for (const Sequence* s : running_) n += static_cast<int64_t>(s->block_table.size());
  return n * pool_.block_size();
}

int64_t Scheduler::num_cached_positions() const {
  int64_t n = 0;
  for (const Sequence* s : running_) n += s->num_computed_tokens;
  return n;
}

}  // namespace tokamak
