// gpu_batch_bench attention: one layer's decode attention, launched back to
// back (20 per timing, median of 7 timings) for B sequences at P positions
// each, under each geometry of the decode path (cuda::decode_attention_tuning:
// the default routing, the former split kernel, the streaming kernel's
// stages and slots per token, forced on whatever the token count). GB/s = K + V bytes read / time;
// copy = D2D cudaMemcpy (read + write bytes / time).
#include "attention_bench.h"

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cuda/attention.cuh"
#include "cuda/device_bench.h"
#include "launch_timer.h"

namespace tokamak {
namespace {

struct Shape {
  const char* name;
  int32_t heads, kv_heads, head_dim;
};

struct Variant {
  std::string name;
  cuda::DecodeAttentionTuning tuning;
};

std::vector<Variant> variants() {
  std::vector<Variant> v;
  v.push_back({"default", {}});
  cuda::DecodeAttentionTuning t;
  t.streaming = false;
  v.push_back({"split", t});
  for (int stages : {2, 3, 4})
    for (int splits : {1, 2, 3, 16}) {
      t = {};
      t.min_pairs = 0;
      t.stages = stages;
      t.splits = splits;
      v.push_back({"s" + std::to_string(stages) + "x" + std::to_string(splits), t});
    }
  t = {};
  t.min_pairs = 0;
  t.splits = 16;
  t.min_slice = 128;
  v.push_back({"s3x16m128", t});
  t.min_slice = 256;
  v.push_back({"s3x16m256", t});
  return v;
}

// B sequences of P positions on contiguous blocks of 16; every variant.
void bench_case(const Shape& s, int32_t num_seqs, int32_t len, double copy,
                const std::vector<Variant>& vs) {
  const int32_t bs = 16, kv_dim = s.kv_heads * s.head_dim;
  const int32_t per_seq = (len + bs - 1) / bs, num_blocks = num_seqs * per_seq;
  const size_t pool = static_cast<size_t>(num_blocks) * bs * kv_dim;
  __half *k = nullptr, *v = nullptr;
  float *q = nullptr, *out = nullptr, *scratch = nullptr;
  int32_t* meta = nullptr;
  const size_t q_count = static_cast<size_t>(num_seqs) * s.heads * s.head_dim;
  std::vector<int32_t> host;  // [positions][token_seq][table_start][tables]
  for (int32_t t = 0; t < num_seqs; ++t) host.push_back(len - 1);
  for (int32_t t = 0; t < num_seqs; ++t) host.push_back(t);
  for (int32_t t = 0; t < num_seqs; ++t) host.push_back(t * per_seq);
  for (int32_t b = 0; b < num_blocks; ++b) host.push_back(b);
  if (cudaMalloc(&k, pool * 2) != cudaSuccess || cudaMalloc(&v, pool * 2) != cudaSuccess ||
      cudaMalloc(&q, q_count * 4) != cudaSuccess || cudaMalloc(&out, q_count * 4) != cudaSuccess ||
      cudaMalloc(&scratch, cuda::attention_scratch_bytes(s.heads, s.head_dim)) != cudaSuccess ||
      cudaMalloc(&meta, host.size() * 4) != cudaSuccess) {
    std::printf("%s %d x %d: out of device memory\n", s.name, num_seqs, len);
  } else {
    cudaMemset(k, 0x3C, pool * 2);  // halves 0x3C3C, about 1.06
    cudaMemset(v, 0x3C, pool * 2);
    cudaMemset(q, 0, q_count * 4);
    cudaMemcpy(meta, host.data(), host.size() * 4, cudaMemcpyHostToDevice);
    const cuda::PagedKv kv{meta, meta + num_seqs, meta + 2 * num_seqs, meta + 3 * num_seqs,
                           bs,   kv_dim};
    const double gb = 2.0 * num_seqs * len * kv_dim * 2 / 1e9;
    std::string line;
    for (const Variant& var : vs) {
      cuda::decode_attention_tuning() = var.tuning;
      const double us = us_per_launch(20, [&](int) {
        cuda::launch_attention(kv, q, k, v, s.heads, s.kv_heads, s.head_dim, num_seqs, scratch, out,
                               nullptr);
      });
      char buf[96];
      std::snprintf(buf, sizeof buf, " %s %.1fus %.0f%%", var.name.c_str(), us,
                    100.0 * gb / (us * 1e-6) / copy);
      line += buf;
    }
    std::printf("%-10s %3d x %4d (%6.1f MB):%s\n", s.name, num_seqs, len, gb * 1e3, line.c_str());
    std::fflush(stdout);
  }
  cudaFree(k);
  cudaFree(v);
  cudaFree(q);
  cudaFree(out);
  cudaFree(scratch);
  cudaFree(meta);
}

}  // namespace

int attention_bench() {
  auto bw = measure_copy_bandwidth(0, size_t{1} << 30, 5);
  const double copy = bw.ok() ? bw->median_gb_per_s : 0.0;
  std::printf("copy %.1f GB/s; %% = K/V GB/s of that\n", copy);
  const std::vector<Variant> vs = variants();
  const cuda::DecodeAttentionTuning saved = cuda::decode_attention_tuning();
  const Shape shapes[] = {{"mha128", 32, 32, 128}, {"gqa128", 32, 8, 128}, {"g7d64", 14, 2, 64}};
  for (const Shape& s : shapes) {
    for (int32_t b : {1, 16, 64, 128, 256}) bench_case(s, b, 192, copy, vs);
    for (int32_t b : {1, 8, 32}) bench_case(s, b, 4064, copy, vs);
  }
  cuda::decode_attention_tuning() = saved;
  const cudaError_t err = cudaDeviceSynchronize();
  if (err != cudaSuccess) {
    std::fprintf(stderr, "attention bench: %s\n", cudaGetErrorString(err));
    return 1;
  }
  return 0;
}

}  // namespace tokamak
