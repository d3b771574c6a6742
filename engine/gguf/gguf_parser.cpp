#include "gguf/gguf_parser.h"

#include <cstring>
#include <new>
#include <stdexcept>
#include <unordered_map>

#include "gguf/gguf_strings.h"

namespace tokamak::gguf {
namespace {

using detail::cat;
using detail::value_position;

constexpr uint32_t kNumValueTypes = 13;
// Smallest possible encodings, used to refuse absurd counts early:
//   metadata entry: u64 key length + u32 type + 1-byte value
//   tensor info:    u64 name length + u32 n_dims + u32 type + u64 offset
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;
// Vectors sized from file counts reserve at most this many items up front;
// beyond it they grow as items are actually read.
constexpr uint64_t kMaxReserve = uint64_t{1} << 20;

// Bytes that one item of `type` needs at least on disk.
uint64_t min_item_bytes(ValueType type) {
  switch (type) {
    case ValueType::UInt8:
    case ValueType::Int8:
    case ValueType::Bool:
      return 1;
    case ValueType::UInt16:
    case ValueType::Int16:
      return 2;
    case ValueType::UInt32:
    case ValueType::Int32:
    case ValueType::Float32:
      return 4;
    case ValueType::String:  // u64 length
    case ValueType::UInt64:
    case ValueType::Int64:
    case ValueType::Float64:
      return 8;
    case ValueType::Array:  // u32 type + u64 count
      return 12;
  }
  return 1;
}

std::string type_name(uint32_t raw) {
  if (raw < kNumValueTypes) return std::string(value_type_name(static_cast<ValueType>(raw)));
  return cat("unknown type ", raw);
}

std::string u128_to_string(unsigned __int128 v) {
  if (v == 0) return "0";
  std::string s;
  while (v > 0) {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return s;
}

std::string magic_string(std::span<const uint8_t> b) {
  std::string hex, text;
  for (size_t i = 0; i < 4; ++i) {
    static constexpr char kDigits[] = "0123456789abcdef";
    if (i > 0) hex += ' ';
    hex += kDigits[b[i] >> 4];
    hex += kDigits[b[i] & 15];
    text += (b[i] >= 0x20 && b[i] < 0x7f) ? static_cast<char>(b[i]) : '.';
  }
  return cat(hex, " (\"", text, "\")");
}

}  // namespace

Status Parser::parse(File& file) {
  Parser parser(file);
  try {
    return parser.run();
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::OutOfMemory,
                      cat(file.path_, ": out of memory while reading the GGUF header (file is ",
                          file.bytes_.size(), " bytes)"));
  } catch (const std::length_error&) {
    return make_error(ErrorCode::OutOfMemory,
                      cat(file.path_, ": out of memory while reading the GGUF header"));
  }
}

template <class T>
bool Parser::take(T* out) {
  if (remaining() < sizeof(T)) return false;
  std::memcpy(out, bytes_.data() + pos_, sizeof(T));
  pos_ += sizeof(T);
  return true;
}

Error Parser::truncated(std::string_view what, uint64_t need_bytes) const {
  return make_error(
      ErrorCode::BadFormat,
      cat(file_.path_, ": file truncated while reading ", what, " at offset ", pos_, ": need ",
          need_bytes, " bytes, only ", remaining(), " remain (file is ", bytes_.size(), " bytes)"));
}

Error Parser::bad(std::string message) const {
  return make_error(ErrorCode::BadFormat, cat(file_.path_, ": ", message));
}

std::string Parser::describe_value() const { return value_position(key_, index_path_); }

Status Parser::run() {
  uint64_t num_tensors = 0, num_kvs = 0;
  TK_TRY(read_header(&num_tensors, &num_kvs));
  TK_TRY(read_metadata(num_kvs));
  TK_TRY(read_alignment());
  TK_TRY(read_tensor_infos(num_tensors));
  return {};
}

Status Parser::read_header(uint64_t* num_tensors, uint64_t* num_kvs) {
  if (bytes_.size() < 4) return truncated("the magic", 4);
  if (std::memcmp(bytes_.data(), "GGUF", 4) != 0) {
    return bad(cat("not a GGUF file: the first 4 bytes are ", magic_string(bytes_),
                   ", expected 47 47 55 46 (\"GGUF\")"));
  }
  pos_ = 4;
  uint32_t version = 0;
  if (!take(&version)) return truncated("the version", 4);
  if (version != 0 && (version & 0xffffu) == 0) {
    return bad(cat("big-endian GGUF not supported (the version field holds version ",
                   __builtin_bswap32(version),
                   " byte-swapped); convert the file to little-endian"));
  }
  if (version == 1) {
    return make_error(ErrorCode::Unsupported,
                      cat(file_.path_,
                          ": unsupported GGUF version 1 (GGUF v1 used 32-bit counts and is "
                          "obsolete; supported versions are 2 and 3: re-convert the model with a "
                          "current llama.cpp)"));
  }
  if (version != 2 && version != 3) {
    return make_error(ErrorCode::Unsupported, cat(file_.path_, ": unsupported GGUF version ",
                                                  version, " (supported versions are 2 and 3)"));
  }
  file_.version_ = version;
  if (!take(num_tensors)) return truncated("the tensor count", 8);
  if (!take(num_kvs)) return truncated("the metadata count", 8);
  if (*num_kvs > remaining() / kMinKvBytes) {
    return bad(cat("metadata count ", *num_kvs, " is impossible: each entry needs at least ",
                   kMinKvBytes, " bytes and only ", remaining(), " bytes follow the header"));
  }
  if (*num_tensors > remaining() / kMinTensorInfoBytes) {
    return bad(cat("tensor count ", *num_tensors,
                   " is impossible: each tensor info needs at least ", kMinTensorInfoBytes,
                   " bytes and only ", remaining(), " bytes follow the header"));
  }
  return {};
}

template <class Describe>
Result<std::string> Parser::read_string(const Describe& describe) {
  uint64_t length = 0;
  if (!take(&length)) return truncated(cat("the length of ", describe()), 8);
  if (length > remaining()) {
    return bad(cat(describe(), " has length ", length, " at offset ", pos_ - 8,
                   ", past the end of the file (only ", remaining(), " bytes remain)"));
  }
  std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), length);
  pos_ += length;
  return s;
}

