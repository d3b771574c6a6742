// The device decision (preference x build x devices -> device and reason)
// and the backend it makes, as the CLI, bench serve and the app use them.
#include "device/device_choice.h"

#include <gtest/gtest.h>

#include "aidreams.h"
#include "model/model.h"

namespace tokamak {
namespace {

TEST(DeviceChoice, EveryPreferenceBuildAndMachine) {
  const DeviceDecision cpu = decide_device("cpu", true, 2);
  EXPECT_EQ(cpu.device, "cpu");
  EXPECT_TRUE(cpu.as_asked);
  EXPECT_EQ(cpu.cuda_problem, "");

  const DeviceDecision no_build = decide_device("cuda", false, 0);
  EXPECT_EQ(no_build.device, "cpu");
  EXPECT_FALSE(no_build.as_asked);
  EXPECT_NE(no_build.cuda_problem.find("this build has no CUDA backend"), std::string::npos);
  EXPECT_EQ(no_build.reason, "CPU: " + no_build.cuda_problem);
  EXPECT_TRUE(decide_device("auto", false, 0).as_asked);  // auto may fall back

  const DeviceDecision no_gpu = decide_device("cuda", true, 0);
  EXPECT_EQ(no_gpu.device, "cpu");
  EXPECT_FALSE(no_gpu.as_asked);
  EXPECT_NE(no_gpu.cuda_problem.find("no CUDA device was found"), std::string::npos);

  EXPECT_EQ(decide_device("auto", true, 1).device, "cuda");
  EXPECT_EQ(decide_device("auto", true, 1).reason, "CUDA device 0");
  EXPECT_EQ(decide_device("cuda", true, 3).reason, "CUDA device 0 (of 3)");
  EXPECT_EQ(decide_device("anything", true, 1).device, "cuda");  // taken as auto
}

TEST(DeviceChoice, TheBackendHasTheSizesAsked) {
  auto model = Model::load(test::kAidreamsGguf);
  ASSERT_TRUE(model.ok()) << model.error().message;
  BackendSizes sizes;
  sizes.num_kv_blocks = 24;
  sizes.max_step_tokens = 64;
  sizes.num_threads = 1;
  auto backend = make_backend(decide_device("cpu"), *model, sizes);
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  EXPECT_EQ((*backend)->name(), "cpu");
  EXPECT_EQ((*backend)->kv_config().num_blocks, 24);
  EXPECT_EQ((*backend)->max_step_tokens(), 64);

  auto defaults = make_backend(decide_device("cpu"), *model);
  ASSERT_TRUE(defaults.ok()) << defaults.error().message;
  EXPECT_EQ((*defaults)->max_step_tokens(), 512);

  auto unknown = make_backend(DeviceDecision{"tpu", "", true, ""}, *model);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("device 'tpu' is not in this build"), std::string::npos);
}

}  // namespace
}  // namespace tokamak
