#include "common/grpc_tls.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "common/crypto.h"
#include "finops/v1/usage.grpc.pb.h"

namespace finops {
namespace {

// ---- test certificates, made with OpenSSL's API (no openssl CLI needed) ----------------------

struct Pki {
  std::string keyPem;
  std::string certPem;
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  Pki() = default;
  Pki(const Pki&) = delete;
  Pki& operator=(const Pki&) = delete;
  ~Pki() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

void addExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

std::string pemOf(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string pemOf(EVP_PKEY* key, const char* passphrase = nullptr) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (passphrase)
    PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                  const_cast<char*>(passphrase));
  else
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

// A P-256 key and a certificate for `cn`, signed by `issuer` (self-signed when null).
// kind: "ca", "server" (SAN localhost + 127.0.0.1) or "client".
void makeCert(Pki& out, const std::string& cn, const std::string& kind, const Pki* issuer) {
  out.key = EVP_EC_gen("P-256");
  ASSERT_NE(out.key, nullptr);
  out.cert = X509_new();
  X509_set_version(out.cert, 2);
  static long serial = 1000;
  ASN1_INTEGER_set(X509_get_serialNumber(out.cert), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(out.cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(out.cert), 2 * 86400);
  X509_set_pubkey(out.cert, out.key);
  X509_NAME* name = X509_get_subject_name(out.cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuerCert = issuer ? issuer->cert : out.cert;
  X509_set_issuer_name(out.cert, X509_get_subject_name(issuerCert));
  if (kind == "ca") {
    addExt(out.cert, issuerCert, NID_basic_constraints, "critical,CA:TRUE");
    addExt(out.cert, issuerCert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExt(out.cert, issuerCert, NID_basic_constraints, "CA:FALSE");
    addExt(out.cert, issuerCert, NID_ext_key_usage, kind == "server" ? "serverAuth" : "clientAuth");
    if (kind == "server")
      addExt(out.cert, issuerCert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  }
  ASSERT_GT(X509_sign(out.cert, issuer ? issuer->key : out.key, EVP_sha256()), 0);
  out.certPem = pemOf(out.cert);
  out.keyPem = pemOf(out.key);
}

class GrpcTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("finops-grpc-tls-" + randomId("")));
    std::filesystem::create_directories(*dir_);
    ca_ = new Pki;
    makeCert(*ca_, "FinOps test CA", "ca", nullptr);
    otherCa_ = new Pki;
    makeCert(*otherCa_, "Other CA", "ca", nullptr);
    server_ = new Pki;
    makeCert(*server_, "localhost", "server", ca_);
    client_ = new Pki;
    makeCert(*client_, "dataplane-1", "client", ca_);
    rogue_ = new Pki;
    makeCert(*rogue_, "rogue", "client", otherCa_);
    write("ca.crt", ca_->certPem);
    write("other-ca.crt", otherCa_->certPem);
    write("server.crt", server_->certPem);
    write("server.key", server_->keyPem);
    write("chain.crt", server_->certPem + ca_->certPem);
    write("client.crt", client_->certPem);
    write("client.key", client_->keyPem);
    write("rogue.crt", rogue_->certPem);
    write("rogue.key", rogue_->keyPem);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(*dir_, ec);
    delete dir_;
    delete ca_;
    delete otherCa_;
    delete server_;
    delete client_;
    delete rogue_;
  }
  static std::string write(const std::string& name, const std::string& content) {
    std::string p = (*dir_ / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  static std::string path(const std::string& name) { return (*dir_ / name).string(); }

  static std::filesystem::path* dir_;
  static Pki* ca_;
  static Pki* otherCa_;
  static Pki* server_;
  static Pki* client_;
  static Pki* rogue_;
};

std::filesystem::path* GrpcTlsTest::dir_ = nullptr;
Pki* GrpcTlsTest::ca_ = nullptr;
Pki* GrpcTlsTest::otherCa_ = nullptr;
Pki* GrpcTlsTest::server_ = nullptr;
Pki* GrpcTlsTest::client_ = nullptr;
Pki* GrpcTlsTest::rogue_ = nullptr;

// ---- PEM loading ------------------------------------------------------------------------------

TEST_F(GrpcTlsTest, ReadsCertificatesAndChains) {
  std::string error;
  auto one = readPemFile(path("server.crt"), PemKind::kCertificates, "--tls-cert", &error);
  ASSERT_TRUE(one) << error;
  EXPECT_EQ(*one, server_->certPem);
  auto chain = readPemFile(path("chain.crt"), PemKind::kCertificates, "--tls-cert", &error);
  ASSERT_TRUE(chain) << error;
  EXPECT_EQ(*chain, server_->certPem + ca_->certPem);
  auto key = readPemFile(path("server.key"), PemKind::kPrivateKey, "--tls-key", &error);
  ASSERT_TRUE(key) << error;
  EXPECT_EQ(*key, server_->keyPem);
}

TEST_F(GrpcTlsTest, MissingFileNamesThePathAndTheRole) {
  std::string error;
  std::string p = path("nope.crt");
  EXPECT_FALSE(readPemFile(p, PemKind::kCertificates, "--tls-cert", &error));
  EXPECT_EQ(error, "--tls-cert " + p + ": does not exist");
  EXPECT_FALSE(readPemFile("", PemKind::kCertificates, "--tls-cert", &error));
  EXPECT_NE(error.find("no file given"), std::string::npos) << error;
}

TEST_F(GrpcTlsTest, DirectoryAndEmptyFileAreRefused) {
  std::string error;
  EXPECT_FALSE(readPemFile(dir_->string(), PemKind::kCertificates, "CA", &error));
  EXPECT_NE(error.find("is not a regular file"), std::string::npos) << error;
  EXPECT_FALSE(readPemFile(write("empty.pem", ""), PemKind::kPrivateKey, "key", &error));
  EXPECT_NE(error.find("is empty"), std::string::npos) << error;
}

TEST_F(GrpcTlsTest, AFileOver1MiBIsRefusedBeforeParsing) {
  std::string error;
  std::string p = write("big.crt", server_->certPem + std::string(1024 * 1024, '\n'));
  EXPECT_FALSE(readPemFile(p, PemKind::kCertificates, "--tls-ca", &error));
  EXPECT_EQ(error, "--tls-ca " + p + ": is larger than 1 MiB, not a PEM file");
}

TEST_F(GrpcTlsTest, UnreadableFileIsRefused) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  std::string p = write("unreadable.crt", server_->certPem);
  ::chmod(p.c_str(), 0);
  std::string error;
  EXPECT_FALSE(readPemFile(p, PemKind::kCertificates, "CA", &error));
  EXPECT_NE(error.find("cannot be read"), std::string::npos) << error;
}

TEST_F(GrpcTlsTest, NotPemIsRefused) {
  std::string error;
  std::string p = write("garbage.crt", "this is not a certificate\n");
  EXPECT_FALSE(readPemFile(p, PemKind::kCertificates, "CA", &error));
  EXPECT_NE(error.find("is not a PEM certificate file"), std::string::npos) << error;
  EXPECT_FALSE(readPemFile(p, PemKind::kPrivateKey, "key", &error));
  EXPECT_NE(error.find("is not a PEM private key file"), std::string::npos) << error;
}

TEST_F(GrpcTlsTest, KeyAndCertificateSwappedAreNamed) {
  std::string error;
  EXPECT_FALSE(readPemFile(path("server.key"), PemKind::kCertificates, "--tls-cert", &error));
  EXPECT_NE(error.find("holds a private key, not a certificate"), std::string::npos) << error;
  EXPECT_FALSE(readPemFile(path("server.crt"), PemKind::kPrivateKey, "--tls-key", &error));
  EXPECT_NE(error.find("holds a certificate, not a private key"), std::string::npos) << error;
}

TEST_F(GrpcTlsTest, CorruptBlockIsRefused) {
  std::string pem = server_->certPem;
  pem[pem.size() / 2] = pem[pem.size() / 2] == 'A' ? '*' : 'A';  // breaks the base64 or the DER
  pem.replace(40, 8, "!!!!!!!!");
  std::string error;
  EXPECT_FALSE(readPemFile(write("corrupt.crt", pem), PemKind::kCertificates, "CA", &error));
  EXPECT_NE(error.find("cannot be parsed"), std::string::npos) << error;
  // One good certificate followed by a broken one is refused too (a bundle must be whole).
  EXPECT_FALSE(
      readPemFile(write("half.crt", ca_->certPem + pem), PemKind::kCertificates, "CA", &error));
  EXPECT_NE(error.find("1 of 2 parsed"), std::string::npos) << error;
}

TEST_F(GrpcTlsTest, EncryptedKeyIsRefusedWithAHint) {
  std::string p = write("encrypted.key", pemOf(server_->key, "secret"));
  ASSERT_NE(std::ifstream(p).peek(), EOF);
  std::string error;
  EXPECT_FALSE(readPemFile(p, PemKind::kPrivateKey, "--tls-key", &error));
  EXPECT_NE(error.find("encrypted private key"), std::string::npos) << error;
  EXPECT_NE(error.find("openssl pkey"), std::string::npos) << error;
}

// ---- credentials ------------------------------------------------------------------------------

TEST_F(GrpcTlsTest, ServerCredentialsBuildForTlsAndMutualTls) {
  std::string error;
  EXPECT_NE(makeServerCredentials({path("server.crt"), path("server.key"), ""}, &error), nullptr)
      << error;
  EXPECT_NE(makeServerCredentials({path("chain.crt"), path("server.key"), path("ca.crt")}, &error),
            nullptr)
      << error;
}

TEST_F(GrpcTlsTest, ServerKeyMustBelongToTheCertificate) {
  std::string error;
  EXPECT_EQ(makeServerCredentials({path("server.crt"), path("client.key"), ""}, &error), nullptr);
  EXPECT_NE(error.find("does not belong to the certificate"), std::string::npos) << error;
}

TEST_F(GrpcTlsTest, ServerClientCaMustBeCertificates) {
  std::string error;
  EXPECT_EQ(
      makeServerCredentials({path("server.crt"), path("server.key"), path("server.key")}, &error),
      nullptr);
  EXPECT_NE(error.find("client CA bundle"), std::string::npos) << error;
}

TEST_F(GrpcTlsTest, ChannelSecurityModes) {
  ChannelSecurity plain;
  EXPECT_FALSE(plain.tls());
  EXPECT_EQ(plain.mode(), "plaintext");
  std::string error;
  auto tls = makeChannelSecurity({path("ca.crt"), "", "", ""}, &error);
  ASSERT_TRUE(tls) << error;
  EXPECT_EQ(tls->mode(), "tls");
  auto mtls =
      makeChannelSecurity({path("ca.crt"), path("client.crt"), path("client.key"), "cp"}, &error);
  ASSERT_TRUE(mtls) << error;
  EXPECT_EQ(mtls->mode(), "mtls");
  EXPECT_EQ(mtls->serverName, "cp");
  // System roots when no CA file is given.
  EXPECT_TRUE(makeChannelSecurity({}, &error)) << error;
}

TEST_F(GrpcTlsTest, ClientCertificateNeedsItsKey) {
  std::string error;
  EXPECT_FALSE(makeChannelSecurity({path("ca.crt"), path("client.crt"), "", ""}, &error));
  EXPECT_NE(error.find("without its private key"), std::string::npos) << error;
  EXPECT_FALSE(makeChannelSecurity({path("ca.crt"), "", path("client.key"), ""}, &error));
  EXPECT_NE(error.find("without its client certificate"), std::string::npos) << error;
  EXPECT_FALSE(
      makeChannelSecurity({path("ca.crt"), path("client.crt"), path("rogue.key"), ""}, &error));
  EXPECT_NE(error.find("does not belong"), std::string::npos) << error;
}

// ---- a real handshake: mutual TLS refuses clients without a trusted certificate ---------------

class OkUsage final : public finops::v1::UsageService::Service {
  grpc::Status Report(grpc::ServerContext*, const finops::v1::UsageReport*,
                      finops::v1::UsageReply*) override {
    return grpc::Status::OK;
  }
};

grpc::Status call(const ChannelSecurity& security, const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  auto stub = finops::v1::UsageService::NewStub(security.createChannel(target, args));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  finops::v1::UsageReply reply;
  return stub->Report(&ctx, {}, &reply);
}

TEST_F(GrpcTlsTest, MutualTlsHandshake) {
  std::string error;
  auto creds =
      makeServerCredentials({path("server.crt"), path("server.key"), path("ca.crt")}, &error);
  ASSERT_NE(creds, nullptr) << error;
  OkUsage service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", creds, &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  ASSERT_TRUE(server);
  ASSERT_NE(port, 0);
  std::string target = "127.0.0.1:" + std::to_string(port);

  auto good =
      makeChannelSecurity({path("ca.crt"), path("client.crt"), path("client.key"), ""}, &error);
  ASSERT_TRUE(good) << error;
  grpc::Status st = call(*good, target);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(call(*good, "localhost:" + std::to_string(port)).ok());

  auto noCert = makeChannelSecurity({path("ca.crt"), "", "", ""}, &error);
  ASSERT_TRUE(noCert) << error;
  EXPECT_EQ(call(*noCert, target).error_code(), grpc::StatusCode::UNAVAILABLE);

  auto rogue =
      makeChannelSecurity({path("ca.crt"), path("rogue.crt"), path("rogue.key"), ""}, &error);
  ASSERT_TRUE(rogue) << error;
  EXPECT_EQ(call(*rogue, target).error_code(), grpc::StatusCode::UNAVAILABLE);

  EXPECT_EQ(call(ChannelSecurity{}, target).error_code(), grpc::StatusCode::UNAVAILABLE);

  // The client verifies the server: a CA that did not sign it, or a name it does not carry.
  auto wrongCa = makeChannelSecurity(
      {path("other-ca.crt"), path("client.crt"), path("client.key"), ""}, &error);
  ASSERT_TRUE(wrongCa) << error;
  st = call(*wrongCa, target);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  auto wrongName = makeChannelSecurity(
      {path("ca.crt"), path("client.crt"), path("client.key"), "cp.example.com"}, &error);
  ASSERT_TRUE(wrongName) << error;
  EXPECT_EQ(call(*wrongName, target).error_code(), grpc::StatusCode::UNAVAILABLE);

  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

TEST_F(GrpcTlsTest, ServerNameOverrideMatchesTheCertificate) {
  std::string error;
  auto creds = makeServerCredentials({path("server.crt"), path("server.key"), ""}, &error);
  ASSERT_NE(creds, nullptr) << error;
  OkUsage service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("[::1]:0", creds, &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) GTEST_SKIP() << "no IPv6 loopback here";
  // The certificate names localhost and 127.0.0.1, not ::1: only the override makes it match.
  auto plain = makeChannelSecurity({path("ca.crt"), "", "", ""}, &error);
  ASSERT_TRUE(plain) << error;
  EXPECT_EQ(call(*plain, "[::1]:" + std::to_string(port)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  auto named = makeChannelSecurity({path("ca.crt"), "", "", "localhost"}, &error);
  ASSERT_TRUE(named) << error;
  grpc::Status st = call(*named, "[::1]:" + std::to_string(port));
  EXPECT_TRUE(st.ok()) << st.error_message();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

// ---- the loopback rule ------------------------------------------------------------------------

TEST(GrpcTlsLoopback, LoopbackTargets) {
  for (const char* t : {"127.0.0.1:50051", "127.0.0.1", "127.8.9.10:1", "localhost:50051",
                        "LOCALHOST", "[::1]:50051", "::1", "[::ffff:127.0.0.1]:5",
                        "unix:/run/finops.sock", "unix-abstract:finops", "dns:///localhost:50051",
                        "dns:localhost:1", "dns://8.8.8.8/127.0.0.1:5", "ipv4:127.0.0.1:50051",
                        "ipv6:[::1]:5", "ipv4:127.0.0.1:1,127.0.0.2:1"})
    EXPECT_TRUE(isLoopback(t)) << t;
}

TEST(GrpcTlsLoopback, OtherTargets) {
  for (const char* t :
       {"0.0.0.0:50051", "0.0.0.0", "[::]:50051", "::", ":50051", "", "10.0.0.1:50051",
        "128.0.0.1:1", "1270.0.0.1:1", "126.255.255.255", "example.com:443", "localhost.evil.com:1",
        "mylocalhost:1", "localhost.:1", "127.0.0.1.:1", "[::2]:1", "[fe80::1%eth0]:1", "dns:///cp.internal:50051",
        "ipv4:127.0.0.1:1,10.0.0.1:1", "[::1", "finops-controlplane:50051"})
    EXPECT_FALSE(isLoopback(t)) << t;
}

TEST(GrpcTlsLoopback, AddressScheme) {
  bool tls = false;
  EXPECT_EQ(stripAddressScheme("https://cp.example.com:50051/", &tls), "cp.example.com:50051");
  EXPECT_TRUE(tls);
  EXPECT_EQ(stripAddressScheme("HTTP://127.0.0.1:50051", &tls), "127.0.0.1:50051");
  EXPECT_FALSE(tls);
  tls = true;
  EXPECT_EQ(stripAddressScheme("cp:50051", &tls), "cp:50051");
  EXPECT_TRUE(tls);  // no scheme: left alone
  tls = false;
  EXPECT_EQ(stripAddressScheme("unix:/run/finops.sock", &tls), "unix:/run/finops.sock");
  EXPECT_FALSE(tls);
}

}  // namespace
}  // namespace finops
