#include "convert/model_writer.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <system_error>

namespace tokamak {

ModelWriter::ModelWriter(TypeMix mix, int num_threads, int32_t num_layers, bool tied_embeddings)
    : mix_(std::move(mix)),
      pool_(std::make_unique<ThreadPool>(num_threads)),
      num_layers_(num_layers),
      tied_(tied_embeddings) {}

TensorType ModelWriter::add(std::string name, std::vector<int64_t> dims, RowSourceFn source) {
  TensorRole role;
  role.name = name;
  role.dims = dims;
  role.layer = layer_of_tensor(name);
  role.num_layers = num_layers_;
  role.tied_embeddings = tied_;
  TypeChoice choice = mix_.choose(role);
  if (!choice.note.empty()) report_.notes.push_back(choice.note);
  add_typed(std::move(name), std::move(dims), choice.type, std::move(source));
  return choice.type;
}

void ModelWriter::add_typed(std::string name, std::vector<int64_t> dims, TensorType type,
                            RowSourceFn source) {
  int64_t num_values = 1;
  for (int64_t d : dims) num_values *= d;
  const int64_t row_length = dims.empty() ? 1 : dims[0];
  const int64_t num_rows = row_length > 0 ? num_values / row_length : 0;
  report_.num_params += num_values;
  const uint64_t size_bytes = static_cast<uint64_t>(num_rows) * row_size_bytes(type, row_length);
  report_.tensor_data_bytes += size_bytes;
  report_.tensors.push_back({name, dims, type, size_bytes});
  report_.type_counts[std::string(tensor_type_name(type))] += 1;
  report_.num_tensors += 1;
  const int64_t index = static_cast<int64_t>(names_.size());
  names_.push_back(name);
  auto fill = [this, index, type, num_rows, row_length,
               source = std::move(source)](std::span<uint8_t> out) -> Status {
    if (progress_ != nullptr && *progress_) {
      (*progress_)(names_[static_cast<size_t>(index)], index, static_cast<int64_t>(names_.size()));
    }
    return convert_rows(*pool_, type, num_rows, row_length, source, out);
  };
  writer_.add_tensor(std::move(name), std::move(dims), type, std::move(fill));
}

void ModelWriter::add_f32(std::string name, std::vector<int64_t> dims, std::vector<float> values) {
  auto shared = std::make_shared<std::vector<float>>(std::move(values));
  const int64_t row_length = dims.empty() ? 1 : dims[0];
  add_typed(std::move(name), std::move(dims), TensorType::F32,
            [shared, row_length](int64_t first, int64_t n, float* dst) -> Status {
              std::copy_n(shared->data() + first * row_length, n * row_length, dst);
              return {};
            });
}

Result<WriteReport> ModelWriter::write(const std::string& path,
                                       const ConvertProgressFn& on_progress) {
  const auto start = std::chrono::steady_clock::now();
  progress_ = &on_progress;
  Status s = writer_.write(path);
  progress_ = nullptr;
  if (!s.ok()) {
    Error e = s.take_error();
    if (e.message.find(path) == std::string::npos) e.message = path + ": " + e.message;
    return e;
  }
  WriteReport report = report_;
  report.output_path = path;
  std::error_code ec;
  report.file_size_bytes = std::filesystem::file_size(path, ec);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace tokamak
