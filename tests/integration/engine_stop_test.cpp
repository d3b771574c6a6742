// Stop strings, EOS and the streamed text. Checked against the tokenizer's
// whole-sequence decode rather than against the engine's own pieces: a
// request stops at the first token whose text completes a stop string, the
// stop string is never shown, and otherwise the concatenated TokenDelta
// texts are exactly the decoded ids. EOS ends a request ("eos") unless
// ignore_eos, which runs on to max_tokens.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "integration/engine_harness.h"

namespace tokamak::test {
namespace {

class EngineStop : public ::testing::TestWithParam<BatchPolicy> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(aidreams_model());
    EngineOptions options;
    options.policy = GetParam();
    options.max_sequences = 8;
    options.max_step_tokens = 24;
    options.batch_size = 3;
    options.max_batch_delay_ms = 2.0;
    BackendShape shape;
    shape.num_threads = 1;
    engine_ = make_engine(options, shape);
    ASSERT_TRUE(engine_);
  }
  void TearDown() override {
    if (engine_) destroy_engine(engine_);
  }

  std::vector<std::shared_ptr<RequestRecord>> run(const std::vector<Request>& requests) {
    Recorder rec;
    std::vector<std::shared_ptr<RequestRecord>> out;
    for (const Request& r : requests) out.push_back(rec.submit(*engine_, r));
    rec.wait_all(*engine_, 60.0, "stop strings");
    for (const auto& r : out) expect_ended_once(*r);
    return out;
  }

  // The text of ids after the prompt, as a whole-sequence decode sees it.
  static std::string generated_text(const std::vector<int32_t>& prompt,
                                    const std::vector<int32_t>& ids) {
    const Tokenizer& tok = aidreams_model()->tokenizer();
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), ids.begin(), ids.end());
    const std::string whole = tok.decode(all);
    const std::string head = tok.decode(prompt);
    EXPECT_EQ(whole.compare(0, head.size(), head), 0) << "decode(prompt) is not a prefix";
    return whole.substr(std::min(head.size(), whole.size()));
  }

  std::unique_ptr<Engine> engine_;
};

// Greedy from BOS, stopped by strings found in the dream's text: whole
// words, single characters, pieces starting inside a token, two stops at once.
TEST_P(EngineStop, StopsAtTheFirstTokenCompletingAStopString) {
  const std::vector<int32_t> dream = aidreams_greedy_ids();
  ASSERT_EQ(dream.size(), kAidreamsNumGreedyIds);
  const std::string text = generated_text({kAidreamsBos}, dream);
  ASSERT_GT(text.size(), 200u);
  const std::vector<std::vector<std::string>> stop_sets = {{" gentle hum"},
                                                           {","},
                                                           {"."},
                                                           {text.substr(57, 5)},
                                                           {text.substr(101, 3)},
                                                           {"Contrast", "hum"},
                                                           {"zzz-never"},
                                                           {"n", "nodes"}};
  std::vector<Request> requests;
  for (const auto& stops : stop_sets) {
    Request r = greedy_request({kAidreamsBos}, 127);
    r.stop = stops;
    requests.push_back(r);
  }
  const auto got = run(requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    const RequestRecord& r = *got[i];
    SCOPED_TRACE("stops[0] \"" + stop_sets[i][0] + "\": " + r.describe());
    ASSERT_TRUE(r.finished);
    size_t first = std::string::npos;
    for (const std::string& s : stop_sets[i]) first = std::min(first, text.find(s));
    if (first == std::string::npos) {
      EXPECT_EQ(r.fin.reason, "length");
      EXPECT_EQ(r.ids, dream);
      EXPECT_EQ(r.text, text);
      continue;
    }
    EXPECT_EQ(r.fin.reason, "stop");
    EXPECT_EQ(r.text, text.substr(0, first)) << "text before the stop string, nothing of it";
    // The ids are the dream's up to the first token whose text completes a stop.
    ASSERT_FALSE(r.ids.empty());
    const std::vector<int32_t> want(dream.begin(), dream.begin() + r.ids.size());
    EXPECT_EQ(r.ids, want);
    auto contains_stop = [&](const std::string& t) {
      for (const std::string& s : stop_sets[i])
        if (t.find(s) != std::string::npos) return true;
      return false;
    };
    EXPECT_TRUE(contains_stop(generated_text({kAidreamsBos}, r.ids)));
    std::vector<int32_t> before(r.ids.begin(), r.ids.end() - 1);
    EXPECT_FALSE(contains_stop(generated_text({kAidreamsBos}, before)))
        << "the request ran past the token that completed the stop string";
  }
}