Status Parser::read_metadata(uint64_t num_kvs) {
  auto& metadata = file_.metadata_;
  metadata.reserve(std::min(num_kvs, kMaxReserve));
  for (uint64_t i = 0; i < num_kvs; ++i) {
    key_ = {};
    index_path_.clear();
    TK_ASSIGN(std::string key, read_string([&] { return cat("the key of metadata entry ", i); }));
    metadata.emplace_back(std::move(key), Value());
    key_ = metadata.back().first;
    uint32_t raw_type = 0;
    if (!take(&raw_type)) return truncated(cat("the value type of key ", key_), 4);
    TK_ASSIGN(metadata.back().second, read_value(raw_type, 0));
  }
  key_ = {};
  auto& index = file_.metadata_index_;
  index.reserve(metadata.size());
  for (size_t i = 0; i < metadata.size(); ++i) {
    auto [it, inserted] = index.emplace(metadata[i].first, i);
    if (!inserted) {
      return bad(cat("duplicate metadata key ", metadata[i].first, " (entries ", it->second,
                     " and ", i, ")"));
    }
  }
  return {};
}

Result<Value> Parser::read_value(uint32_t raw_type, int depth) {
  if (raw_type >= kNumValueTypes) {
    return bad(cat(describe_value(), " has unknown value type ", raw_type, " at offset ", pos_ - 4,
                   " (known types are 0 to 12)"));
  }
  const auto type = static_cast<ValueType>(raw_type);
  const auto what = [&] {
    return cat("the ", value_type_name(type), " value of ", describe_value());
  };
  switch (type) {
#define TK_GGUF_SCALAR(TYPE, CTYPE, MAKE)                   \
  case ValueType::TYPE: {                                   \
    CTYPE v;                                                \
    if (!take(&v)) return truncated(what(), sizeof(CTYPE)); \
    return Value::MAKE(v);                                  \
  }
    TK_GGUF_SCALAR(UInt8, uint8_t, u8)
    TK_GGUF_SCALAR(Int8, int8_t, i8)
    TK_GGUF_SCALAR(UInt16, uint16_t, u16)
    TK_GGUF_SCALAR(Int16, int16_t, i16)
    TK_GGUF_SCALAR(UInt32, uint32_t, u32)
    TK_GGUF_SCALAR(Int32, int32_t, i32)
    TK_GGUF_SCALAR(UInt64, uint64_t, u64)
    TK_GGUF_SCALAR(Int64, int64_t, i64)
    TK_GGUF_SCALAR(Float32, float, f32)
    TK_GGUF_SCALAR(Float64, double, f64)
#undef TK_GGUF_SCALAR
    case ValueType::Bool: {
      uint8_t v;
      if (!take(&v)) return truncated(what(), 1);
      return Value::boolean(v != 0);
    }
    case ValueType::String: {
      TK_ASSIGN(std::string s,
                read_string([&] { return cat("the string value of ", describe_value()); }));
      return Value::string(std::move(s));
    }
    case ValueType::Array:
      return read_array(depth + 1);
  }
  return bad("unreachable value type");
}

