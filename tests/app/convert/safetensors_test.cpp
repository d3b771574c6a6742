// The safetensors reader on hand-made files (the integration test reads
// files written by the safetensors library itself).
#include "convert/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/half.h"
#include "scratch_dir.h"

namespace tokamak {
namespace {

namespace fs = std::filesystem;
const std::string kTmp = ::tokamak::test::scratch_dir("safetensors_unit");

std::string write_file(const std::string& name, const std::string& header,
                       const std::vector<uint8_t>& data) {
  fs::create_directories(kTmp);
  const std::string path = kTmp + "/" + name;
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  return path;
}

template <class T>
void append(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

TEST(Safetensors, ReadsF32F16AndBf16) {
  std::vector<uint8_t> data;
  const float f32[6] = {1.5f, -2.0f, 0.25f, 3.0f, -0.125f, 7.0f};
  for (float v : f32) append(data, v);                                   // [0, 24)
  for (float v : {1.0f, -0.5f, 65504.0f}) append(data, f32_to_fp16(v));  // [24, 30)
  for (float v : {3.0f, -1.0f}) append(data, f32_to_bf16(v));            // [30, 34)
  const std::string header = R"({"__metadata__":{"format":"pt"},)"
                             R"("a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                             R"("b":{"dtype":"F16","shape":[3],"data_offsets":[24,30]},)"
                             R"("c":{"dtype":"BF16","shape":[1,2],"data_offsets":[30,34]}})";
  auto set = SafetensorsSet::open_file(write_file("ok.safetensors", header, data));
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->tensors().size(), 3u);
  const SafeTensor* a = set->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  float out[6];
  a->read_f32(3, 3, out);  // the second row
  EXPECT_EQ(out[0], 3.0f);
  EXPECT_EQ(out[2], 7.0f);
  set->find("b")->read_f32(0, 3, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -0.5f);
  EXPECT_EQ(out[2], 65504.0f);
  set->find("c")->read_f32(0, 2, out);
  EXPECT_EQ(out[0], 3.0f);
  EXPECT_EQ(out[1], -1.0f);
  EXPECT_EQ(set->find("nope"), nullptr);
}

TEST(Safetensors, UnsupportedDtypeIsNamed) {
  std::vector<uint8_t> data(8);
  auto set = SafetensorsSet::open_file(
      write_file("i8.safetensors",
                 R"({"model.x.weight":{"dtype":"I8","shape":[8],"data_offsets":[0,8]}})", data));
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().code, ErrorCode::Unsupported);
  EXPECT_NE(set.error().message.find("model.x.weight has dtype I8"), std::string::npos)
      << set.error().message;
}

TEST(Safetensors, BadOffsetsAndHeadersAreRefused) {
  std::vector<uint8_t> data(8);
  auto set = SafetensorsSet::open_file(write_file(
      "short.safetensors", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data));
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().code, ErrorCode::BadFormat);
  EXPECT_NE(set.error().message.find("tensor w"), std::string::npos) << set.error().message;

  set = SafetensorsSet::open_file(write_file(
      "mismatch.safetensors", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data));
  ASSERT_FALSE(set.ok());

  set = SafetensorsSet::open_file(write_file("json.safetensors", "{not json", data));
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.error().message.find("JSON"), std::string::npos);

  // A header length beyond the file.
  fs::create_directories(kTmp);
  const std::string path = kTmp + "/huge.safetensors";
  {
    std::ofstream out(path, std::ios::binary);
    const uint64_t n = 1ull << 40;
    out.write(reinterpret_cast<const char*>(&n), 8);
  }
  set = SafetensorsSet::open_file(path);
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.error().message.find("header claims"), std::string::npos);

  set = SafetensorsSet::open_file(kTmp + "/missing.safetensors");
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().code, ErrorCode::NotFound);
}

TEST(Safetensors, FolderPrefersModelSafetensorsOverConsolidated) {
  const std::string dir = kTmp + "/mistral-like";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::vector<uint8_t> data(8, 0);
  const std::string a =
      write_file("a.safetensors",
                 R"({"model.norm.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data);
  const std::string b = write_file(
      "b.safetensors", R"({"norm.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data);
  fs::copy_file(b, dir + "/consolidated.safetensors");
  fs::copy_file(a, dir + "/model-00001-of-00001.safetensors");
  auto set = SafetensorsSet::open_folder(dir);
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->tensors().size(), 1u);
  EXPECT_NE(set->find("model.norm.weight"), nullptr);
  fs::copy_file(a, dir + "/model.safetensors");
  set = SafetensorsSet::open_folder(dir);
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->tensors().size(), 1u);
}

TEST(Safetensors, FolderWithoutWeightsIsNamed) {
  const std::string dir = kTmp + "/empty-folder";
  fs::create_directories(dir);
  auto set = SafetensorsSet::open_folder(dir);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().code, ErrorCode::NotFound);
  EXPECT_NE(set.error().message.find("no *.safetensors"), std::string::npos);
}

}  // namespace
}  // namespace tokamak
