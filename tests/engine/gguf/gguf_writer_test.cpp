// Writer: files on disk, the temporary file and its clean-up on failure,
// validation of what it is asked to write.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "gguf_test_util.h"
#include "scratch_dir.h"

namespace tokamak::gguf {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string tmp_path(const std::string& name) {
  return ::tokamak::test::scratch_dir("gguf_writer") + "/" + name;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(GgufWriter, FileOnDiskEqualsMemoryAndOpens) {
  const auto w = test::small_writer();
  const std::string path = tmp_path("writer_small.gguf");
  fs::remove(path);
  ASSERT_TRUE(w.write(path).ok());
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_EQ(read_file(path), test::bytes_of(w));
  auto f = File::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ((*f)->path(), path);
  EXPECT_EQ((*f)->tensors().size(), 2u);
  EXPECT_EQ((*f)->file_size(), fs::file_size(path));
  // Every tensor ends padded to the alignment: the file size is a multiple of it.
  EXPECT_EQ((*f)->file_size() % 32, 0u);
}

TEST(GgufWriter, FillCallbackStreamsEachTensorOnce) {
  Writer w;
  int calls = 0;
  w.add_tensor("big", {1024, 256}, TensorType::F32, [&](std::span<uint8_t> out) -> Status {
    ++calls;
    EXPECT_EQ(out.size(), 1024u * 256 * 4);
    auto* f = reinterpret_cast<float*>(out.data());
    for (size_t i = 0; i < out.size() / 4; ++i) f[i] = static_cast<float>(i);
    return {};
  });
  const std::string path = tmp_path("writer_fill.gguf");
  ASSERT_TRUE(w.write(path).ok());
  EXPECT_EQ(calls, 1);
  auto f = File::open(path);
  ASSERT_TRUE(f.ok());
  const auto* values = reinterpret_cast<const float*>((*f)->tensors()[0].data);
  EXPECT_EQ(values[262143], 262143.0f);
}

TEST(GgufWriter, FailedFillLeavesNoFileBehind) {
  const std::string path = tmp_path("writer_fail.gguf");
  {  // an older, good file at the destination stays as it was
    std::ofstream old(path);
    old << "previous";
  }
  Writer w = test::small_writer();
  w.add_tensor("blk.9.ffn_up.weight", {32}, TensorType::F32, [](std::span<uint8_t>) -> Status {
    return make_error(ErrorCode::Cancelled, "conversion cancelled");
  });
  Status s = w.write(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::Cancelled);
  EXPECT_EQ(s.error().message,
            path + ": filling tensor blk.9.ffn_up.weight failed: conversion cancelled");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  std::ifstream in(path);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "previous");
  auto m = w.write_to_memory();
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message,
            "<memory>: filling tensor blk.9.ffn_up.weight failed: conversion cancelled");
}

TEST(GgufWriter, WrongDataSizeIsRefused) {
  Writer w;
  w.add_tensor("t", {8}, TensorType::F32, std::vector<uint8_t>(31, 0));
  auto m = w.write_to_memory();
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message,
            "<memory>: filling tensor t failed: tensor t was given 31 bytes of data, but its shape "
            "and type need 32");
}

// A full disk, simulated with a file size limit: the write fails with an
// IoError naming the path, and the temporary file is removed.
TEST(GgufWriter, FullDiskIsAnIoErrorAndCleansUp) {
  const std::string path = tmp_path("writer_full.gguf");
  fs::remove(path);
  Writer w;
  w.add_tensor("t", {1 << 20}, TensorType::F32, std::vector<uint8_t>(4 << 20, 1));
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit limit = old_limit;
  limit.rlim_cur = 64 * 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  Status s = w.write(path);
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::IoError);
  EXPECT_THAT(s.error().message, StartsWith(path + ": cannot write " + path + ".tmp after "));
  EXPECT_THAT(s.error().message, HasSubstr("File too large"));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_FALSE(fs::exists(path));
}

TEST(GgufWriter, UncreatableDirectory) {
  Status s = test::small_writer().write("/nonexistent/dir/out.gguf");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::IoError);
  EXPECT_EQ(s.error().message,
            "/nonexistent/dir/out.gguf: cannot create /nonexistent/dir/out.gguf.tmp: No such file "
            "or directory");
}

std::string write_error(const Writer& w) {
  auto r = w.write_to_memory();
  return r.ok() ? "OK" : r.error().message;
}

TEST(GgufWriter, ValidatesTensorsAtWrite) {
  Writer dup;
  dup.add_tensor("x", {8}, TensorType::F32, std::vector<uint8_t>(32));
  dup.add_tensor("x", {8}, TensorType::F32, std::vector<uint8_t>(32));
  EXPECT_EQ(write_error(dup), "<memory>: duplicate tensor name x");

  Writer block;
  block.add_tensor("q", {48, 2}, TensorType::Q4_0, std::vector<uint8_t>(54));
  EXPECT_EQ(write_error(block),
            "<memory>: tensor q of type Q4_0 has rows of 48 values, not a multiple of the block "
            "size 32");

  Writer zero;
  zero.add_tensor("z", {8, 0}, TensorType::F32, std::vector<uint8_t>());
  EXPECT_EQ(write_error(zero),
            "<memory>: tensor z has shape [8, 0]; every dimension must be at least 1");

  Writer five;
  five.add_tensor("f", {1, 1, 1, 1, 1}, TensorType::F32, std::vector<uint8_t>(4));
  EXPECT_EQ(write_error(five), "<memory>: tensor f has 5 dimensions, at most 4 are supported");

  Writer unknown;
  unknown.add_tensor("u", {8}, static_cast<TensorType>(1234), std::vector<uint8_t>(32));
  EXPECT_EQ(write_error(unknown), "<memory>: tensor u has unknown type 1234");
}

TEST(GgufWriter, ValidatesSettings) {
  EXPECT_EQ(write_error(Writer(1)), "<memory>: cannot write GGUF version 1 (only 2 and 3)");
  EXPECT_EQ(write_error(Writer(3, 48)),
            "<memory>: alignment 48 is not a power of two that fits in u32");
  Writer mismatch(3, 64);
  mismatch.set("general.alignment", Value::u32(32));
  EXPECT_THAT(
      write_error(mismatch),
      StartsWith("<memory>: general.alignment is 32 of type u32 but the writer aligns to 64"));
  Writer match(3, 64);
  match.set("general.alignment", Value::u32(64));
  EXPECT_EQ(write_error(match), "OK");
}

TEST(GgufWriter, ValidatesValues) {
  Writer empty;
  empty.set("k", Value());
  EXPECT_EQ(write_error(empty), "<memory>: key k holds no value");
  Writer mixed;
  mixed.set("arr", Value::array(Array{ValueType::UInt32, {Value::u32(1), Value::string("x")}}));
  EXPECT_EQ(write_error(mixed),
            "<memory>: item 1 of key arr has type string, but the array holds u32");
}

}  // namespace
}  // namespace tokamak::gguf