// Held-back text that never becomes a stop string comes out at the end
// ("length"), and a stop string inside the prompt's text does not count.
TEST_P(EngineStop, HeldBackTextIsReleasedAndPromptTextDoesNotStop) {
  const std::vector<int32_t> dream = aidreams_greedy_ids();
  const int32_t m = 40;
  const std::vector<int32_t> head(dream.begin(), dream.begin() + m);
  const std::string text = generated_text({kAidreamsBos}, head);
  Request held = greedy_request({kAidreamsBos}, m);
  held.stop = {text.substr(text.size() - 3) + "#never#"};
  std::vector<int32_t> natural = {kAidreamsBos};
  natural.insert(natural.end(), dream.begin(), dream.begin() + 30);
  Request in_prompt = greedy_request(natural, 20);
  const std::vector<int32_t> prompt_ids(dream.begin(), dream.begin() + 30);
  const std::string prompt_text = generated_text({kAidreamsBos}, prompt_ids);
  ASSERT_NE(prompt_text.find("gentle hum"), std::string::npos);
  in_prompt.stop = {"gentle hum"};
  ReferenceGenerator gen;
  const Reference ref = gen.run(in_prompt);
  const auto got = run({held, in_prompt});
  EXPECT_EQ(got[0]->fin.reason, "length");
  EXPECT_EQ(got[0]->ids, head);
  EXPECT_EQ(got[0]->text, text) << "held-back text must be released when the request ends";
  EXPECT_EQ(got[1]->fin.reason, ref.reason);
  EXPECT_EQ(got[1]->ids, ref.ids);
  const std::string gen_text = generated_text(natural, got[1]->ids);
  if (got[1]->fin.reason == "stop") {
    EXPECT_EQ(got[1]->text, gen_text.substr(0, gen_text.find("gentle hum")));
  } else {
    EXPECT_EQ(got[1]->text, gen_text);
  }
}

// Seeded sampling from BOS until one run ends with EOS (the Generator finds
// the seed); the engine ends it with "eos" at the same id, and with
// ignore_eos carries on past it to max_tokens.
TEST_P(EngineStop, EosEndsUnlessIgnored) {
  ReferenceGenerator gen;
  Request eos_req;
  Reference ref;
  for (uint64_t seed = 0; seed < 100 && ref.reason != "eos"; ++seed) {
    eos_req = Request{};
    eos_req.prompt = {kAidreamsBos};
    eos_req.max_tokens = 127;
    eos_req.sampling.temperature = 1.0f;
    eos_req.sampling.seed = seed;
    ref = gen.run(eos_req);
  }
  ASSERT_EQ(ref.reason, "eos") << "no seed below 100 reaches EOS";
  const int32_t eos = aidreams_model()->tokenizer().eos_id();
  ASSERT_EQ(ref.ids.back(), eos);
  Request ignore = eos_req;
  ignore.ignore_eos = true;
  const auto got = run({eos_req, ignore, eos_req});
  for (int i : {0, 2}) {
    SCOPED_TRACE(got[i]->describe());
    EXPECT_EQ(got[i]->fin.reason, "eos");
    EXPECT_EQ(got[i]->ids, ref.ids) << id_diff(got[i]->ids, ref.ids);
    EXPECT_EQ(got[i]->text, ref.text);
    EXPECT_EQ(got[i]->text, generated_text({kAidreamsBos}, got[i]->ids));
  }
  SCOPED_TRACE(got[1]->describe());
  EXPECT_EQ(got[1]->fin.reason, "length");
  ASSERT_EQ(got[1]->ids.size(), 127u);
  EXPECT_TRUE(std::equal(ref.ids.begin(), ref.ids.end(), got[1]->ids.begin()))
      << "ignore_eos must not change the ids before the EOS";
}

// Many seeded requests with random prompts: the streamed text is the decode
// of the generated ids (the prompt's text removed), for every finish reason.
TEST_P(EngineStop, StreamedTextIsTheDecodedIds) {
  std::mt19937_64 rng(31);
  std::vector<Request> requests;
  for (int i = 0; i < 24; ++i) {
    const int32_t n = 1 + static_cast<int32_t>(rng() % 50);
    Request r;
    r.prompt = random_prompt(rng, n);
    r.max_tokens = 1 + static_cast<int32_t>(rng() % 70);
    r.sampling.temperature = 1.1f;
    r.sampling.seed = rng();
    if (i % 4 == 0) r.stop = {" of", "ing"};
    requests.push_back(r);
  }
  const auto got = run(requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    const RequestRecord& r = *got[i];
    SCOPED_TRACE(r.describe());
    ASSERT_TRUE(r.finished);
    const std::string whole = generated_text(requests[i].prompt, r.ids);
    if (r.fin.reason == "stop") {
      size_t first = std::string::npos;
      for (const std::string& s : requests[i].stop) first = std::min(first, whole.find(s));
      ASSERT_NE(first, std::string::npos);
      EXPECT_EQ(r.text, whole.substr(0, first));
    } else {
      EXPECT_EQ(r.text, whole);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Policies, EngineStop,
                         ::testing::Values(BatchPolicy::None, BatchPolicy::Continuous,
                                           BatchPolicy::Paged, BatchPolicy::Static),
                         [](const auto& info) { return std::string(policy_name(info.param)); });

}  // namespace
}  // namespace tokamak::test
