// Builds a model GGUF file: metadata, then tensors whose f32 rows come from
// a source (a checkpoint, a safetensors shard, a PRNG) and are converted to
// the type the mix chooses, in parallel, at write time. Records what the
// WriteReport says (types, fallbacks, parameter count).
//
//   ModelWriter w(mix, num_threads, num_layers, tied);
//   write_model_metadata(w.writer(), hp, mix.file_type(), ...);
//   vocab.to_gguf(w.writer());
//   w.add("blk.0.attn_q.weight", {dim, q_dim}, source);   // dims[0] = row length
//   TK_ASSIGN(WriteReport r, w.write(path, on_progress));
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "convert/convert.h"
#include "convert/row_converter.h"
#include "convert/type_mix.h"
#include "core/result.h"
#include "core/thread_pool.h"
#include "gguf/gguf_writer.h"

namespace tokamak {

class ModelWriter {
 public:
  ModelWriter(TypeMix mix, int num_threads, int32_t num_layers, bool tied_embeddings);

  gguf::Writer& writer() { return writer_; }
  const TypeMix& mix() const { return mix_; }
  ThreadPool& pool() { return *pool_; }

  // A tensor of `dims` (dims[0] = row length) of the mix's type for it.
  // Returns the chosen type.
  TensorType add(std::string name, std::vector<int64_t> dims, RowSourceFn source);
  // The same with the type forced (rope_freqs and other F32 extras).
  void add_typed(std::string name, std::vector<int64_t> dims, TensorType type, RowSourceFn source);
  // A small F32 tensor from values.
  void add_f32(std::string name, std::vector<int64_t> dims, std::vector<float> values);

  // Writes the file (tmp + rename by gguf::Writer) and reports.
  Result<WriteReport> write(const std::string& path, const ConvertProgressFn& on_progress);
  // What write() would write, without producing any data.
  WriteReport plan() const { return report_; }

 private:
  TypeMix mix_;
  std::unique_ptr<ThreadPool> pool_;
  int32_t num_layers_;
  bool tied_;
  gguf::Writer writer_;
  std::vector<std::string> names_;  // in order, for progress
  WriteReport report_;
  const ConvertProgressFn* progress_ = nullptr;  // valid during write()
};

}  // namespace tokamak
