// Test doubles for the Generator: a Backend whose "model" is a function of
// the whole token prefix (read back from its KV pool through the block table,
// so a wrong position, block or missing token changes the output), and a
// Tokenizer over a small hand-made vocabulary.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "tokenizer/tokenizer.h"

namespace tokamak::testing {

class FakeBackend : public Backend {
 public:
  // next(prefix) -> the id to which the logits row gives the highest logit.
  using NextFn = std::function<int32_t(const std::vector<int32_t>& prefix)>;

  FakeBackend(int32_t vocab_size, KvCacheConfig kv, int32_t max_step, NextFn next)
      : vocab_size_(vocab_size),
        kv_(kv),
        max_step_(max_step),
        next_(std::move(next)),
        pool_(static_cast<size_t>(kv.num_blocks) * kv.block_size, -1) {}

  std::string name() const override { return "fake"; }
  const KvCacheConfig& kv_config() const override { return kv_; }
  int32_t vocab_size() const override { return vocab_size_; }
  int32_t max_step_tokens() const override { return max_step_; }

  Status forward(const StepPlan& plan, std::span<float> logits) override {
    steps.push_back({std::vector<int32_t>(plan.tokens.begin(), plan.tokens.end()),
                     plan.positions.empty() ? -1 : plan.positions[0],
                     static_cast<int32_t>(plan.logits_rows.size())});
    if (fail_at_step >= 0 && static_cast<int>(steps.size()) - 1 == fail_at_step) {
      return make_error(ErrorCode::DeviceFault, "fake device fault");
    }
    EXPECT_LE(static_cast<int32_t>(plan.tokens.size()), max_step_);
    EXPECT_EQ(logits.size(), plan.logits_rows.size() * vocab_size_);
    const auto& table = plan.sequences[0].block_table;
    for (size_t i = 0; i < plan.tokens.size(); ++i) {
      const int32_t pos = plan.positions[i];
      EXPECT_LT(pos / kv_.block_size, static_cast<int32_t>(table.size()));
      const int32_t block = table[pos / kv_.block_size];
      EXPECT_GE(block, 0);
      EXPECT_LT(block, kv_.num_blocks);
      pool_[block * kv_.block_size + pos % kv_.block_size] = plan.tokens[i];
    }
    for (size_t r = 0; r < plan.logits_rows.size(); ++r) {
      const int32_t pos = plan.positions[plan.logits_rows[r]];
      std::vector<int32_t> prefix;
      for (int32_t p = 0; p <= pos; ++p) {
        const int32_t t = pool_[table[p / kv_.block_size] * kv_.block_size + p % kv_.block_size];
        EXPECT_GE(t, 0) << "position " << p << " was never written";
        prefix.push_back(t);
      }
      std::span<float> row = logits.subspan(r * vocab_size_, vocab_size_);
      std::fill(row.begin(), row.end(), 0.0f);
      row[next_(prefix)] = 10.0f;
    }
    return {};
  }

  struct Step {
    std::vector<int32_t> tokens;
    int32_t first_pos;
    int32_t num_logits;
  };
  std::vector<Step> steps;
  int fail_at_step = -1;

 private:
  int32_t vocab_size_;
  KvCacheConfig kv_;
  int32_t max_step_;
  NextFn next_;
  std::vector<int32_t> pool_;  // token written at each (block, slot)
};

// A byte-level-BPE-kind vocabulary whose token text is shown as stored.
class FakeTokenizer : public Tokenizer {
 public:
  static Vocab make_vocab(const std::vector<std::string>& pieces) {
    Vocab v;
    v.kind = VocabKind::Bpe;
    v.tokens = {"<unk>", "<s>", "</s>"};
    v.types = {TokenType::Unknown, TokenType::Control, TokenType::Control};
    for (const auto& p : pieces) {
      v.tokens.push_back(p);
      v.types.push_back(TokenType::Normal);
    }
    v.unk_id = 0;
    v.bos_id = 1;
    v.eos_id = 2;
    v.eog_ids = {2};
    return v;
  }
  explicit FakeTokenizer(const std::vector<std::string>& pieces) : Tokenizer(make_vocab(pieces)) {}

  std::vector<int32_t> encode(std::string_view text, const EncodeOptions&) const override {
    std::vector<int32_t> out;  // greedy longest match, enough for tests
    size_t i = 0;
    while (i < text.size()) {
      int32_t best = -1;
      size_t best_len = 0;
      for (int32_t id = 3; id < vocab_.size(); ++id) {
        const auto& t = vocab_.tokens[id];
        if (t.size() > best_len && text.substr(i, t.size()) == t) best = id, best_len = t.size();
      }
      if (best < 0) return {};
      out.push_back(best);
      i += best_len;
    }
    return out;
  }

 protected:
  std::string piece_bytes(const std::string& text, TokenType) const override { return text; }
};

}  // namespace tokamak::testing
