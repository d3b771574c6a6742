// SHA-256 against FIPS 180-4 vectors, and the model fingerprint against
// Python's gguf reader (data_offset) and hashlib on the shared test model:
//   r = gguf.GGUFReader(path); hashlib.sha256(open(path,'rb').read()[:r.data_offset])
#include <gtest/gtest.h>

#include <filesystem>

#include "aidreams.h"
#include "store/model_fingerprint.h"
#include "store/sha256.h"
#include "store_test_util.h"

namespace tokamak {
namespace {

TEST(Sha256, MatchesTheFipsVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PiecewiseUpdatesEqualOneUpdate) {
  std::string text;
  for (int i = 0; i < 300; ++i) text += static_cast<char>(i * 7 + 3);
  for (size_t split : {0, 1, 55, 56, 63, 64, 65, 128, 299}) {
    Sha256 h;
    h.update(std::string_view(text).substr(0, split));
    h.update(std::string_view(text).substr(split));
    const auto digest = h.finish();
    Sha256 whole;
    whole.update(text);
    EXPECT_EQ(digest, whole.finish()) << split;
  }
}

TEST(ModelFingerprint, HashesTheHeaderAsPythonGgufAndHashlibDo) {
  auto f = fingerprint_model(test::kAidreamsGguf);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(f->path, test::kAidreamsGguf);
  EXPECT_EQ(f->size_bytes, 1068640);
  EXPECT_EQ(f->header_sha256, "e5ffcfbfc848af556b7ee860dbeaa755386ab193cdbff2d9767a89940d6fe33a");
  // A file already open (what the app has after loading the model) gives the same.
  auto open = gguf::File::open(test::kAidreamsGguf);
  ASSERT_TRUE(open.ok()) << open.error().message;
  const ModelFingerprint same = fingerprint_model(**open, test::kAidreamsGguf);
  EXPECT_EQ(same.header_sha256, f->header_sha256);
  EXPECT_EQ(same.size_bytes, f->size_bytes);
}

TEST(ModelFingerprint, ACopyKeepsItAChangedTensorDataKeepsItAChangedHeaderDoesNot) {
  const std::string dir = test::fresh_dir("fingerprint");
  std::string bytes = test::read_bytes(test::kAidreamsGguf);
  const std::string copy = dir + "/renamed.gguf";
  test::write_bytes(copy, bytes);
  const std::string original = fingerprint_model(test::kAidreamsGguf)->header_sha256;
  EXPECT_EQ(fingerprint_model(copy)->header_sha256, original);
  bytes[bytes.size() - 1] ^= 1;  // a weight: the header is the same
  test::write_bytes(copy, bytes);
  EXPECT_EQ(fingerprint_model(copy)->header_sha256, original);
  const size_t name_at = bytes.find("llama");  // the architecture's value in the metadata
  ASSERT_NE(name_at, std::string::npos);
  bytes[name_at] = 'L';
  test::write_bytes(copy, bytes);
  auto changed = fingerprint_model(copy);
  if (changed.ok()) {
    EXPECT_NE(changed->header_sha256, original);
  }
  auto missing = fingerprint_model(dir + "/missing.gguf");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("missing.gguf"), std::string::npos);
}

}  // namespace
}  // namespace tokamak