Result<Value> Parser::read_array(int depth) {
  if (depth > kMaxArrayDepth) {
    return bad(cat(describe_value(), " has arrays nested more than ", kMaxArrayDepth,
                   " deep at offset ", pos_));
  }
  uint32_t raw_elem = 0;
  if (!take(&raw_elem)) return truncated(cat("the element type of array ", describe_value()), 4);
  if (raw_elem >= kNumValueTypes) {
    return bad(cat("array ", describe_value(), " has unknown element type ", raw_elem,
                   " at offset ", pos_ - 4, " (known types are 0 to 12)"));
  }
  const auto elem = static_cast<ValueType>(raw_elem);
  uint64_t count = 0;
  if (!take(&count)) return truncated(cat("the length of array ", describe_value()), 8);
  const uint64_t min_bytes = min_item_bytes(elem);
  if (count > remaining() / min_bytes) {
    return bad(cat("array ", describe_value(), " has length ", count, " (", type_name(raw_elem),
                   " items) at offset ", pos_ - 8, ", past the end of the file (only ", remaining(),
                   " bytes remain, each item needs at least ", min_bytes, ")"));
  }
  Array array{elem, {}};
  array.items.reserve(std::min(count, kMaxReserve));
  index_path_.push_back(0);
  if (elem == ValueType::String) {
    TK_TRY(read_string_items(count, array.items));
  } else if (elem != ValueType::Array) {
    read_scalar_items(elem, count, array.items);
  } else {
    for (uint64_t i = 0; i < count; ++i) {
      index_path_.back() = i;
      TK_ASSIGN(Value item, read_value(raw_elem, depth));
      array.items.push_back(std::move(item));
    }
  }
  index_path_.pop_back();
  return Value::array(std::move(array));
}

// The common case of large arrays (vocabularies, merges): strings read in a
// tight loop, with the same checks and messages as read_string().
Status Parser::read_string_items(uint64_t count, std::vector<Value>& items) {
  for (uint64_t i = 0; i < count; ++i) {
    index_path_.back() = i;
    uint64_t length = 0;
    if (!take(&length)) {
      return truncated(cat("the length of the string value of ", describe_value()), 8);
    }
    if (length > remaining()) {
      return bad(cat("the string value of ", describe_value(), " has length ", length,
                     " at offset ", pos_ - 8, ", past the end of the file (only ", remaining(),
                     " bytes remain)"));
    }
    items.push_back(
        Value::string(std::string(reinterpret_cast<const char*>(bytes_.data() + pos_), length)));
    pos_ += length;
  }
  return {};
}

// Arrays of numbers: the length check in read_array() already covers every
// item (count * item size <= remaining), so no per-item checks are needed.
void Parser::read_scalar_items(ValueType elem, uint64_t count, std::vector<Value>& items) {
  const auto read_all = [&]<class T>(T, Value (*make)(T)) {
    for (uint64_t i = 0; i < count; ++i) {
      T v;
      std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
      pos_ += sizeof(T);
      items.push_back(make(v));
    }
  };
  switch (elem) {
    case ValueType::UInt8:
      return read_all(uint8_t{}, &Value::u8);
    case ValueType::Int8:
      return read_all(int8_t{}, &Value::i8);
    case ValueType::UInt16:
      return read_all(uint16_t{}, &Value::u16);
    case ValueType::Int16:
      return read_all(int16_t{}, &Value::i16);
    case ValueType::UInt32:
      return read_all(uint32_t{}, &Value::u32);
    case ValueType::Int32:
      return read_all(int32_t{}, &Value::i32);
    case ValueType::UInt64:
      return read_all(uint64_t{}, &Value::u64);
    case ValueType::Int64:
      return read_all(int64_t{}, &Value::i64);
    case ValueType::Float32:
      return read_all(float{}, &Value::f32);
    case ValueType::Float64:
      return read_all(double{}, &Value::f64);
    case ValueType::Bool:
      return read_all(
          uint8_t{}, +[](uint8_t v) { return Value::boolean(v != 0); });
    case ValueType::String:
    case ValueType::Array:
      break;  // not scalars
  }
}

Status Parser::read_alignment() {
  const Value* v = file_.find("general.alignment");
  if (v == nullptr) return {};
  if (v->type() != ValueType::UInt32) {
    return bad(cat("general.alignment has type ", value_type_name(v->type()), ", expected u32"));
  }
  const uint64_t alignment = *v->as_uint();
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    return bad(cat("general.alignment is ", alignment, ", expected a nonzero power of two"));
  }
  file_.alignment_ = alignment;
  return {};
}

