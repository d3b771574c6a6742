// Converters to GGUF: llama2.c checkpoints and Hugging Face folders.
//
//   llama2.c: <model>.bin (legacy fp32: 7 x int32 header, then weights) +
//             tokenizer.bin  ->  GGUF "llama" (no Q/K permutation: llama2.c
//             already rotates adjacent pairs, as GGUF llama does)
//   Hugging Face: a folder with config.json (LlamaForCausalLM,
//             MistralForCausalLM, Qwen2ForCausalLM), *.safetensors (one file
//             or sharded with model.safetensors.index.json; F32/F16/BF16),
//             tokenizer.json or tokenizer.model, tokenizer_config.json
//             -> GGUF "llama" (Q/K rows permuted from rotate-half to adjacent
//             pairs, as llama.cpp's convert_hf_to_gguf.py does) or "qwen2"
//             (not permuted; run with NEOX rope).
//
// Tensor data is produced in the gguf::Writer's fill callbacks, quantized in
// parallel over rows: memory stays bounded by one tensor at a time. The
// output is written to "<output>.tmp" and renamed when complete.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/tensor_type.h"

namespace tokamak {

// Called before each tensor's data is written (from the writing thread).
using ConvertProgressFn =
    std::function<void(std::string_view tensor_name, int64_t index, int64_t num_tensors)>;

// One tensor of a written (or planned) file.
struct TensorSummary {
  std::string name;
  std::vector<int64_t> dims;  // dims[0] = row length
  TensorType type = TensorType::F32;
  uint64_t size_bytes = 0;
};

// What a written GGUF file holds (shared by converters and synth).
struct WriteReport {
  std::string output_path;
  uint64_t file_size_bytes = 0;        // 0 for a dry run
  uint64_t tensor_data_bytes = 0;      // sum of the tensors' sizes (without padding)
  std::vector<TensorSummary> tensors;  // in file order
  int64_t num_tensors = 0;
  int64_t num_params = 0;                      // sum of tensor element counts
  std::map<std::string, int64_t> type_counts;  // "Q4_K" -> number of tensors
  std::vector<std::string> notes;              // type fallbacks and other remarks
  double seconds = 0.0;                        // wall time of the write
};

struct ConvertReport : WriteReport {
  std::string source_format;  // "llama2c" or "hf"
  std::string arch_name;      // "llama", "qwen2"
  std::string type_mix;       // canonical mix name, e.g. "q4_k_m"
};

struct ConvertOptions {
  // llama2.c: the checkpoint file. Hugging Face: the model folder.
  std::string input_path;
  // llama2.c: tokenizer.bin (required). Hugging Face: optional override of
  // the folder's tokenizer.json / tokenizer.model.
  std::string tokenizer_path;
  std::string output_path;
  std::string type_mix = "f16";  // see type_mix.h
  std::string name;              // general.name; default: the input's file/folder name
  int num_threads = 0;           // <= 0: one per hardware thread
  ConvertProgressFn on_progress;
};

// llama2.c checkpoint + tokenizer.bin -> GGUF. The file size is checked
// against the header before anything is written.
Result<ConvertReport> convert_llama2c(const ConvertOptions& options);

// Hugging Face folder -> GGUF.
Result<ConvertReport> convert_hf(const ConvertOptions& options);

// Picks by the input: a directory -> convert_hf, a file -> convert_llama2c.
Result<ConvertReport> convert_model(const ConvertOptions& options);

}  // namespace tokamak
