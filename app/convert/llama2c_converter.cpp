// convert_llama2c: a llama2.c checkpoint + tokenizer.bin -> GGUF llama.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "convert/convert.h"
#include "convert/llama2c_checkpoint.h"
#include "convert/mapped_file.h"
#include "convert/model_writer.h"
#include "convert/no_throw.h"
#include "convert/vocab_import.h"
#include "tokenizer/vocab.h"

namespace tokamak {
namespace {

// Rows of a (rows, row_length) f32 matrix at float offset `at` of the weights.
RowSourceFn matrix_rows(const float* weights, int64_t at, int64_t row_length) {
  return [weights, at, row_length](int64_t first, int64_t n, float* dst) -> Status {
    std::memcpy(dst, weights + at + first * row_length,
                static_cast<size_t>(n * row_length) * sizeof(float));
    return {};
  };
}

void add_llama2c_tensors(ModelWriter& w, const Llama2cLayout& L, const float* f) {
  const LlamaHParams& hp = L.hp;
  const int64_t dim = hp.dim, hidden = hp.hidden_dim, kv_dim = hp.kv_dim();
  const int64_t vocab = hp.vocab_size;
  w.add("token_embd.weight", {dim, vocab}, matrix_rows(f, L.token_embd, dim));
  w.add("output_norm.weight", {dim}, matrix_rows(f, L.rms_final, dim));
  if (!L.shared_classifier) w.add("output.weight", {dim, vocab}, matrix_rows(f, L.wcls, dim));
  for (int64_t l = 0; l < hp.num_layers; ++l) {
    const std::string p = fmt::format("blk.{}.", l);
    w.add(p + "attn_norm.weight", {dim}, matrix_rows(f, L.rms_att + l * dim, dim));
    w.add(p + "attn_q.weight", {dim, dim}, matrix_rows(f, L.wq + l * dim * dim, dim));
    w.add(p + "attn_k.weight", {dim, kv_dim}, matrix_rows(f, L.wk + l * kv_dim * dim, dim));
    w.add(p + "attn_v.weight", {dim, kv_dim}, matrix_rows(f, L.wv + l * kv_dim * dim, dim));
    w.add(p + "attn_output.weight", {dim, dim}, matrix_rows(f, L.wo + l * dim * dim, dim));
    w.add(p + "ffn_norm.weight", {dim}, matrix_rows(f, L.rms_ffn + l * dim, dim));
    w.add(p + "ffn_gate.weight", {dim, hidden}, matrix_rows(f, L.w1 + l * hidden * dim, dim));
    w.add(p + "ffn_down.weight", {hidden, dim}, matrix_rows(f, L.w2 + l * dim * hidden, hidden));
    w.add(p + "ffn_up.weight", {dim, hidden}, matrix_rows(f, L.w3 + l * hidden * dim, dim));
  }
}

}  // namespace

static Result<ConvertReport> convert_llama2c_impl(const ConvertOptions& options) {
  if (options.output_path.empty()) {
    return make_error(ErrorCode::InvalidArgument, "convert: no output path given");
  }
  if (options.tokenizer_path.empty()) {
    return make_error(ErrorCode::InvalidArgument,
                      options.input_path +
                          ": a llama2.c checkpoint needs its tokenizer.bin (no tokenizer given)");
  }
  TK_ASSIGN(TypeMix mix, TypeMix::parse(options.type_mix));
  TK_ASSIGN(auto file, MappedFile::open(options.input_path));
  TK_ASSIGN(Llama2cLayout layout,
            llama2c_layout(options.input_path, file->bytes().data(), file->size_bytes()));
  TK_ASSIGN(Vocab vocab, import_vocab(options.tokenizer_path, ""));
  if (vocab.size() != layout.hp.vocab_size) {
    return make_error(
        ErrorCode::BadFormat,
        fmt::format("{} has {} tokens but {} says vocab_size {}", options.tokenizer_path,
                    vocab.size(), options.input_path, layout.hp.vocab_size));
  }
  layout.hp.name = options.name.empty() ? std::filesystem::path(options.input_path).stem().string()
                                        : options.name;

  // The weights start right after the 28-byte header: 4-byte aligned in the mapping.
  const auto* weights =
      reinterpret_cast<const float*>(file->bytes().data() + Llama2cLayout::kHeaderBytes);
  ModelWriter w(mix, options.num_threads, layout.hp.num_layers, layout.shared_classifier);
  const bool quantized = mix.base_type() != TensorType::F32 && mix.base_type() != TensorType::F16 &&
                         mix.base_type() != TensorType::BF16;
  write_model_metadata(w.writer(), layout.hp, mix.file_type(), quantized);
  vocab.to_gguf(w.writer());
  add_llama2c_tensors(w, layout, weights);
  TK_ASSIGN(WriteReport written, w.write(options.output_path, options.on_progress));

  ConvertReport report;
  static_cast<WriteReport&>(report) = std::move(written);
  report.source_format = "llama2c";
  report.arch_name = "llama";
  report.type_mix = mix.name();
  return report;
}

Result<ConvertReport> convert_llama2c(const ConvertOptions& options) {
  return no_throw(options.input_path, [&] { return convert_llama2c_impl(options); });
}

}  // namespace tokamak
