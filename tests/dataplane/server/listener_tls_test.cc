#include "dataplane/server/listener_tls.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace finops::dp {
namespace {

struct KeyAndCert {
  std::string keyPem;
  std::string certPem;
  std::string encryptedKeyPem;
};

std::string bioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

// A self-signed P-256 certificate for `cn`, valid for `days`.
KeyAndCert makeCert(const char* cn, long serial, int days = 30) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), static_cast<long>(days) * 86400);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("FinOps Test"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  KeyAndCert out;
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  out.keyPem = bioText(b);
  b = BIO_new(BIO_s_mem());
  PEM_write_bio_PKCS8PrivateKey(b, key, EVP_aes_256_cbc(), const_cast<char*>("secret"), 6, nullptr,
                                nullptr);
  out.encryptedKeyPem = bioText(b);
  b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  out.certPem = bioText(b);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

// Runs a TLS handshake in memory between a server using `server` and a client limited to
// [minVersion, maxVersion] offering `alpn` (wire format). Returns true when both sides finish;
// fills the negotiated version and ALPN protocol.
bool handshake(boost::asio::ssl::context& server, int minVersion, int maxVersion,
               std::string_view alpnWire, std::string* version, std::string* alpn) {
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(cctx, minVersion);
  SSL_CTX_set_max_proto_version(cctx, maxVersion);
  SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_security_level(cctx, 0);  // let the client try old versions; the server decides
  if (!alpnWire.empty())
    SSL_CTX_set_alpn_protos(cctx, reinterpret_cast<const unsigned char*>(alpnWire.data()),
                            static_cast<unsigned>(alpnWire.size()));
  SSL* c = SSL_new(cctx);
  SSL* s = SSL_new(server.native_handle());
  BIO *cb = nullptr, *sb = nullptr;
  BIO_new_bio_pair(&cb, 0, &sb, 0);
  SSL_set_bio(c, cb, cb);
  SSL_set_bio(s, sb, sb);
  SSL_set_connect_state(c);
  SSL_set_accept_state(s);
  bool cdone = false, sdone = false, failed = false;
  for (int i = 0; i < 100 && !(cdone && sdone) && !failed; ++i) {
    if (!cdone) {
      int r = SSL_do_handshake(c);
      if (r == 1)
        cdone = true;
      else if (int e = SSL_get_error(c, r); e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        failed = true;
    }
    if (!sdone) {
      int r = SSL_do_handshake(s);
      if (r == 1)
        sdone = true;
      else if (int e = SSL_get_error(s, r); e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        failed = true;
    }
  }
  bool ok = cdone && sdone && !failed;
  if (ok) {
    *version = SSL_get_version(c);
    const unsigned char* p = nullptr;
    unsigned int n = 0;
    SSL_get0_alpn_selected(c, &p, &n);
    alpn->assign(reinterpret_cast<const char*>(p ? p : reinterpret_cast<const unsigned char*>("")),
                 n);
  }
  SSL_free(c);
  SSL_free(s);
  SSL_CTX_free(cctx);
  ERR_clear_error();
  return ok;
}

TEST(ListenerTlsContext, LoadsAndDescribesTheCertificate) {
  auto kc = makeCert("gateway.test", 7);
  CertificateInfo info;
  std::string error;
  auto ctx = makeListenerTlsContext(kc.certPem, kc.keyPem, "cert", "key", &info, &error);
  ASSERT_TRUE(ctx) << error;
  EXPECT_NE(info.subject.find("CN=gateway.test"), std::string::npos) << info.subject;
  EXPECT_NE(info.subject.find("O=FinOps Test"), std::string::npos) << info.subject;
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  EXPECT_NEAR(static_cast<double>(info.notAfterUnix), static_cast<double>(now + 30 * 86400), 120);
  EXPECT_EQ(info.notAfter.size(), 20u) << info.notAfter;  // 2026-01-31T12:00:00Z
  EXPECT_EQ(info.notAfter.back(), 'Z');
  EXPECT_EQ(info.sha256.size(), 32u * 3 - 1) << info.sha256;
}

TEST(ListenerTlsContext, RefusesBadInputWithAClearMessage) {
  auto a = makeCert("a.test", 1);
  auto b = makeCert("b.test", 2);
  std::string error;
  EXPECT_FALSE(makeListenerTlsContext(a.certPem, b.keyPem, "--tls-cert a.pem", "--tls-key b.pem",
                                      nullptr, &error));
  EXPECT_NE(error.find("does not belong to the certificate"), std::string::npos) << error;
  EXPECT_NE(error.find("b.pem"), std::string::npos) << error;

  error.clear();
  EXPECT_FALSE(makeListenerTlsContext("not a certificate", a.keyPem, "--tls-cert x.pem", "k",
                                      nullptr, &error));
  EXPECT_NE(error.find("x.pem"), std::string::npos) << error;

  error.clear();
  EXPECT_FALSE(makeListenerTlsContext(a.certPem, a.encryptedKeyPem, "c", "--tls-key enc.pem",
                                      nullptr, &error));
  EXPECT_NE(error.find("encrypted"), std::string::npos) << error;

  error.clear();
  EXPECT_FALSE(makeListenerTlsContext(a.certPem, "", "c", "--tls-key empty.pem", nullptr, &error));
  EXPECT_NE(error.find("empty.pem"), std::string::npos) << error;

  // A truncated certificate (a file caught half-written).
  error.clear();
  std::string half = a.certPem.substr(0, a.certPem.size() / 2);
  EXPECT_FALSE(makeListenerTlsContext(half, a.keyPem, "--tls-cert half.pem", "k", nullptr, &error));
  EXPECT_NE(error.find("half.pem"), std::string::npos) << error;
}

TEST(ListenerTlsContext, OnlyTls12AndUpWithAlpnHttp11) {
  auto kc = makeCert("gateway.test", 3);
  std::string error;
  auto ctx = makeListenerTlsContext(kc.certPem, kc.keyPem, "c", "k", nullptr, &error);
  ASSERT_TRUE(ctx) << error;
  std::string version, alpn;
  static constexpr char kH2H1[] = "\x02h2\x08http/1.1";
  ASSERT_TRUE(handshake(*ctx, TLS1_2_VERSION, TLS1_3_VERSION, std::string_view(kH2H1, 12), &version,
                        &alpn));
  EXPECT_EQ(version, "TLSv1.3");
  EXPECT_EQ(alpn, "http/1.1");  // never h2: the listener speaks HTTP/1.1
  ASSERT_TRUE(handshake(*ctx, TLS1_2_VERSION, TLS1_2_VERSION, "", &version, &alpn));
  EXPECT_EQ(version, "TLSv1.2");
  EXPECT_EQ(alpn, "");
  // A client that offers only h2 still connects (no ALPN), and one limited to TLS 1.1 does not.
  EXPECT_TRUE(handshake(*ctx, TLS1_2_VERSION, TLS1_3_VERSION, std::string_view("\x02h2", 3),
                        &version, &alpn));
  EXPECT_EQ(alpn, "");
  EXPECT_FALSE(handshake(*ctx, TLS1_VERSION, TLS1_1_VERSION, "", &version, &alpn));
}

class ListenerTlsFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("finops-listener-tls-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    cert_ = (dir_ / "tls.crt").string();
    key_ = (dir_ / "tls.key").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Replaces a file the way Kubernetes and editors do: write elsewhere, rename over.
  void put(const std::string& path, const std::string& text) {
    std::string tmp = path + ".tmp";
    std::ofstream(tmp, std::ios::binary) << text;
    std::filesystem::rename(tmp, path);
  }

  std::filesystem::path dir_;
  std::string cert_, key_;
};

TEST_F(ListenerTlsFiles, ReloadSwapsOnlyForAGoodPair) {
  auto first = makeCert("first.test", 10);
  put(cert_, first.certPem);
  put(key_, first.keyPem);
  ListenerTls tls(cert_, key_);
  std::string error;
  ASSERT_TRUE(tls.load(&error)) << error;
  auto ctx1 = tls.context();
  ASSERT_TRUE(ctx1);
  std::string fp1 = tls.certificate().sha256;
  EXPECT_GT(tls.notAfterUnix(), 0);

  // Nothing changed: no reload.
  tls.reloadIfChanged();
  EXPECT_EQ(tls.context(), ctx1);
  EXPECT_EQ(tls.reloads(), 0);

  // A new pair: picked up by the change check; the old context lives on for its holders.
  auto second = makeCert("second.test", 11);
  put(cert_, second.certPem);
  put(key_, second.keyPem);
  tls.reloadIfChanged();
  auto ctx2 = tls.context();
  EXPECT_NE(ctx2, ctx1);
  EXPECT_NE(tls.certificate().sha256, fp1);
  EXPECT_NE(tls.certificate().subject.find("second.test"), std::string::npos);
  EXPECT_EQ(tls.reloads(), 1);
  EXPECT_TRUE(SSL_CTX_get0_certificate(ctx1->native_handle()));  // still usable

  // A broken key: the second pair stays, the failure is counted once (not every check).
  put(key_, "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n");
  tls.reloadIfChanged();
  EXPECT_EQ(tls.context(), ctx2);
  EXPECT_EQ(tls.reloadFailures(), 1);
  tls.reloadIfChanged();
  EXPECT_EQ(tls.reloadFailures(), 1);
  // SIGHUP retries anyway.
  tls.reload("SIGHUP");
  EXPECT_EQ(tls.reloadFailures(), 2);
  EXPECT_EQ(tls.context(), ctx2);

  // A cert that does not match the key in place: refused too.
  auto third = makeCert("third.test", 12);
  put(key_, second.keyPem);
  put(cert_, third.certPem);
  tls.reloadIfChanged();
  EXPECT_EQ(tls.context(), ctx2);
  EXPECT_EQ(tls.reloadFailures(), 3);

  // Fixed: swapped in.
  put(key_, third.keyPem);
  tls.reloadIfChanged();
  EXPECT_NE(tls.context(), ctx2);
  EXPECT_NE(tls.certificate().subject.find("third.test"), std::string::npos);
  EXPECT_EQ(tls.reloads(), 2);
}

TEST_F(ListenerTlsFiles, MissingFilesFailTheFirstLoad) {
  ListenerTls tls(cert_, key_);
  std::string error;
  EXPECT_FALSE(tls.load(&error));
  EXPECT_NE(error.find(cert_), std::string::npos) << error;
  EXPECT_FALSE(tls.context());
}

TEST_F(ListenerTlsFiles, AFileOver1MiBIsNotReadAsPem) {
  auto pair = makeCert("big.test", 13);
  put(key_, pair.keyPem);
  // A real certificate followed by padding: refused by size before any parsing.
  put(cert_, pair.certPem + std::string(1024 * 1024, '\n'));
  ListenerTls tls(cert_, key_);
  std::string error;
  EXPECT_FALSE(tls.load(&error));
  EXPECT_NE(error.find(cert_ + ": larger than 1 MiB, not a PEM file"), std::string::npos) << error;
  EXPECT_FALSE(tls.context());
}

}  // namespace
}  // namespace finops::dp
