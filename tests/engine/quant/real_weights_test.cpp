// Quantization of real trained weights (the aidreams260K llama2.c checkpoint
// in TOKAMAK_SHARED_DATA): per-type error of the weights themselves and of a
// matrix-vector product through quantize_activation + vec_dot_rows, against
// the f32 product. Real weights have heavier tails than Gaussian data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "quant/quant.h"
#include "quant_test_util.h"

namespace tokamak::quant {
namespace {

// All 2-D weight matrices of the checkpoint, concatenated (token embedding,
// then per kind wq, wk, wv, wo, w1, w2, w3 over all layers); norms excluded.
std::vector<float> load_weight_matrices() {
  const std::string path =
      std::string(TOKAMAK_SHARED_DATA) + "/models/aidreams260K/aidreams260K.bin";
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  int32_t h[7];
  in.read(reinterpret_cast<char*>(h), sizeof(h));
  const int64_t dim = h[0], hidden = h[1], layers = h[2], vocab = h[5];
  auto read = [&](int64_t count, std::vector<float>* into) {
    const size_t at = into ? into->size() : 0;
    std::vector<float> tmp(static_cast<size_t>(count));
    in.read(reinterpret_cast<char*>(tmp.data()), count * 4);
    if (into) into->insert(into->begin() + at, tmp.begin(), tmp.end());
  };
  std::vector<float> w;
  read(vocab * dim, &w);                                        // token embedding
  read(layers * dim, nullptr);                                  // rms_att
  for (int k = 0; k < 4; ++k) read(layers * dim * dim, &w);     // wq wk wv wo (n_kv = n_heads)
  read(layers * dim, nullptr);                                  // rms_ffn
  for (int k = 0; k < 3; ++k) read(layers * dim * hidden, &w);  // w1 w2 w3
  if (!in) return {};
  return w;
}

struct RealBounds {
  TensorType type;
  double max_weight_rmse;  // relative RMSE of the weights
  double max_matvec_err;   // ||y_q - y|| / ||y|| of the product
};

TEST(RealWeights, QuantizedMatvecStaysCloseToF32) {
  const auto w = load_weight_matrices();
  ASSERT_FALSE(w.empty()) << "cannot read aidreams260K.bin under " TOKAMAK_SHARED_DATA;
  // Rows of 256 (a multiple of every block size) over all matrices.
  const int64_t n = 256, num_rows = static_cast<int64_t>(w.size()) / n;
  ASSERT_GT(num_rows, 500);
  const auto x = testing::gaussian_row(n, 77);
  std::vector<double> y_ref(num_rows);
  for (int64_t r = 0; r < num_rows; ++r)
    for (int64_t i = 0; i < n; ++i) y_ref[r] += static_cast<double>(w[r * n + i]) * x[i];

  // Measured (weights / matvec): F16 2.1e-4 / 2.3e-4, BF16 1.7e-3 / 1.8e-3,
  // Q8_0 4.5e-3 / 8.1e-3 (activation rounding adds its share), Q6_K 0.0148 /
  // 0.0178, Q4_K 0.062 / 0.064, Q4_0 0.072 / 0.079. Bounds leave ~25%.
  const RealBounds bounds[] = {
      {TensorType::F16, 3e-4, 3e-4},    {TensorType::BF16, 2.2e-3, 2.4e-3},
      {TensorType::Q8_0, 0.006, 0.011}, {TensorType::Q6_K, 0.019, 0.023},
      {TensorType::Q4_K, 0.075, 0.08},  {TensorType::Q4_0, 0.09, 0.10},
  };
  for (const auto& b : bounds) {
    const size_t row_bytes = row_size_bytes(b.type, n);
    std::vector<uint8_t> q(row_bytes * num_rows);
    std::vector<float> deq(n);
    double err = 0, sum = 0;
    for (int64_t r = 0; r < num_rows; ++r) {
      ASSERT_TRUE(quantize_row(b.type, &w[r * n], q.data() + r * row_bytes, n).ok());
      dequantize_row(b.type, q.data() + r * row_bytes, deq.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        err += (deq[i] - static_cast<double>(w[r * n + i])) * (deq[i] - w[r * n + i]);
        sum += static_cast<double>(w[r * n + i]) * w[r * n + i];
      }
    }
    std::vector<uint8_t> act(activation_row_bytes(b.type, n));
    quantize_activation(b.type, x.data(), act.data(), n);
    std::vector<float> y(num_rows);
    vec_dot_rows(b.type, n, q.data(), row_bytes, num_rows, act.data(), y.data());
    double y_err = 0, y_sum = 0;
    for (int64_t r = 0; r < num_rows; ++r) {
      y_err += (y[r] - y_ref[r]) * (y[r] - y_ref[r]);
      y_sum += y_ref[r] * y_ref[r];
    }
    const double weight_rmse = std::sqrt(err / sum), matvec_err = std::sqrt(y_err / y_sum);
    std::printf("%-5s real weights: relative rmse %.5f, matvec relative error %.5f\n",
                std::string(tensor_type_name(b.type)).c_str(), weight_rmse, matvec_err);
    EXPECT_LE(weight_rmse, b.max_weight_rmse) << tensor_type_name(b.type);
    EXPECT_LE(matvec_err, b.max_matvec_err) << tensor_type_name(b.type);
  }
}

}  // namespace
}  // namespace tokamak::quant
