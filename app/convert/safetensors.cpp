#include "convert/safetensors.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/half.h"

namespace tokamak {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

size_t dtype_bytes(SafeDtype d) { return d == SafeDtype::F32 ? 4 : 2; }

Error bad(const std::string& path, const std::string& what) {
  return make_error(ErrorCode::BadFormat, path + ": " + what);
}

// Parses one header entry into t (data pointer relative to data_start).
Status parse_entry(const std::string& path, const std::string& name, const json& e,
                   const uint8_t* data_start, uint64_t data_bytes, SafeTensor& t) {
  if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") ||
      !e.contains("data_offsets")) {
    return bad(path, "tensor " + name + ": header entry lacks dtype, shape or data_offsets");
  }
  t.name = name;
  t.dtype_name = e["dtype"].is_string() ? e["dtype"].get<std::string>() : "?";
  if (t.dtype_name == "F32") {
    t.dtype = SafeDtype::F32;
  } else if (t.dtype_name == "F16") {
    t.dtype = SafeDtype::F16;
  } else if (t.dtype_name == "BF16") {
    t.dtype = SafeDtype::BF16;
  } else {
    return make_error(ErrorCode::Unsupported, path + ": tensor " + name + " has dtype " +
                                                  t.dtype_name +
                                                  "; the converter reads F32, F16 and BF16");
  }
  for (const auto& d : e["shape"]) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0) {
      return bad(path, "tensor " + name + ": shape has a non-integer or negative entry");
    }
    t.shape.push_back(d.get<int64_t>());
  }
  const auto& off = e["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
      !off[1].is_number_unsigned()) {
    return bad(path, "tensor " + name + ": data_offsets is not [begin, end]");
  }
  const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
  const uint64_t want = static_cast<uint64_t>(t.num_values()) * dtype_bytes(t.dtype);
  if (end < begin || end > data_bytes || end - begin != want) {
    return bad(path, fmt::format("tensor {}: data_offsets [{}, {}] do not hold {} values of {} "
                                 "({} bytes) inside the {} data bytes",
                                 name, begin, end, t.num_values(), t.dtype_name, want, data_bytes));
  }
  t.data = data_start + begin;
  return {};
}

}  // namespace

int64_t SafeTensor::num_values() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void SafeTensor::read_f32(int64_t first, int64_t count, float* dst) const {
  switch (dtype) {
    case SafeDtype::F32:
      std::memcpy(dst, data + first * 4, static_cast<size_t>(count) * 4);
      return;
    case SafeDtype::F16: {
      const uint8_t* p = data + first * 2;
      for (int64_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, p + i * 2, 2);
        dst[i] = fp16_to_f32(h);
      }
      return;
    }
    case SafeDtype::BF16: {
      const uint8_t* p = data + first * 2;
      for (int64_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, p + i * 2, 2);
        dst[i] = bf16_to_f32(h);
      }
      return;
    }
  }
}

Status SafetensorsSet::add_file(const std::string& path) {
  TK_ASSIGN(auto file, MappedFile::open(path));
  const auto bytes = file->bytes();
  if (bytes.size() < 8) return bad(path, "too short for a safetensors header");
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, bytes.data(), 8);
  if (header_bytes > bytes.size() - 8) {
    return bad(path, fmt::format("header claims {} bytes but the file has {}", header_bytes,
                                 bytes.size()));
  }
  json header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + header_bytes, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return bad(path, "the safetensors header is not a JSON object");
  }
  const uint8_t* data_start = bytes.data() + 8 + header_bytes;
  const uint64_t data_bytes = bytes.size() - 8 - header_bytes;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    SafeTensor t;
    TK_TRY(parse_entry(path, name, entry, data_start, data_bytes, t));
    t.file = file.get();
    if (tensors_.count(name) != 0) {
      return bad(path, "tensor " + name + " also appears in " + tensors_[name].file->path());
    }
    tensors_.emplace(name, std::move(t));
  }
  files_.push_back(std::move(file));
  return {};
}

Result<SafetensorsSet> SafetensorsSet::open_file(const std::string& path) {
  SafetensorsSet set;
  TK_TRY(set.add_file(path));
  return set;
}

Result<SafetensorsSet> SafetensorsSet::open_folder(const std::string& dir) {
  SafetensorsSet set;
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  std::vector<std::string> shards;
  if (fs::exists(index_path)) {
    std::ifstream in(index_path);
    json index = json::parse(in, nullptr, false);
    if (index.is_discarded() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      return bad(index_path.string(), "not a JSON object with a weight_map");
    }
    std::set<std::string> unique;
    for (const auto& [name, shard] : index["weight_map"].items()) {
      if (!shard.is_string()) return bad(index_path.string(), "weight_map[" + name + "]");
      unique.insert(shard.get<std::string>());
    }
    for (const auto& s : unique) shards.push_back((fs::path(dir) / s).string());
  } else if (fs::exists(fs::path(dir) / "model.safetensors")) {
    shards.push_back((fs::path(dir) / "model.safetensors").string());
  } else {
    // Mistral's folders also hold consolidated.safetensors (the same weights
    // under Mistral's own names): never mix it in.
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string file = entry.path().filename().string();
      if (entry.path().extension() == ".safetensors" && file.rfind("consolidated", 0) != 0) {
        shards.push_back(entry.path().string());
      }
    }
    if (ec) return make_error(ErrorCode::IoError, dir + ": " + ec.message());
    std::sort(shards.begin(), shards.end());
  }
  if (shards.empty()) {
    return make_error(ErrorCode::NotFound, dir +
                                               ": no *.safetensors files (pytorch .bin "
                                               "checkpoints are not supported)");
  }
  for (const auto& s : shards) TK_TRY(set.add_file(s));
  return set;
}

const SafeTensor* SafetensorsSet::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace tokamak
