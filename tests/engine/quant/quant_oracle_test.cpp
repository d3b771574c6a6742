// Oracle test against gguf-py (llama.cpp's gguf.quants, which nobody here
// wrote): our Q8_0/Q4_0/F16/BF16 bytes must equal gguf-py's quantization of
// the same floats, and gguf-py's dequantization of our bytes (all types, and
// random-byte blocks) must equal ours. The data goes through files in
// TOKAMAK_TEST_TMP; tests/reference/quant_oracle.py does the comparing.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/half.h"
#include "quant/quant.h"
#include "quant_test_util.h"
#include "scratch_dir.h"

namespace tokamak::quant {
namespace {

namespace fs = std::filesystem;

// A rows x cols matrix of test values: Gaussian rows at several scales and
// rows built to hit the quantizers' corner cases.
//   row 0: N(0, 1)            row 1: N(0, 1e-3)        row 2: N(0, 3000)
//   row 3: ties: Q8_0 blocks with max 127 and halves (x * id = k + 0.5),
//          Q4_0 blocks with max -8 and x + 8.5 on integers
//   row 4: zeros, one block with a single outlier
//   row 5: constant blocks (positive, negative, zero)
//   row 6: N(0, 1e-7) (scales underflow f16)
//   row 7: each 32-block with its own scale 10^U(-4, 4)
std::vector<float> test_matrix(int rows, int cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> gauss;
  std::uniform_int_distribution<int> half_steps(-254, 254), q4_steps(-16, 15);
  std::uniform_real_distribution<float> exponent(-4.0f, 4.0f);
  std::vector<float> m(static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r) {
    float* x = m.data() + static_cast<size_t>(r) * cols;
    float block_scale = 1.0f;
    for (int j = 0; j < cols; ++j) {
      const int in_block = j % 32, block = j / 32;
      if (in_block == 0) block_scale = std::pow(10.0f, exponent(rng));
      switch (r % 8) {
        case 0:
          x[j] = gauss(rng);
          break;
        case 1:
          x[j] = 1e-3f * gauss(rng);
          break;
        case 2:
          x[j] = 3000.0f * gauss(rng);
          break;
        case 3:
          if (block % 2 == 0)
            x[j] = in_block == 5 ? 127.0f : 0.5f * half_steps(rng);
          else
            x[j] = in_block == 9 ? -8.0f : 0.5f * q4_steps(rng);
          break;
        case 4:
          x[j] = (block == 3 && in_block == 17) ? -42.5f : 0.0f;
          break;
        case 5:
          x[j] = block % 3 == 0 ? 0.75f : block % 3 == 1 ? -3.0f : 0.0f;
          break;
        case 6:
          x[j] = 1e-7f * gauss(rng);
          break;
        default:
          x[j] = block_scale * gauss(rng);
          break;
      }
    }
  }
  return m;
}

class OracleDir {
 public:
  explicit OracleDir(fs::path dir) : dir_(std::move(dir)) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  const fs::path& path() const { return dir_; }

  void write(const std::string& file, const void* data, size_t bytes) {
    std::ofstream out(dir_ / file, std::ios::binary);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  }

  // Quantizes (unless q is given), dequantizes, writes the case's files.
  void add(const std::string& name, TensorType type, int rows, int cols,
           const std::vector<float>* x, std::vector<uint8_t> q, bool check_bytes) {
    const size_t row_bytes = row_size_bytes(type, cols);
    if (x != nullptr) {
      q.assign(row_bytes * rows, 0);
      for (int r = 0; r < rows; ++r) {
        const Status st = quantize_row(type, x->data() + static_cast<size_t>(r) * cols,
                                       q.data() + r * row_bytes, cols);
        ASSERT_TRUE(st.ok()) << st.error().message;
      }
      write(name + ".x.f32", x->data(), x->size() * sizeof(float));
    }
    std::vector<float> deq(static_cast<size_t>(rows) * cols);
    for (int r = 0; r < rows; ++r)
      dequantize_row(type, q.data() + r * row_bytes, deq.data() + static_cast<size_t>(r) * cols,
                     cols);
    write(name + ".q", q.data(), q.size());
    write(name + ".deq.f32", deq.data(), deq.size() * sizeof(float));
    std::ostringstream c;
    c << R"({"name": ")" << name << R"(", "type": ")" << tensor_type_name(type) << R"(", "rows": )"
      << rows << R"(, "cols": )" << cols << R"(, "checks": [)"
      << (check_bytes ? R"("bytes", )" : "") << R"("dequantize"]})";
    cases_.push_back(c.str());
  }

  void write_manifest() {
    std::ofstream out(dir_ / "manifest.json");
    out << "{\"cases\": [\n";
    for (size_t i = 0; i < cases_.size(); ++i)
      out << "  " << cases_[i] << (i + 1 < cases_.size() ? ",\n" : "\n");
    out << "]}\n";
  }

 private:
  fs::path dir_;
  std::vector<std::string> cases_;
};

// Random bytes with a sane f16 d (and dmin) in each block.
std::vector<uint8_t> random_blocks(TensorType type, int rows, int cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(1e-4f, 0.1f);
  std::vector<uint8_t> q(row_size_bytes(type, cols) * rows);
  for (auto& b : q) b = static_cast<uint8_t>(byte(rng));
  const size_t block_bytes = traits(type).type_size;
  const size_t d_at = type == TensorType::Q6_K ? block_bytes - 2 : 0;
  for (size_t off = 0; off < q.size(); off += block_bytes) {
    const uint16_t d = f32_to_fp16(scale(rng)), dmin = f32_to_fp16(scale(rng));
    std::memcpy(&q[off + d_at], &d, 2);
    if (type == TensorType::Q4_K) std::memcpy(&q[off + 2], &dmin, 2);
  }
  return q;
}

bool gguf_py_available() {
  return std::system("python3 -c 'import gguf.quants' > /dev/null 2>&1") == 0;
}

TEST(QuantOracle, MatchesGgufPy) {
  if (!gguf_py_available()) GTEST_SKIP() << "python3 with the gguf module is not available";
  OracleDir dir(fs::path(::tokamak::test::scratch_dir("quant_oracle")));
  const int rows = 8, cols32 = 256 * 3 + 32, cols256 = 256 * 5;
  const auto m32 = test_matrix(rows, cols32, 1);
  const auto m256 = test_matrix(rows, cols256, 2);
  for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0, TensorType::F16, TensorType::BF16})
    dir.add("m32_" + std::string(tensor_type_name(t)), t, rows, cols32, &m32, {}, true);
  for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0})
    dir.add("m256_" + std::string(tensor_type_name(t)), t, rows, cols256, &m256, {}, true);
  for (TensorType t : {TensorType::Q4_K, TensorType::Q6_K})
    dir.add("m256_" + std::string(tensor_type_name(t)), t, rows, cols256, &m256, {}, false);
  uint32_t seed = 10;
  for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_K, TensorType::Q6_K})
    dir.add("random_" + std::string(tensor_type_name(t)), t, 4, 2048, nullptr,
            random_blocks(t, 4, 2048, seed++), false);
  dir.write_manifest();

  const fs::path log = dir.path() / "oracle.log";
  const std::string cmd = "python3 '" TOKAMAK_SOURCE_DIR "/tests/reference/quant_oracle.py' '" +
                          dir.path().string() + "' > '" + log.string() + "' 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(log);
  const std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_TRUE(WIFEXITED(status)) << cmd << "\n" << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "quant_oracle.py reported mismatches:\n" << output;
  std::printf("%s", output.c_str());
}

}  // namespace
}  // namespace tokamak::quant
