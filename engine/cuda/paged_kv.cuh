// The step's view of the paged KV pool on the device.
//
//   pool, per layer:  K[num_blocks][block_size][kv_dim]   (kv_dim = num_kv_heads * head_dim)
//                     V[num_blocks][block_size][kv_dim]
//   token t of the step is at position positions[t] of sequence token_seq[t];
//   that sequence's block table is tables[table_start[s] ..]:
//     position p lives in block tables[table_start[s] + p / block_size], slot p % block_size.
#pragma once

#include <cstdint>

namespace tokamak::cuda {

struct PagedKv {
  const int32_t* positions = nullptr;    // (num_tokens)
  const int32_t* token_seq = nullptr;    // (num_tokens)
  const int32_t* table_start = nullptr;  // (num_sequences) offsets into tables
  const int32_t* tables = nullptr;       // concatenated block tables
  int32_t block_size = 0;
  int32_t kv_dim = 0;
};

}  // namespace tokamak::cuda
