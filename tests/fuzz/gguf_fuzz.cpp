// libFuzzer target for the GGUF reader: any bytes either fail with a message
// naming the input, or give a File whose every value and tensor can be
// touched safely. A file that opens is also written back with the Writer and
// must re-open to the same thing (the reader and writer agree).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"

namespace tokamak::gguf {
namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "gguf_fuzz: %s\n", what);
  std::abort();
}

// Reads every accessor of a value; returns a checksum so nothing is optimised away.
uint64_t touch(const Value& v) {
  uint64_t sum = static_cast<uint64_t>(v.type());
  if (auto i = v.as_int()) sum += static_cast<uint64_t>(*i);
  if (auto u = v.as_uint()) sum += *u;
  if (auto f = v.as_float()) sum += (*f == *f) ? 1 : 2;
  if (auto b = v.as_bool()) sum += *b;
  if (const std::string* s = v.as_string()) {
    for (char c : *s) sum += static_cast<unsigned char>(c);
  }
  if (const Array* a = v.as_array()) {
    for (const Value& item : a->items) {
      if (item.type() != a->elem_type) fail("array item of the wrong type");
      sum += touch(item);
    }
  }
  sum += v.to_display_string().size();
  return sum;
}

uint64_t touch(const File& f) {
  uint64_t sum = f.version() + f.alignment() + f.data_offset();
  if (f.data_offset() % f.alignment() != 0) fail("data section not aligned");
  for (const auto& [key, value] : f.metadata()) {
    if (f.find(key) != &value) fail("find() does not return the entry");
    sum += touch(value);
    sum += f.get_int_or(key, 0).ok() + f.get_float_or(key, 0).ok() + f.get_bool_or(key, 0).ok();
    sum += f.get_string_or(key, "").ok();
    sum += f.get_array(key, ValueType::String).ok();
  }
  for (const TensorInfo& t : f.tensors()) {
    if (f.find_tensor(t.name) != &t) fail("find_tensor() does not return the tensor");
    if (t.num_values() != t.row_length() * t.num_rows()) fail("shape helpers disagree");
    if (t.data < f.bytes().data() + f.data_offset() ||
        t.data + t.size_bytes > f.bytes().data() + f.file_size()) {
      fail("tensor data out of bounds");
    }
    if (t.offset % f.alignment() != 0) fail("tensor offset not aligned");
    for (uint64_t i = 0; i < t.size_bytes; ++i) sum += t.data[i];
  }
  return sum;
}

// Writes the file's contents again with the Writer.
std::vector<uint8_t> rewrite(const File& f) {
  Writer w(f.version(), f.alignment());
  for (const auto& [key, value] : f.metadata()) w.set(key, value);
  for (const TensorInfo& t : f.tensors()) {
    w.add_tensor(t.name, t.dims, t.type, std::vector<uint8_t>(t.data, t.data + t.size_bytes));
  }
  auto bytes = w.write_to_memory();
  if (!bytes.ok()) {
    std::fprintf(stderr, "%s\n", bytes.error().message.c_str());
    fail("the Writer refuses what the reader accepted");
  }
  return std::move(bytes).value();
}

}  // namespace
}  // namespace tokamak::gguf

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tokamak::gguf;
  auto file = File::from_memory({data, size}, "fuzz.gguf");
  if (!file.ok()) {
    if (file.error().message.rfind("fuzz.gguf: ", 0) != 0) fail("message does not name the input");
    return 0;
  }
  volatile uint64_t sink = touch(**file);
  (void)sink;
  const std::vector<uint8_t> once = rewrite(**file);
  auto again = File::from_memory(once, "rewritten.gguf");
  if (!again.ok()) {
    std::fprintf(stderr, "%s\n", again.error().message.c_str());
    fail("a file written by the Writer does not open");
  }
  if ((*again)->metadata().size() != (*file)->metadata().size()) fail("metadata count changed");
  if ((*again)->tensors().size() != (*file)->tensors().size()) fail("tensor count changed");
  if (rewrite(**again) != once) fail("writing is not idempotent");
  return 0;
}
