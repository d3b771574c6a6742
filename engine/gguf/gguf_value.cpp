#include "gguf/gguf_value.h"

#include <charconv>
#include <cstdio>
#include <limits>

namespace tokamak::gguf {
namespace {

// Shortest text that reads back to the same number (f32 values as floats:
// 1e-05, not 9.999999747378752e-06).
template <class T>
std::string number_to_string(T v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "?";
  return std::string(buf, end);
}

// "text" with quotes, control bytes escaped; long strings cut at 64 bytes.
std::string quoted(const std::string& s) {
  constexpr size_t kMaxBytes = 64;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMaxBytes; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += s.size() > kMaxBytes ? "\"..." : "\"";
  return out;
}

}  // namespace

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::UInt8:
      return "u8";
    case ValueType::Int8:
      return "i8";
    case ValueType::UInt16:
      return "u16";
    case ValueType::Int16:
      return "i16";
    case ValueType::UInt32:
      return "u32";
    case ValueType::Int32:
      return "i32";
    case ValueType::Float32:
      return "f32";
    case ValueType::Bool:
      return "bool";
    case ValueType::String:
      return "string";
    case ValueType::Array:
      return "array";
    case ValueType::UInt64:
      return "u64";
    case ValueType::Int64:
      return "i64";
    case ValueType::Float64:
      return "f64";
  }
  return "unknown";
}

bool operator==(const Array& a, const Array& b) {
  return a.elem_type == b.elem_type && a.items == b.items;
}

bool Value::operator==(const Value& other) const {
  return type_ == other.type_ && data_ == other.data_;
}

Value Value::string_array(const std::vector<std::string>& v) {
  Array a{ValueType::String, {}};
  a.items.reserve(v.size());
  for (const auto& s : v) a.items.push_back(Value::string(s));
  return Value::array(std::move(a));
}

Value Value::f32_array(const std::vector<float>& v) {
  Array a{ValueType::Float32, {}};
  a.items.reserve(v.size());
  for (float f : v) a.items.push_back(Value::f32(f));
  return Value::array(std::move(a));
}

Value Value::i32_array(const std::vector<int32_t>& v) {
  Array a{ValueType::Int32, {}};
  a.items.reserve(v.size());
  for (int32_t i : v) a.items.push_back(Value::i32(i));
  return Value::array(std::move(a));
}

bool Value::is_integer() const {
  switch (type_) {
    case ValueType::UInt8:
    case ValueType::Int8:
    case ValueType::UInt16:
    case ValueType::Int16:
    case ValueType::UInt32:
    case ValueType::Int32:
    case ValueType::UInt64:
    case ValueType::Int64:
      return true;
    default:
      return false;
  }
}

std::optional<int64_t> Value::as_int() const {
  if (const auto* u = std::get_if<uint64_t>(&data_)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&data_)) return *i;
  return std::nullopt;
}

std::optional<uint64_t> Value::as_uint() const {
  if (const auto* u = std::get_if<uint64_t>(&data_)) return *u;
  if (const auto* i = std::get_if<int64_t>(&data_)) {
    if (*i < 0) return std::nullopt;
    return static_cast<uint64_t>(*i);
  }
  return std::nullopt;
}

std::optional<double> Value::as_float() const {
  if (const auto* d = std::get_if<double>(&data_)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&data_)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&data_)) return static_cast<double>(*i);
  return std::nullopt;
}

std::optional<bool> Value::as_bool() const {
  if (const auto* b = std::get_if<bool>(&data_)) return *b;
  return std::nullopt;
}

const std::string* Value::as_string() const { return std::get_if<std::string>(&data_); }

const Array* Value::as_array() const { return std::get_if<Array>(&data_); }

std::string Value::to_display_string(size_t max_items) const {
  if (const auto* s = as_string()) return quoted(*s);
  if (const auto* b = std::get_if<bool>(&data_)) return *b ? "true" : "false";
  if (const auto* u = std::get_if<uint64_t>(&data_)) return std::to_string(*u);
  if (const auto* i = std::get_if<int64_t>(&data_)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&data_)) {
    return type_ == ValueType::Float32 ? number_to_string(static_cast<float>(*d))
                                       : number_to_string(*d);
  }
  const Array* a = as_array();
  if (a == nullptr) return "<empty>";
  if (a->items.size() > max_items) {
    const std::string n = std::to_string(a->items.size());
    if (a->elem_type == ValueType::String) return "[" + n + " strings]";
    if (a->elem_type == ValueType::Array) return "[" + n + " arrays]";
    return "[" + n + " x " + std::string(value_type_name(a->elem_type)) + "]";
  }
  std::string out = "[";
  for (size_t i = 0; i < a->items.size(); ++i) {
    if (i > 0) out += ", ";
    out += a->items[i].to_display_string(max_items);
  }
  return out + "]";
}

}  // namespace tokamak::gguf
