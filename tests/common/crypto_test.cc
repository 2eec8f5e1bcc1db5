#include "common/crypto.h"

#include <gtest/gtest.h>

namespace finops {
namespace {

TEST(Crypto, Sha256KnownVector) {
  EXPECT_EQ(toHex(sha256Bytes("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, Base64UrlHasNoPaddingAndUrlAlphabet) {
  EXPECT_EQ(base64Url(""), "");
  EXPECT_EQ(base64Url("f"), "Zg");
  EXPECT_EQ(base64Url("fo"), "Zm8");
  EXPECT_EQ(base64Url("foo"), "Zm9v");
  EXPECT_EQ(base64Url(std::string("\xfb\xff", 2)), "-_8");
}

TEST(Crypto, RandomBytesDiffer) {
  auto a = randomBytes(32), b = randomBytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
}

TEST(Crypto, ConstantTimeEqual) {
  EXPECT_TRUE(constantTimeEqual("abc", "abc"));
  EXPECT_FALSE(constantTimeEqual("abc", "abd"));
  EXPECT_FALSE(constantTimeEqual("abc", "abcd"));
}

TEST(Crypto, Base64DecodeBothAlphabetsWithOrWithoutPadding) {
  EXPECT_EQ(base64Decode(""), "");
  EXPECT_EQ(base64Decode("Zg"), "f");
  EXPECT_EQ(base64Decode("Zg=="), "f");
  EXPECT_EQ(base64Decode("Zm8="), "fo");
  EXPECT_EQ(base64Decode("Zm9v"), "foo");
  EXPECT_EQ(base64Decode("-_8"), std::string("\xfb\xff", 2));
  EXPECT_EQ(base64Decode("+/8="), std::string("\xfb\xff", 2));
  std::string bytes = randomBytes(32);
  EXPECT_EQ(base64Decode(base64Url(bytes)), bytes);
  EXPECT_FALSE(base64Decode("Zg="));    // padding that does not complete a quantum
  EXPECT_FALSE(base64Decode("Z"));      // impossible length
  EXPECT_FALSE(base64Decode("Zh"));     // non-zero leftover bits
  EXPECT_FALSE(base64Decode("Zm9v!"));  // not in either alphabet
  EXPECT_FALSE(base64Decode("+_8A"));   // alphabets mixed
  EXPECT_FALSE(base64Decode("Zm 9v"));
}

TEST(Crypto, FromHex) {
  EXPECT_EQ(fromHex("00ffAb"), std::string("\x00\xff\xab", 3));
  EXPECT_EQ(fromHex(toHex("hello")), "hello");
  EXPECT_FALSE(fromHex("abc"));
  EXPECT_FALSE(fromHex("zz"));
}

class AesGcmTest : public ::testing::Test {
 protected:
  std::string key_ = randomBytes(kAesGcmKeyBytes);
};

TEST_F(AesGcmTest, RoundTripWithFreshNonces) {
  std::string sealed = aesGcmSeal(key_, "sk-secret-value", "row-1");
  EXPECT_EQ(sealed.size(), kAesGcmNonceBytes + 15 + kAesGcmTagBytes);
  EXPECT_EQ(sealed.find("sk-secret-value"), std::string::npos);
  EXPECT_EQ(aesGcmOpen(key_, sealed, "row-1"), "sk-secret-value");
  // Same input twice: different nonces, so different outputs.
  std::string again = aesGcmSeal(key_, "sk-secret-value", "row-1");
  EXPECT_NE(sealed.substr(0, kAesGcmNonceBytes), again.substr(0, kAesGcmNonceBytes));
  EXPECT_NE(sealed, again);
  // Empty plaintext and empty associated data work too.
  EXPECT_EQ(aesGcmOpen(key_, aesGcmSeal(key_, "", ""), ""), "");
  std::string big(100000, 'x');
  EXPECT_EQ(aesGcmOpen(key_, aesGcmSeal(key_, big, ""), ""), big);
}

TEST_F(AesGcmTest, KnownAnswerFromTheGcmSpec) {
  // GCM spec (McGrew-Viega) test case 14: AES-256, zero key, zero 96-bit IV, one zero block. The
  // ciphertext and tag are fixed, so opening them proves the layout nonce | ciphertext | tag.
  std::string key(32, '\0');
  std::string sealed = std::string(12, '\0') + *fromHex("cea7403d4d606b6e074ec5d3baf39d18") +
                       *fromHex("d0d1c8a799996bf0265b98b5d48ab919");
  EXPECT_EQ(aesGcmOpen(key, sealed, ""), std::string(16, '\0'));
}

TEST_F(AesGcmTest, AnyTamperingFails) {
  std::string sealed = aesGcmSeal(key_, "sk-secret-value", "row-1");
  for (size_t i : {size_t{0}, size_t{11}, kAesGcmNonceBytes, sealed.size() - kAesGcmTagBytes,
                   sealed.size() - 1}) {
    std::string t = sealed;
    t[i] ^= 0x01;  // nonce, ciphertext, tag
    EXPECT_THROW(aesGcmOpen(key_, t, "row-1"), CryptoError) << "byte " << i;
  }
  EXPECT_THROW(aesGcmOpen(key_, sealed.substr(0, sealed.size() - 1), "row-1"), CryptoError);
  EXPECT_THROW(aesGcmOpen(key_, sealed + "x", "row-1"), CryptoError);
  EXPECT_THROW(aesGcmOpen(key_, sealed.substr(0, 27), "row-1"), CryptoError);
  EXPECT_THROW(aesGcmOpen(key_, "", "row-1"), CryptoError);
}

TEST_F(AesGcmTest, WrongKeyOrAssociatedDataFails) {
  std::string sealed = aesGcmSeal(key_, "sk-secret-value", "row-1");
  EXPECT_THROW(aesGcmOpen(randomBytes(32), sealed, "row-1"), CryptoError);
  EXPECT_THROW(aesGcmOpen(key_, sealed, "row-2"), CryptoError);
  EXPECT_THROW(aesGcmOpen(key_, sealed, ""), CryptoError);
  try {
    aesGcmOpen(key_, sealed, "row-2");
    FAIL();
  } catch (const CryptoError& e) {
    EXPECT_NE(std::string(e.what()).find("authentication failed"), std::string::npos) << e.what();
  }
}

TEST_F(AesGcmTest, KeyMustBe32Bytes) {
  EXPECT_THROW(aesGcmSeal(std::string(16, 'k'), "x", ""), CryptoError);
  EXPECT_THROW(aesGcmOpen(std::string(31, 'k'), std::string(40, '\0'), ""), CryptoError);
}

}  // namespace
}  // namespace finops
