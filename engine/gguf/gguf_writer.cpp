#include "gguf/gguf_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <memory>
#include <new>
#include <unordered_set>

#include "gguf/gguf_file.h"
#include "gguf/gguf_parser.h"
#include "gguf/gguf_strings.h"

namespace tokamak::gguf {
namespace {

using detail::cat;
using detail::value_position;
static_assert(std::endian::native == std::endian::little, "GGUF is written little-endian");

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

void put_string(std::vector<uint8_t>& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

uint64_t align_up(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

// Encodes metadata values (without their type tags) onto `out`; names the
// value being encoded in messages only when one is needed.
struct ValueEncoder {
  std::vector<uint8_t>& out;
  const std::string& path;
  std::string_view key;
  std::vector<uint64_t> index_path;  // position inside nested arrays

  std::string where() const { return value_position(key, index_path); }

  Error invalid(std::string_view problem) const {
    return make_error(ErrorCode::InvalidArgument, cat(path, ": ", where(), " ", problem));
  }

  Status encode(const Value& v, int depth);
  Status encode_array(const Array& a, int depth);
};

Status ValueEncoder::encode(const Value& v, int depth) {
  switch (v.type()) {
#define TK_GGUF_PUT(TYPE, CTYPE, GET)         \
  case ValueType::TYPE: {                     \
    auto x = v.GET();                         \
    if (!x) return invalid("holds no value"); \
    put<CTYPE>(out, static_cast<CTYPE>(*x));  \
    return {};                                \
  }
    TK_GGUF_PUT(UInt8, uint8_t, as_uint)
    TK_GGUF_PUT(UInt16, uint16_t, as_uint)
    TK_GGUF_PUT(UInt32, uint32_t, as_uint)
    TK_GGUF_PUT(UInt64, uint64_t, as_uint)
    TK_GGUF_PUT(Int8, int8_t, as_int)  // signed values are stored signed: as_int never refuses
    TK_GGUF_PUT(Int16, int16_t, as_int)
    TK_GGUF_PUT(Int32, int32_t, as_int)
    TK_GGUF_PUT(Int64, int64_t, as_int)
    TK_GGUF_PUT(Float32, float, as_float)
    TK_GGUF_PUT(Float64, double, as_float)
#undef TK_GGUF_PUT
    case ValueType::Bool: {
      auto b = v.as_bool();
      if (!b) return invalid("holds no value");
      put<uint8_t>(out, *b ? 1 : 0);
      return {};
    }
    case ValueType::String: {
      const std::string* s = v.as_string();
      if (s == nullptr) return invalid("holds no value");
      put_string(out, *s);
      return {};
    }
    case ValueType::Array: {
      const Array* a = v.as_array();
      if (a == nullptr) return invalid("holds no value");
      return encode_array(*a, depth);
    }
  }
  return invalid(cat("has unknown value type ", static_cast<uint32_t>(v.type())));
}

Status ValueEncoder::encode_array(const Array& a, int depth) {
  if (depth >= kMaxArrayDepth) {
    return invalid(cat("has arrays nested more than ", kMaxArrayDepth, " deep"));
  }
  put<uint32_t>(out, static_cast<uint32_t>(a.elem_type));
  put<uint64_t>(out, a.items.size());
  index_path.push_back(0);
  for (size_t i = 0; i < a.items.size(); ++i) {
    index_path.back() = i;
    const Value& item = a.items[i];
    if (item.type() != a.elem_type) {
      return invalid(cat("has type ", value_type_name(item.type()), ", but the array holds ",
                         value_type_name(a.elem_type)));
    }
    TK_TRY(encode(item, depth + 1));
  }
  index_path.pop_back();
  return {};
}

// Writes all of `data` to fd, retrying short writes.
Status write_all(int fd, const uint8_t* data, size_t size, const std::string& path,
                 const std::string& tmp_path, uint64_t* written) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = n < 0 ? errno : ENOSPC;
      return make_error(ErrorCode::IoError, cat(path, ": cannot write ", tmp_path, " after ",
                                                *written, " bytes: ", std::strerror(e)));
    }
    data += n;
    size -= static_cast<size_t>(n);
    *written += static_cast<uint64_t>(n);
  }
  return {};
}

}  // namespace

Writer::Writer(uint32_t version, uint64_t alignment) : version_(version), alignment_(alignment) {}

