// gpu_decode_bench --kernels: the decode and attention kernels alone.
#pragma once

namespace tokamak {

// Prints matvec, small-batch matmul, decode and prefill attention timings with GB/s and the
// fraction of copy bandwidth; returns a process exit code.
int kernel_bench(double copy_gb_per_s);

// gpu_decode_bench --gemm: the skinny GEMM against cublasGemmEx on the 7B
// layer shapes for 1..256 tokens; returns a process exit code.
int skinny_gemm_bench(double copy_gb_per_s);

}  // namespace tokamak
