#include <gtest/gtest.h>

#include "bench/cpu_bench.h"
#include "bench/memory_bandwidth.h"
#include "bench/spread.h"
#include "gguf/gguf_file.h"

namespace tokamak {
namespace {

const std::string kAidreams =
    std::string(TOKAMAK_SHARED_DATA) + "/models/aidreams260K/aidreams260K-llamacpp-f32.gguf";

TEST(Spread, MedianMinMax) {
  Spread odd = summarize({5.0, 1.0, 3.0});
  EXPECT_DOUBLE_EQ(odd.median, 3.0);
  EXPECT_DOUBLE_EQ(odd.min, 1.0);
  EXPECT_DOUBLE_EQ(odd.max, 5.0);
  EXPECT_EQ(odd.samples, (std::vector<double>{5.0, 1.0, 3.0}));  // measurement order kept
  Spread even = summarize({4.0, 1.0, 3.0, 10.0});
  EXPECT_DOUBLE_EQ(even.median, 3.5);
  EXPECT_TRUE(summarize({}).samples.empty());
}

TEST(MemoryBandwidth, MeasuresSomethingPlausible) {
  BandwidthOptions o;
  o.num_threads = 2;
  o.buffer_bytes = 16u << 20;
  o.repetitions = 3;
  auto r = measure_read_bandwidth(o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->num_threads, 2);
  EXPECT_EQ(r->gb_per_s.size(), 3u);
  EXPECT_LE(r->buffer_bytes, o.buffer_bytes);
  EXPECT_EQ(r->buffer_bytes % (2 * 128), 0u);
  // Any machine that runs this reads faster than 0.1 GB/s and slower than 10 TB/s.
  EXPECT_GT(r->best_gb_per_s, 0.1);
  EXPECT_LT(r->best_gb_per_s, 10000.0);
  EXPECT_GE(r->best_gb_per_s, r->median_gb_per_s);
}

TEST(MemoryBandwidth, RefusesBadOptions) {
  BandwidthOptions o;
  o.buffer_bytes = 1000;
  auto r = measure_read_bandwidth(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  o.buffer_bytes = 4u << 20;
  o.repetitions = 0;
  EXPECT_FALSE(measure_read_bandwidth(o).ok());
}

// Per token: every tensor once, except token_embd, of which one row is read
// (unless it is also the classifier). Counted here from the file's tensor
// table, independently of the model's weight views.
TEST(CpuBench, WeightBytesPerTokenFromTheTensorTable) {
  auto file = gguf::File::open(kAidreams);
  ASSERT_TRUE(file.ok());
  uint64_t total = 0, embd = 0, embd_row = 0;
  bool has_output = false;
  for (const auto& t : (*file)->tensors()) {
    total += t.size_bytes;
    if (t.name == "token_embd.weight") {
      embd = t.size_bytes;
      embd_row = t.size_bytes / t.num_rows();
    }
    has_output |= t.name == "output.weight";
  }
  const uint64_t expected = has_output ? total - embd + embd_row : total + embd_row;
  auto model = Model::load(kAidreams);
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(weight_bytes_per_token(**model), expected);
}

TEST(CpuBench, RunsOnTheRealModel) {
  CpuBenchOptions o;
  o.model_path = kAidreams;
  o.num_prompt_tokens = 16;
  o.num_decode_tokens = 8;
  o.repetitions = 2;
  o.num_threads = 2;
  o.bandwidth.buffer_bytes = 16u << 20;
  o.bandwidth.repetitions = 2;
  auto r = run_cpu_bench(o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->prefill_tokens_per_second.samples.size(), 2u);
  EXPECT_EQ(r->decode_tokens_per_second.samples.size(), 2u);
  EXPECT_GT(r->prefill_tokens_per_second.min, 0.0);
  EXPECT_GT(r->decode_tokens_per_second.min, 0.0);
  EXPECT_EQ(r->num_params, 263744);
  EXPECT_NEAR(r->decode_ceiling_tokens_per_second,
              r->bandwidth.best_gb_per_s * 1e9 / r->bytes_per_token, 1e-6);
  EXPECT_NEAR(r->percent_of_bound, 100.0 * r->achieved_gb_per_s / r->bandwidth.best_gb_per_s, 1e-9);
  const auto j = to_json(*r);
  EXPECT_EQ(j.at("num_prompt_tokens"), 16);
  EXPECT_TRUE(j.at("decode_tokens_per_second").contains("median"));
  EXPECT_TRUE(j.at("memory_bandwidth").contains("best_gb_per_s"));
}

TEST(CpuBench, RefusesMoreTokensThanTheContext) {
  CpuBenchOptions o;
  o.model_path = kAidreams;
  o.num_prompt_tokens = 512;  // context is 128
  auto r = run_cpu_bench(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("context length of 128"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace tokamak
