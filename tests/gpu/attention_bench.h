// gpu_batch_bench attention: the decode attention kernel alone.
#pragma once

namespace tokamak {

// Decode attention of the batched steps' shapes (llama2-7b MHA, llama3-8b
// GQA, a head_dim 64 model) under each geometry of the decode path: us per
// launch and GB/s of K/V read, against the D2D copy rate; returns a process
// exit code.
int attention_bench();

}  // namespace tokamak
