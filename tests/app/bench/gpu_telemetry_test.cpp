// GpuTelemetry through a table of fake NVML entry points (the units NVML
// documents: power in milliwatts, energy in millijoules, memory in bytes),
// and through the real libnvidia-ml.so.1 where there is one.
#include "bench/gpu_telemetry.h"

#include <gtest/gtest.h>

namespace tokamak {
namespace {

int g_init_rc = 0;
int g_shutdowns = 0;
unsigned int g_asked_index = 99;
int g_sm_clock_type = -1;
int dummy_device = 0;

int fake_init() { return g_init_rc; }
int fake_shutdown() { return ++g_shutdowns, 0; }
int fake_by_index(unsigned int i, NvmlApi::Device* d) {
  g_asked_index = i;
  if (i > 1) return 2;  // NVML_ERROR_INVALID_ARGUMENT
  *d = &dummy_device;
  return 0;
}
int fake_name(NvmlApi::Device, char* out, unsigned int n) {
  snprintf(out, n, "%s", "Fake H100");
  return 0;
}
int fake_util(NvmlApi::Device, NvmlApi::Utilization* u) {
  u->gpu = 87;
  u->memory = 40;
  return 0;
}
int fake_memory(NvmlApi::Device, NvmlApi::Memory* m) {
  m->total = 80ull << 30;
  m->used = 12345678901ull;
  m->free = m->total - m->used;
  return 0;
}
int fake_clock(NvmlApi::Device, int type, unsigned int* mhz) {
  g_sm_clock_type = type;
  *mhz = 1755;
  return 0;
}
int fake_power(NvmlApi::Device, unsigned int* mw) {
  *mw = 312456;
  return 0;
}
int refused_power(NvmlApi::Device, unsigned int*) { return 3; }  // NVML_ERROR_NOT_SUPPORTED
int fake_energy(NvmlApi::Device, unsigned long long* mj) {
  *mj = 9876543210ull;
  return 0;
}

NvmlApi fake_api() {
  NvmlApi a;
  a.init = fake_init;
  a.shutdown = fake_shutdown;
  a.device_by_index = fake_by_index;
  a.device_name = fake_name;
  a.utilization = fake_util;
  a.memory = fake_memory;
  a.clock = fake_clock;
  a.power_mw = fake_power;
  a.energy_mj = fake_energy;
  return a;
}

TEST(GpuTelemetry, ConvertsNvmlUnits) {
  g_init_rc = 0;
  auto t = GpuTelemetry::open_with(fake_api(), 1, nullptr);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(g_asked_index, 1u);
  EXPECT_EQ((*t)->name(), "Fake H100");
  const GpuSample s = (*t)->sample();
  EXPECT_EQ(g_sm_clock_type, 1);  // NVML_CLOCK_SM
  EXPECT_DOUBLE_EQ(s.utilization_percent, 87.0);
  EXPECT_EQ(s.memory_used_bytes, 12345678901);
  EXPECT_EQ(s.memory_total_bytes, int64_t{80} << 30);
  EXPECT_DOUBLE_EQ(s.sm_clock_mhz, 1755.0);
  EXPECT_DOUBLE_EQ(s.power_w, 312.456);
  EXPECT_DOUBLE_EQ(s.energy_j, 9876543.21);
}

TEST(GpuTelemetry, ARefusedOrMissingFigureIsAbsentNotZero) {
  NvmlApi a = fake_api();
  a.power_mw = refused_power;
  a.energy_mj = nullptr;  // an older driver without the entry point
  auto t = GpuTelemetry::open_with(a, 0, nullptr);
  ASSERT_TRUE(t.ok());
  const GpuSample s = (*t)->sample();
  EXPECT_LT(s.power_w, 0.0);
  EXPECT_LT(s.energy_j, 0.0);
  EXPECT_DOUBLE_EQ(s.sm_clock_mhz, 1755.0);
}

TEST(GpuTelemetry, FailuresAreUnsupportedWithTheReasonAndShutNvmlDown) {
  g_init_rc = 9;  // NVML_ERROR_DRIVER_NOT_LOADED
  auto t = GpuTelemetry::open_with(fake_api(), 0, nullptr);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, ErrorCode::Unsupported);
  EXPECT_NE(t.error().message.find("nvmlInit"), std::string::npos) << t.error().message;
  g_init_rc = 0;
  const int before = g_shutdowns;
  auto none = GpuTelemetry::open_with(fake_api(), 7, nullptr);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("no GPU 7"), std::string::npos) << none.error().message;
  EXPECT_EQ(g_shutdowns, before + 1);
  {
    auto ok = GpuTelemetry::open_with(fake_api(), 0, nullptr);
    ASSERT_TRUE(ok.ok());
  }
  EXPECT_EQ(g_shutdowns, before + 2);  // the destructor shuts NVML down
}

TEST(GpuTelemetry, TheRealLibraryGivesFiguresOrSaysWhyNot) {
  auto t = GpuTelemetry::open(0);
  if (!t.ok()) {
    EXPECT_EQ(t.error().code, ErrorCode::Unsupported);
    EXPECT_NE(t.error().message.find("no GPU telemetry"), std::string::npos);
    GTEST_SKIP() << t.error().message;
  }
  const GpuSample s = (*t)->sample();
  EXPECT_FALSE((*t)->name().empty());
  EXPECT_GT(s.memory_total_bytes, 0);
  EXPECT_GE(s.memory_used_bytes, 0);
  EXPECT_LE(s.memory_used_bytes, s.memory_total_bytes);
  EXPECT_GE(s.utilization_percent, 0.0);
  EXPECT_LE(s.utilization_percent, 100.0);
}

}  // namespace
}  // namespace tokamak
