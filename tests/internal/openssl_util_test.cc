#include "internal/openssl_util.h"

#include "gtest/gtest.h"

namespace residency::internal {
namespace {

TEST(Sha256, KnownAnswers) {
  // FIPS 180-2 examples.
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, IncrementalMatchesOneShot) {
  Sha256Hasher h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(h.Finish(), Sha256("abc"));
}

TEST(OpenSsl, DrainNamesContext) {
  absl::Status s = DrainOpenSslErrors("loading key");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message().substr(0, 11), "loading key");
}

}  // namespace
}  // namespace residency::internal
