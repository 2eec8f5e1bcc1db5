// Test certificates made in process with OpenSSL (no openssl CLI): a CA, server certificates for
// localhost / 127.0.0.1, and client certificates. P-256 keys, valid from an hour ago for two days.
// For tests only.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace finops::testing {

struct TestCert {
  std::string certPem;
  std::string keyPem;
  std::shared_ptr<EVP_PKEY> key;
  std::shared_ptr<X509> cert;
};

enum class CertKind { kCa, kServer, kClient };

namespace detail {

inline void addExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) throw std::runtime_error(std::string("bad extension ") + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

template <typename Write>
std::string toPem(Write write) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  write(bio.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace detail

// A certificate for `commonName` signed by `issuer` (self-signed when null). Servers carry the
// subjectAltNames DNS:localhost and IP:127.0.0.1. Throws std::runtime_error on an OpenSSL failure.
inline TestCert makeTestCert(const std::string& commonName, CertKind kind,
                             const TestCert* issuer = nullptr) {
  static long serial = 5000;
  TestCert out;
  out.key.reset(EVP_EC_gen("P-256"), EVP_PKEY_free);
  out.cert.reset(X509_new(), X509_free);
  if (!out.key || !out.cert) throw std::runtime_error("OpenSSL cannot make a key");
  X509* c = out.cert.get();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(c), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c), 2 * 86400);
  X509_set_pubkey(c, out.key.get());
  X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(commonName.c_str()), -1, -1, 0);
  X509* issuerCert = issuer ? issuer->cert.get() : c;
  X509_set_issuer_name(c, X509_get_subject_name(issuerCert));
  switch (kind) {
    case CertKind::kCa:
      detail::addExtension(c, issuerCert, NID_basic_constraints, "critical,CA:TRUE");
      detail::addExtension(c, issuerCert, NID_key_usage, "critical,keyCertSign,cRLSign");
      break;
    case CertKind::kServer:
      detail::addExtension(c, issuerCert, NID_basic_constraints, "CA:FALSE");
      detail::addExtension(c, issuerCert, NID_ext_key_usage, "serverAuth");
      detail::addExtension(c, issuerCert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
      break;
    case CertKind::kClient:
      detail::addExtension(c, issuerCert, NID_basic_constraints, "CA:FALSE");
      detail::addExtension(c, issuerCert, NID_ext_key_usage, "clientAuth");
      break;
  }
  if (X509_sign(c, issuer ? issuer->key.get() : out.key.get(), EVP_sha256()) <= 0)
    throw std::runtime_error("OpenSSL cannot sign the certificate");
  out.certPem = detail::toPem([&](BIO* b) { PEM_write_bio_X509(b, c); });
  out.keyPem = detail::toPem([&](BIO* b) {
    PEM_write_bio_PrivateKey(b, out.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  return out;
}

}  // namespace finops::testing
