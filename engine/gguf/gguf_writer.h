// Writing GGUF files (version 3 by default; 2 on request, for tests).
// Tensor data is produced at write time by a fill callback, so a 13 GB model
// never has to sit in memory. The file is written to "<path>.tmp" and renamed
// into place only when complete: a failed write leaves no half file behind.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/tensor_type.h"
#include "gguf/gguf_value.h"

namespace tokamak::gguf {

class Writer {
 public:
  // fill(out) must write exactly out.size() bytes.
  using FillFn = std::function<Status(std::span<uint8_t> out)>;

  explicit Writer(uint32_t version = 3, uint64_t alignment = 32);

  // Adds or replaces a key (order of first insertion is kept).
  void set(std::string key, Value value);
  void remove(std::string_view key);
  const Value* find(std::string_view key) const;

  // dims[0] is the row length. Precondition: dims[0] is a multiple of the
  // type's block size. Names must be unique (checked at write()).
  void add_tensor(std::string name, std::vector<int64_t> dims, TensorType type, FillFn fill);
  void add_tensor(std::string name, std::vector<int64_t> dims, TensorType type,
                  std::vector<uint8_t> data);
  size_t num_tensors() const { return tensors_.size(); }

  // Validates (InvalidArgument, "<path>: duplicate tensor name x", "<path>:
  // tensor q of type Q4_0 has rows of 48 values, not a multiple of the block
  // size 32", a general.alignment that disagrees with `alignment`, array items
  // of the wrong type, ...), then writes. Alignments other than 32 add the key
  // general.alignment (u32). A failed fill keeps the callback's error code:
  // "<path>: filling tensor t failed: <its message>". I/O failures are
  // IoError: "<path>: cannot write <path>.tmp after 65536 bytes: No space left
  // on device". On any failure "<path>.tmp" is removed and <path> untouched.
  Status write(const std::string& path) const;
  // The whole file in memory (tests, fuzz seeds).
  Result<std::vector<uint8_t>> write_to_memory() const;

 private:
  struct PendingTensor {
    std::string name;
    std::vector<int64_t> dims;
    TensorType type;
    FillFn fill;
  };
  // The encoded header (padded to the alignment) and each tensor's byte size.
  struct Layout {
    std::vector<uint8_t> header;
    std::vector<uint64_t> tensor_bytes;
  };
  // Validates everything and encodes the header; `path` names the output in messages.
  Result<Layout> plan(const std::string& path) const;
  Result<uint64_t> tensor_size(const PendingTensor& t, const std::string& path) const;
  Status fill_tensor(const PendingTensor& t, std::span<uint8_t> out, const std::string& path) const;
  Status write_contents(int fd, const Layout& layout, const std::string& path,
                        const std::string& tmp_path) const;

  uint32_t version_;
  uint64_t alignment_;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace tokamak::gguf