void Writer::set(std::string key, Value value) {
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(std::move(key), std::move(value));
}

void Writer::remove(std::string_view key) {
  std::erase_if(metadata_, [&](const auto& kv) { return kv.first == key; });
}

const Value* Writer::find(std::string_view key) const {
  for (const auto& [k, v] : metadata_)
    if (k == key) return &v;
  return nullptr;
}

void Writer::add_tensor(std::string name, std::vector<int64_t> dims, TensorType type, FillFn fill) {
  tensors_.push_back({std::move(name), std::move(dims), type, std::move(fill)});
}

void Writer::add_tensor(std::string name, std::vector<int64_t> dims, TensorType type,
                        std::vector<uint8_t> data) {
  auto bytes = std::make_shared<const std::vector<uint8_t>>(std::move(data));
  std::string tensor_name = name;
  FillFn fill = [bytes, tensor_name](std::span<uint8_t> out) -> Status {
    if (bytes->size() != out.size()) {
      return make_error(ErrorCode::InvalidArgument,
                        cat("tensor ", tensor_name, " was given ", bytes->size(),
                            " bytes of data, but its shape and type need ", out.size()));
    }
    std::memcpy(out.data(), bytes->data(), out.size());
    return {};
  };
  add_tensor(std::move(name), std::move(dims), type, std::move(fill));
}

Result<Writer::Layout> Writer::plan(const std::string& path) const {
  const auto invalid = [&](std::string message) {
    return make_error(ErrorCode::InvalidArgument, cat(path, ": ", message));
  };
  if (version_ != 2 && version_ != 3) {
    return invalid(cat("cannot write GGUF version ", version_, " (only 2 and 3)"));
  }
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0 || alignment_ > UINT32_MAX) {
    return invalid(cat("alignment ", alignment_, " is not a power of two that fits in u32"));
  }
  // The key general.alignment, added when the alignment is not the default.
  std::vector<std::pair<std::string, Value>> extra_storage;
  const auto& extra = extra_storage;
  if (const Value* a = find("general.alignment")) {
    if (*a != Value::u32(static_cast<uint32_t>(alignment_))) {
      return invalid(cat("general.alignment is ", a->to_display_string(), " of type ",
                         value_type_name(a->type()), " but the writer aligns to ", alignment_,
                         " (set it as u32 ", alignment_, " or leave it out)"));
    }
  } else if (alignment_ != kDefaultAlignment) {
    extra_storage.emplace_back("general.alignment", Value::u32(static_cast<uint32_t>(alignment_)));
  }

  Layout layout;
  std::vector<uint8_t>& h = layout.header;
  put<uint32_t>(h, kMagic);
  put<uint32_t>(h, version_);
  put<uint64_t>(h, tensors_.size());
  put<uint64_t>(h, metadata_.size() + extra.size());
  for (const auto* kvs : {&metadata_, &extra}) {
    for (const auto& [key, value] : *kvs) {
      put_string(h, key);
      put<uint32_t>(h, static_cast<uint32_t>(value.type()));
      ValueEncoder encoder{h, path, key, {}};
      TK_TRY(encoder.encode(value, 0));
    }
  }

  std::unordered_set<std::string_view> names;
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    if (!names.insert(t.name).second) return invalid(cat("duplicate tensor name ", t.name));
    TK_ASSIGN(uint64_t size_bytes, tensor_size(t, path));
    put_string(h, t.name);
    put<uint32_t>(h, static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) put<uint64_t>(h, static_cast<uint64_t>(d));
    put<uint32_t>(h, static_cast<uint32_t>(t.type));
    put<uint64_t>(h, offset);
    layout.tensor_bytes.push_back(size_bytes);
    offset = align_up(offset + size_bytes, alignment_);
  }
  h.resize(align_up(h.size(), alignment_), 0);
  return layout;
}

