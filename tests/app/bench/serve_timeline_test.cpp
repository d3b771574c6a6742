// The timeline recorder and the energy figures, on hand-made samples whose
// answers are worked out in the comments.
#include "bench/serve_timeline.h"

#include <gtest/gtest.h>

namespace tokamak {
namespace {

TimelineSample at(double t, double power_w, double energy_j) {
  TimelineSample s;
  s.t_s = t;
  GpuSample g;
  g.power_w = power_w;
  g.energy_j = energy_j;
  s.gpu = g;
  return s;
}

TEST(Energy, TheCounterWinsOverThePowerReadings) {
  // counter: 1500 J at t=0 -> 1740 J at t=2: 240 J over 2 s = 120 W;
  // 240 J / 60 tokens = 4 J/token (the power readings would say otherwise).
  const std::vector<TimelineSample> s = {at(0, 50, 1500), at(1, 50, 1600), at(2, 50, 1740)};
  const EnergyFigures e = energy_from_samples(s, 60, "unused");
  ASSERT_TRUE(e.available);
  EXPECT_EQ(e.source, "nvml_energy_counter");
  EXPECT_DOUBLE_EQ(e.joules, 240.0);
  EXPECT_DOUBLE_EQ(e.duration_s, 2.0);
  EXPECT_DOUBLE_EQ(e.mean_power_w, 120.0);
  EXPECT_DOUBLE_EQ(e.joules_per_output_token, 4.0);
}

TEST(Energy, WithoutTheCounterPowerIsIntegratedByTrapezoids) {
  // (100+200)/2*1 + (200+300)/2*0.5 = 150 + 125 = 275 J over 1.5 s; 275/11 = 25 J/token.
  const std::vector<TimelineSample> s = {at(0, 100, -1), at(1, 200, -1), at(1.5, 300, -1)};
  const EnergyFigures e = energy_from_samples(s, 11, "unused");
  ASSERT_TRUE(e.available);
  EXPECT_EQ(e.source, "nvml_power_integral");
  EXPECT_DOUBLE_EQ(e.joules, 275.0);
  EXPECT_DOUBLE_EQ(e.joules_per_output_token, 25.0);
}

TEST(Energy, NoGpuMeansUnavailableWithTheReasonNeverANumber) {
  std::vector<TimelineSample> s(3);
  s[1].t_s = 0.25;
  s[2].t_s = 0.5;
  const EnergyFigures e = energy_from_samples(s, 100, "the cpu backend");
  EXPECT_FALSE(e.available);
  EXPECT_EQ(e.unavailable_reason, "the cpu backend");
  const nlohmann::json j = to_json(e);
  EXPECT_EQ(j["status"], "unavailable");
  EXPECT_EQ(j["joules_per_output_token"], "unavailable");
  EXPECT_EQ(j["reason"], "the cpu backend");
  // A GPU without counter or power, and a run without tokens.
  const EnergyFigures one = energy_from_samples({at(0, -1, -1), at(1, -1, -1)}, 5, "x");
  EXPECT_FALSE(one.available);
  EXPECT_NE(one.unavailable_reason.find("neither"), std::string::npos);
  const EnergyFigures no_tokens = energy_from_samples({at(0, 1, 1), at(1, 1, 2)}, 0, "x");
  EXPECT_FALSE(no_tokens.available);
}

TEST(TimelineRecorder, SamplesAtTheIntervalWithTokensPerSecondBetweenSamples) {
  TimelineRecorder rec(0.25, nullptr);
  EngineStats st;
  st.num_running = 3;
  st.num_waiting = 5;
  st.kv_blocks_used = 7;
  st.kv_blocks_total = 32;
  rec.start(st);
  LoadProgress p;
  p.num_requests = 10;
  p.elapsed_s = 0.1;
  p.num_output_tokens = 4;
  EXPECT_EQ(rec.tick(p, st), nullptr);  // too soon
  p.elapsed_s = 0.3;
  p.num_output_tokens = 30;
  const TimelineSample* s = rec.tick(p, st);
  ASSERT_NE(s, nullptr);
  EXPECT_DOUBLE_EQ(s->output_tokens_per_second, 100.0);  // 30 tokens / 0.3 s
  EXPECT_EQ(s->num_running, 3);
  EXPECT_EQ(s->num_waiting, 5);
  EXPECT_EQ(s->kv_blocks_used, 7);
  EXPECT_EQ(s->kv_blocks_total, 32);
  EXPECT_FALSE(s->gpu.has_value());
  p.elapsed_s = 0.4;
  p.num_output_tokens = 50;
  const TimelineSample* f = rec.tick(p, st, /*force=*/true);  // the final tick
  ASSERT_NE(f, nullptr);
  EXPECT_NEAR(f->output_tokens_per_second, 200.0, 1e-9);  // 20 tokens / 0.1 s
  EXPECT_EQ(rec.samples().size(), 3u);
}

TEST(TimelineSample, JsonRoundTripKeepsAbsentGpuFiguresAbsent) {
  TimelineSample s = at(1.5, 250.5, -1);
  s.output_tokens_per_second = 812.25;
  s.num_running = 12;
  s.kv_blocks_used = 40;
  s.kv_blocks_total = 64;
  s.gpu->memory_used_bytes = 1 << 30;
  const nlohmann::json j = to_json(s);
  EXPECT_TRUE(j["gpu"]["energy_j"].is_null());
  const TimelineSample back = timeline_sample_from_json(j);
  EXPECT_DOUBLE_EQ(back.t_s, 1.5);
  EXPECT_DOUBLE_EQ(back.output_tokens_per_second, 812.25);
  EXPECT_EQ(back.num_running, 12);
  EXPECT_EQ(back.kv_blocks_used, 40);
  ASSERT_TRUE(back.gpu.has_value());
  EXPECT_DOUBLE_EQ(back.gpu->power_w, 250.5);
  EXPECT_LT(back.gpu->energy_j, 0.0);
  EXPECT_EQ(back.gpu->memory_used_bytes, 1 << 30);
  EXPECT_FALSE(timeline_sample_from_json(to_json(TimelineSample{})).gpu.has_value());
}

}  // namespace
}  // namespace tokamak
