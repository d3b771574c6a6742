// A GGUF metadata value: one of the 13 GGUF value types, arrays nested to any
// depth. Values own their data (strings are copied out of the mapping).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tokamak::gguf {

// Numbered as in the GGUF specification (values on disk).
enum class ValueType : uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};

std::string_view value_type_name(ValueType type);

class Value;

struct Array {
  ValueType elem_type = ValueType::UInt8;
  std::vector<Value> items;
};
bool operator==(const Array& a, const Array& b);  // same element type and items

class Value {
 public:
  Value() = default;
  // Typed constructors: the GGUF type is explicit, never inferred.
  static Value u8(uint8_t v) { return Value(ValueType::UInt8, uint64_t{v}); }
  static Value i8(int8_t v) { return Value(ValueType::Int8, int64_t{v}); }
  static Value u16(uint16_t v) { return Value(ValueType::UInt16, uint64_t{v}); }
  static Value i16(int16_t v) { return Value(ValueType::Int16, int64_t{v}); }
  static Value u32(uint32_t v) { return Value(ValueType::UInt32, uint64_t{v}); }
  static Value i32(int32_t v) { return Value(ValueType::Int32, int64_t{v}); }
  static Value u64(uint64_t v) { return Value(ValueType::UInt64, v); }
  static Value i64(int64_t v) { return Value(ValueType::Int64, v); }
  static Value f32(float v) { return Value(ValueType::Float32, double{v}); }
  static Value f64(double v) { return Value(ValueType::Float64, v); }
  static Value boolean(bool v) { return Value(ValueType::Bool, v); }
  static Value string(std::string v) { return Value(ValueType::String, std::move(v)); }
  static Value array(Array a) { return Value(ValueType::Array, std::move(a)); }
  static Value string_array(const std::vector<std::string>& v);
  static Value f32_array(const std::vector<float>& v);
  static Value i32_array(const std::vector<int32_t>& v);

  // Same type and same value (floats compare as numbers: NaN != NaN).
  bool operator==(const Value& other) const;

  ValueType type() const { return type_; }
  bool is_integer() const;  // any of the 8 integer types
  bool is_float() const { return type_ == ValueType::Float32 || type_ == ValueType::Float64; }

  // Checked accessors: nullopt/nullptr when the value is of another kind.
  std::optional<int64_t> as_int() const;    // integer types; u64 above INT64_MAX -> nullopt
  std::optional<uint64_t> as_uint() const;  // integer types >= 0
  std::optional<double> as_float() const;   // float and integer types
  std::optional<bool> as_bool() const;
  const std::string* as_string() const;
  const Array* as_array() const;

  // A short human-readable rendering ("[32000 strings]" for long arrays).
  std::string to_display_string(size_t max_items = 8) const;

 private:
  using Data = std::variant<std::monostate, uint64_t, int64_t, double, bool, std::string, Array>;
  Value(ValueType type, Data data) : type_(type), data_(std::move(data)) {}

  ValueType type_ = ValueType::UInt8;
  Data data_;
};

}  // namespace tokamak::gguf