Result<uint64_t> Writer::tensor_size(const PendingTensor& t, const std::string& path) const {
  const auto invalid = [&](std::string message) {
    return make_error(ErrorCode::InvalidArgument, cat(path, ": tensor ", t.name, " ", message));
  };
  const auto traits = tensor_type_traits(static_cast<uint32_t>(t.type));
  if (!traits) return invalid(cat("has unknown type ", static_cast<uint32_t>(t.type)));
  if (t.dims.size() > kMaxDims) {
    return invalid(cat("has ", t.dims.size(), " dimensions, at most ", kMaxDims, " are supported"));
  }
  int64_t num_values = 1;
  for (int64_t d : t.dims) {
    if (d < 1)
      return invalid(
          cat("has shape ", detail::shape_string(t.dims), "; every dimension must be at least 1"));
    if (__builtin_mul_overflow(num_values, d, &num_values)) {
      return invalid(cat("has shape ", detail::shape_string(t.dims), " of more than 2^63 values"));
    }
  }
  const int64_t row = t.dims.empty() ? 1 : t.dims[0];
  if (row % traits->block_size != 0) {
    return invalid(cat("of type ", traits->name, " has rows of ", row,
                       " values, not a multiple of the block size ", traits->block_size));
  }
  uint64_t size_bytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(num_values / traits->block_size),
                             static_cast<uint64_t>(traits->type_size), &size_bytes) ||
      size_bytes > (uint64_t{1} << 62)) {
    return invalid(cat("of shape ", detail::shape_string(t.dims), " is too large"));
  }
  return size_bytes;
}

Status Writer::fill_tensor(const PendingTensor& t, std::span<uint8_t> out,
                           const std::string& path) const {
  Status status;
  try {
    status =
        t.fill ? t.fill(out) : Status(make_error(ErrorCode::InvalidArgument, "no fill function"));
  } catch (const std::exception& e) {
    status = make_error(ErrorCode::Internal, cat("exception: ", e.what()));
  }
  if (status.ok()) return {};
  Error error = status.take_error();
  error.message = cat(path, ": filling tensor ", t.name, " failed: ", error.message);
  return error;
}

Result<std::vector<uint8_t>> Writer::write_to_memory() const {
  const std::string path = "<memory>";
  try {
    TK_ASSIGN(Layout layout, plan(path));
    std::vector<uint8_t> out = std::move(layout.header);
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const size_t start = out.size();
      out.resize(start + layout.tensor_bytes[i], 0);
      TK_TRY(fill_tensor(tensors_[i], {out.data() + start, layout.tensor_bytes[i]}, path));
      out.resize(align_up(out.size(), alignment_), 0);
    }
    return out;
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::OutOfMemory, cat(path, ": out of memory writing a GGUF file"));
  }
}

Status Writer::write(const std::string& path) const {
  const std::string tmp_path = path + ".tmp";
  TK_ASSIGN(Layout layout, plan(path));
  const int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return make_error(ErrorCode::IoError,
                      cat(path, ": cannot create ", tmp_path, ": ", std::strerror(errno)));
  }
  Status status = write_contents(fd, layout, path, tmp_path);
  if (status.ok() && ::fsync(fd) != 0) {
    status = make_error(ErrorCode::IoError,
                        cat(path, ": cannot flush ", tmp_path, ": ", std::strerror(errno)));
  }
  if (::close(fd) != 0 && status.ok()) {
    status = make_error(ErrorCode::IoError,
                        cat(path, ": cannot close ", tmp_path, ": ", std::strerror(errno)));
  }
  if (status.ok() && std::rename(tmp_path.c_str(), path.c_str()) != 0) {
    status = make_error(ErrorCode::IoError, cat(path, ": cannot rename ", tmp_path, " to ", path,
                                                ": ", std::strerror(errno)));
  }
  if (!status.ok()) ::unlink(tmp_path.c_str());
  return status;
}

Status Writer::write_contents(int fd, const Layout& layout, const std::string& path,
                              const std::string& tmp_path) const {
  uint64_t written = 0;
  TK_TRY(write_all(fd, layout.header.data(), layout.header.size(), path, tmp_path, &written));
  std::vector<uint8_t> buffer;
  const std::vector<uint8_t> zeros(alignment_, 0);
  try {
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const uint64_t size = layout.tensor_bytes[i];
      buffer.assign(size, 0);
      TK_TRY(fill_tensor(tensors_[i], buffer, path));
      TK_TRY(write_all(fd, buffer.data(), size, path, tmp_path, &written));
      const uint64_t padding = align_up(size, alignment_) - size;
      TK_TRY(write_all(fd, zeros.data(), padding, path, tmp_path, &written));
    }
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::OutOfMemory,
                      cat(path, ": out of memory for a tensor buffer while writing ", tmp_path));
  }
  return {};
}

}  // namespace tokamak::gguf
