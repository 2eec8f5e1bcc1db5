// Vertex AI service-account tokens: the RS256 JWT assertion verifies with the account's
// public key and carries the claims the token endpoint checks.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <nlohmann/json.hpp>

#include "dataplane/upstream/google_auth.h"

namespace finops::dp::upstream {
namespace {

using nlohmann::json;

struct KeyPair {
  std::string privatePem;
  EVP_PKEY* key = nullptr;
  ~KeyPair() { EVP_PKEY_free(key); }
};

void makeKey(KeyPair& kp) {
  kp.key = EVP_RSA_gen(2048);
  ASSERT_NE(kp.key, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio, kp.key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  kp.privatePem.assign(data, static_cast<size_t>(n));
  BIO_free(bio);
}

std::string unbase64Url(std::string s) {
  for (auto& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (s.size() % 4) s.push_back('=');
  std::string out(s.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(n - (s.ends_with("==") ? 2 : s.ends_with("=") ? 1 : 0));
  return out;
}

bool verify(EVP_PKEY* key, std::string_view data, const std::string& sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

TEST(GoogleAuth, ParsesAServiceAccount) {
  std::string err;
  auto sa = parseServiceAccount(
      R"({"type":"service_account","client_email":"a@p.iam.gserviceaccount.com","private_key":"PEM","private_key_id":"k1","token_uri":"https://oauth2.googleapis.com/token"})",
      &err);
  ASSERT_TRUE(sa) << err;
  EXPECT_EQ(sa->clientEmail, "a@p.iam.gserviceaccount.com");
  EXPECT_EQ(sa->privateKeyId, "k1");
  EXPECT_EQ(sa->tokenUri, "https://oauth2.googleapis.com/token");
  EXPECT_FALSE(parseServiceAccount(R"({"client_email":"a"})", &err));
  EXPECT_FALSE(parseServiceAccount("not json", &err));
}

TEST(GoogleAuth, AssertionIsSignedRs256WithTheExpectedClaims) {
  KeyPair kp;
  makeKey(kp);
  ServiceAccount sa{"svc@proj.iam.gserviceaccount.com", kp.privatePem, "kid-1", ""};
  std::string err;
  std::string jwt = makeJwtAssertion(sa, "http://127.0.0.1:9/token", 1'700'000'000, &err);
  ASSERT_FALSE(jwt.empty()) << err;
  size_t d1 = jwt.find('.'), d2 = jwt.rfind('.');
  ASSERT_NE(d1, d2);
  json header = json::parse(unbase64Url(jwt.substr(0, d1)));
  json claims = json::parse(unbase64Url(jwt.substr(d1 + 1, d2 - d1 - 1)));
  EXPECT_EQ(header["alg"], "RS256");
  EXPECT_EQ(header["typ"], "JWT");
  EXPECT_EQ(header["kid"], "kid-1");
  EXPECT_EQ(claims["iss"], "svc@proj.iam.gserviceaccount.com");
  EXPECT_EQ(claims["aud"], "http://127.0.0.1:9/token");
  EXPECT_EQ(claims["scope"], "https://www.googleapis.com/auth/cloud-platform");
  EXPECT_EQ(claims["iat"], 1'700'000'000);
  EXPECT_EQ(claims["exp"], 1'700'003'600);
  std::string sig = unbase64Url(jwt.substr(d2 + 1));
  EXPECT_TRUE(verify(kp.key, jwt.substr(0, d2), sig));
  // A different key does not verify it.
  KeyPair other;
  makeKey(other);
  EXPECT_FALSE(verify(other.key, jwt.substr(0, d2), sig));
}

TEST(GoogleAuth, ABadKeyIsAnErrorNotACrash) {
  ServiceAccount sa{"svc@x", "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n", "", ""};
  std::string err;
  EXPECT_EQ(makeJwtAssertion(sa, "aud", 1, &err), "");
  EXPECT_NE(err.find("private_key"), std::string::npos) << err;
}

}  // namespace
}  // namespace finops::dp::upstream
