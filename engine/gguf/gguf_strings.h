// Internal helpers of the GGUF layer: building error messages.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace tokamak::gguf::detail {

inline void append(std::string& out, std::string_view s) { out += s; }
inline void append(std::string& out, const std::string& s) { out += s; }
inline void append(std::string& out, const char* s) { out += s; }
inline void append(std::string& out, char c) { out += c; }
template <class T>
requires std::is_integral_v<T>
void append(std::string& out, T v) { out += std::to_string(v); }

// cat("a", 1, "b") == "a1b": messages without a formatting library.
template <class... Args>
std::string cat(const Args&... args) {
  std::string out;
  (append(out, args), ...);
  return out;
}

// "[4096, 32000]": a tensor shape as written in messages.
inline std::string shape_string(std::span<const int64_t> dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(dims[i]);
  }
  return out + "]";
}

// Where a metadata value sits, for messages: "key general.name",
// "item 3 of key x", "item [0][2] of key x" (index_path: positions inside
// nested arrays, outermost first).
inline std::string value_position(std::string_view key, std::span<const uint64_t> index_path) {
  if (index_path.empty()) return cat("key ", key);
  std::string where = "item ";
  if (index_path.size() == 1) {
    where += std::to_string(index_path[0]);
  } else {
    for (uint64_t i : index_path) where += cat("[", i, "]");
  }
  return cat(where, " of key ", key);
}

}  // namespace tokamak::gguf::detail