Status Parser::read_tensor_info(uint64_t index, TensorInfo* info, uint32_t* raw_type) {
  TK_ASSIGN(info->name, read_string([&] { return cat("the name of tensor ", index); }));
  const std::string& name = info->name;
  uint32_t num_dims = 0;
  if (!take(&num_dims)) return truncated(cat("the dimension count of tensor ", name), 4);
  if (num_dims > kMaxDims) {
    return bad(cat("tensor ", name, " has ", num_dims, " dimensions, at most ", kMaxDims,
                   " are supported"));
  }
  info->dims.resize(num_dims);
  for (uint32_t d = 0; d < num_dims; ++d) {
    uint64_t raw = 0;
    if (!take(&raw)) return truncated(cat("dimension ", d, " of tensor ", name), 8);
    info->dims[d] = static_cast<int64_t>(raw);
  }
  for (uint32_t d = 0; d < num_dims; ++d) {
    if (info->dims[d] <= 0) {
      return bad(cat("tensor ", name, " has dimension ", d, " of size ", info->dims[d], " (shape ",
                     detail::shape_string(info->dims), "); every dimension must be at least 1"));
    }
  }
  if (!take(raw_type)) return truncated(cat("the type of tensor ", name), 4);
  if (!take(&info->offset)) return truncated(cat("the data offset of tensor ", name), 8);
  return {};
}

Status Parser::read_tensor_infos(uint64_t num_tensors) {
  auto& tensors = file_.tensors_;
  tensors.reserve(std::min(num_tensors, kMaxReserve));
  std::vector<uint32_t> raw_types;
  raw_types.reserve(tensors.capacity());
  for (uint64_t i = 0; i < num_tensors; ++i) {
    TensorInfo info;
    uint32_t raw_type = 0;
    TK_TRY(read_tensor_info(i, &info, &raw_type));
    tensors.push_back(std::move(info));
    raw_types.push_back(raw_type);
  }
  const uint64_t a = file_.alignment_;
  file_.data_offset_ = (pos_ + a - 1) / a * a;
  TK_TRY(check_duplicate_tensors());
  for (size_t i = 0; i < tensors.size(); ++i) TK_TRY(check_tensor(tensors[i], raw_types[i]));
  return {};
}

Status Parser::check_duplicate_tensors() {
  auto& index = file_.tensor_index_;
  const auto& tensors = file_.tensors_;
  index.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto [it, inserted] = index.emplace(tensors[i].name, i);
    if (!inserted) {
      return bad(cat("duplicate tensor name ", tensors[i].name, " (tensors ", it->second, " and ",
                     i, ")"));
    }
  }
  return {};
}

// Type, shape, size, alignment and bounds of one tensor; sets size_bytes and data.
Status Parser::check_tensor(TensorInfo& t, uint32_t raw_type) {
  const auto traits = tensor_type_traits(raw_type);
  if (!traits) return bad(cat("tensor ", t.name, " has unknown type ", raw_type));
  t.type = static_cast<TensorType>(raw_type);
  const std::string shape = detail::shape_string(t.dims);
  int64_t num_values = 1;
  for (int64_t d : t.dims) {
    if (__builtin_mul_overflow(num_values, d, &num_values)) {
      return bad(
          cat("tensor ", t.name, " has shape ", shape, " whose number of values overflows int64"));
    }
  }
  if (t.row_length() % traits->block_size != 0) {
    return bad(cat("tensor ", t.name, " of type ", traits->name, " has rows of ", t.row_length(),
                   " values (shape ", shape, "), not a multiple of the block size ",
                   traits->block_size));
  }
  uint64_t size_bytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(num_values / traits->block_size),
                             static_cast<uint64_t>(traits->type_size), &size_bytes)) {
    return bad(cat("tensor ", t.name, " of type ", traits->name, " and shape ", shape,
                   " is larger than 2^64 bytes"));
  }
  t.size_bytes = size_bytes;
  const uint64_t alignment = file_.alignment_;
  if (t.offset % alignment != 0) {
    return bad(cat("tensor ", t.name, " has data offset ", t.offset,
                   ", not a multiple of the alignment ", alignment));
  }
  using u128 = unsigned __int128;
  const u128 end = u128{file_.data_offset_} + t.offset + t.size_bytes;
  if (end > bytes_.size()) {
    return bad(cat("tensor ", t.name, " extends ", u128_to_string(end - bytes_.size()),
                   " bytes past the end of the file (", t.size_bytes, " bytes at offset ", t.offset,
                   " of the data section, which starts at ", file_.data_offset_, "; file is ",
                   bytes_.size(), " bytes)"));
  }
  t.data = bytes_.data() + file_.data_offset_ + t.offset;
  return {};
}

}  // namespace tokamak::gguf
