#include "gguf/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gguf/gguf_parser.h"
#include "gguf/gguf_strings.h"

namespace tokamak::gguf {
namespace {

using detail::cat;

// "string", "u32", "array of string".
std::string describe_type(const Value& v) {
  if (const Array* a = v.as_array()) return cat("array of ", value_type_name(a->elem_type));
  return std::string(value_type_name(v.type()));
}

}  // namespace

int64_t TensorInfo::num_values() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

int64_t TensorInfo::num_rows() const {
  int64_t n = 1;
  for (size_t i = 1; i < dims.size(); ++i) n *= dims[i];
  return n;
}

File::~File() {
  if (map_ != nullptr) munmap(map_, map_size_);
}

Result<std::unique_ptr<File>> File::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return make_error(e == ENOENT ? ErrorCode::NotFound : ErrorCode::IoError,
                      cat(path, ": cannot open: ", std::strerror(e)));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return make_error(ErrorCode::IoError, cat(path, ": cannot stat: ", std::strerror(e)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(ErrorCode::IoError, cat(path, ": not a regular file"));
  }
  std::unique_ptr<File> file(new File());
  file->path_ = path;
  const auto size = static_cast<size_t>(st.st_size);
  if (size > 0) {
    void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      return make_error(ErrorCode::IoError,
                        cat(path, ": cannot map ", size, " bytes: ", std::strerror(e)));
    }
    file->map_ = map;
    file->map_size_ = size;
    file->bytes_ = {static_cast<const uint8_t*>(map), size};
  }
  ::close(fd);  // the mapping stays valid
  TK_TRY(Parser::parse(*file));
  return file;
}

Result<std::unique_ptr<File>> File::from_memory(std::span<const uint8_t> bytes, std::string name) {
  std::unique_ptr<File> file(new File());
  file->path_ = std::move(name);
  file->bytes_ = bytes;
  TK_TRY(Parser::parse(*file));
  return file;
}

const Value* File::find(std::string_view key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

Error missing(const std::string& path, std::string_view key) {
  return make_error(ErrorCode::NotFound, cat(path, ": key ", key, " not found"));
}

Error wrong_type(const std::string& path, std::string_view key, const Value& v,
                 std::string_view expected) {
  return make_error(ErrorCode::BadFormat, cat(path, ": key ", key, " has type ", describe_type(v),
                                              ", expected ", expected));
}

Result<int64_t> to_int(const std::string& path, std::string_view key, const Value& v) {
  if (!v.is_integer()) return wrong_type(path, key, v, "an integer");
  if (auto i = v.as_int()) return *i;
  return make_error(ErrorCode::BadFormat, cat(path, ": key ", key, " has value ", *v.as_uint(),
                                              ", which does not fit in a signed 64-bit integer"));
}

Result<double> to_float(const std::string& path, std::string_view key, const Value& v) {
  if (!v.is_float() && !v.is_integer()) return wrong_type(path, key, v, "a number");
  return *v.as_float();
}

Result<std::string> to_string(const std::string& path, std::string_view key, const Value& v) {
  if (const std::string* s = v.as_string()) return *s;
  return wrong_type(path, key, v, "a string");
}

}  // namespace

Result<int64_t> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return missing(path_, key);
  return to_int(path_, key, *v);
}

Result<double> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return missing(path_, key);
  return to_float(path_, key, *v);
}

Result<std::string> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return missing(path_, key);
  return to_string(path_, key, *v);
}

Result<int64_t> File::get_int_or(std::string_view key, int64_t fallback) const {
  const Value* v = find(key);
  if (v == nullptr) return fallback;
  return to_int(path_, key, *v);
}

Result<double> File::get_float_or(std::string_view key, double fallback) const {
  const Value* v = find(key);
  if (v == nullptr) return fallback;
  return to_float(path_, key, *v);
}

Result<bool> File::get_bool_or(std::string_view key, bool fallback) const {
  const Value* v = find(key);
  if (v == nullptr) return fallback;
  if (auto b = v->as_bool()) return *b;
  return wrong_type(path_, key, *v, "a bool");
}

Result<std::string> File::get_string_or(std::string_view key, std::string fallback) const {
  const Value* v = find(key);
  if (v == nullptr) return fallback;
  return to_string(path_, key, *v);
}

Result<const Array*> File::get_array(std::string_view key, ValueType elem_type) const {
  const Value* v = find(key);
  if (v == nullptr) return missing(path_, key);
  const Array* a = v->as_array();
  if (a == nullptr || a->elem_type != elem_type) {
    return wrong_type(path_, key, *v, cat("an array of ", value_type_name(elem_type)));
  }
  return a;
}

}  // namespace tokamak::gguf
