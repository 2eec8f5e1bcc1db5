#include "common/grpc_tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/process.h"

namespace finops {
namespace {

// A certificate bundle or key larger than this is not one.
constexpr size_t kMaxPemBytes = 1024 * 1024;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

BioPtr memBio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Never asks for a passphrase: an encrypted key fails to load.
int noPassphrase(char*, int, int, void*) { return 0; }

size_t countOf(const std::string& text, std::string_view needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + needle.size()))
    ++n;
  return n;
}

// The first certificate of a PEM text (nullptr if none parses).
X509Ptr firstCertificate(const std::string& pem) {
  BioPtr bio = memBio(pem);
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, noPassphrase, nullptr) : nullptr);
  ERR_clear_error();
  return cert;
}

PkeyPtr privateKey(const std::string& pem) {
  BioPtr bio = memBio(pem);
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr) : nullptr);
  ERR_clear_error();
  return key;
}

std::string checkCertificates(const std::string& text) {
  size_t blocks = countOf(text, "-----BEGIN CERTIFICATE-----") +
                  countOf(text, "-----BEGIN TRUSTED CERTIFICATE-----");
  if (blocks == 0) {
    if (text.find("PRIVATE KEY-----") != std::string::npos)
      return "holds a private key, not a certificate";
    return "is not a PEM certificate file (no -----BEGIN CERTIFICATE----- block)";
  }
  BioPtr bio = memBio(text);
  size_t parsed = 0;
  while (bio) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, noPassphrase, nullptr));
    if (!cert) break;
    ++parsed;
  }
  ERR_clear_error();
  if (parsed < blocks)
    return "holds a certificate block that cannot be parsed (" + std::to_string(parsed) + " of " +
           std::to_string(blocks) + " parsed)";
  return {};
}

std::string checkPrivateKey(const std::string& text) {
  if (text.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string::npos ||
      text.find("Proc-Type: 4,ENCRYPTED") != std::string::npos)
    return "is an encrypted private key; decrypt it first (openssl pkey -in KEY -out "
           "KEY.plain) and keep the file private";
  if (text.find("PRIVATE KEY-----") == std::string::npos) {
    if (text.find("-----BEGIN CERTIFICATE-----") != std::string::npos)
      return "holds a certificate, not a private key";
    return "is not a PEM private key file (no -----BEGIN PRIVATE KEY----- block)";
  }
  if (!privateKey(text)) return "holds a private key that cannot be parsed";
  return {};
}

// Empty, or why `keyPem` is not the key of the first certificate in `certPem`.
std::string checkPair(const std::string& certPem, const std::string& keyPem) {
  X509Ptr cert = firstCertificate(certPem);
  PkeyPtr key = privateKey(keyPem);
  if (!cert || !key) return "cannot be parsed";
  int ok = X509_check_private_key(cert.get(), key.get());
  ERR_clear_error();
  return ok == 1 ? std::string() : "does not belong to the certificate";
}

// The system's trusted roots as PEM (SSL_CERT_FILE, else OpenSSL's default file), or empty to
// let gRPC use its own bundled roots.
std::string systemRoots() {
  std::string path;
  if (const char* env = std::getenv(X509_get_default_cert_file_env()); env && *env)
    path = env;
  else
    path = X509_get_default_cert_file();
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::optional<std::string> readPemFile(const std::string& path, PemKind kind, std::string_view what,
                                       std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<std::string> {
    if (error) *error = std::string(what) + " " + path + ": " + why;
    return std::nullopt;
  };
  if (path.empty()) return fail("no file given");
  SmallFile f = readSmallFile(path, kMaxPemBytes);
  if (f.error == SmallFile::Error::kTooLarge) return fail("is larger than 1 MiB, not a PEM file");
  if (!f.ok()) return fail(f.why());
  std::string text = std::move(f.text);
  if (text.empty()) return fail("is empty");
  std::string why =
      kind == PemKind::kCertificates ? checkCertificates(text) : checkPrivateKey(text);
  if (!why.empty()) return fail(why);
  return text;
}

std::shared_ptr<grpc::ServerCredentials> makeServerCredentials(const ServerTlsOptions& options,
                                                               std::string* error) {
  auto cert = readPemFile(options.certFile, PemKind::kCertificates, "server certificate", error);
  if (!cert) return nullptr;
  auto key = readPemFile(options.keyFile, PemKind::kPrivateKey, "server private key", error);
  if (!key) return nullptr;
  if (std::string why = checkPair(*cert, *key); !why.empty()) {
    if (error)
      *error = "server private key " + options.keyFile + ": " + why + " " + options.certFile;
    return nullptr;
  }
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!options.clientCaFile.empty()) {
    auto ca = readPemFile(options.clientCaFile, PemKind::kCertificates, "client CA bundle", error);
    if (!ca) return nullptr;
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  } else {
    ssl.client_certificate_request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  }
  auto creds = grpc::SslServerCredentials(ssl);
  if (!creds && error) *error = "gRPC refused the server TLS credentials";
  return creds;
}

std::string ChannelSecurity::mode() const {
  if (!tls()) return "plaintext";
  return clientCertificate ? "mtls" : "tls";
}

std::shared_ptr<grpc::Channel> ChannelSecurity::createChannel(const std::string& target,
                                                              grpc::ChannelArguments args) const {
  if (!tls()) return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  if (!serverName.empty()) args.SetSslTargetNameOverride(serverName);
  return grpc::CreateCustomChannel(target, credentials, args);
}

std::optional<ChannelSecurity> makeChannelSecurity(const ClientTlsOptions& options,
                                                   std::string* error) {
  grpc::SslCredentialsOptions ssl;
  if (!options.caFile.empty()) {
    auto ca = readPemFile(options.caFile, PemKind::kCertificates, "CA bundle", error);
    if (!ca) return std::nullopt;
    ssl.pem_root_certs = *ca;
  } else {
    ssl.pem_root_certs = systemRoots();
  }
  ChannelSecurity out;
  if (options.certFile.empty() != options.keyFile.empty()) {
    if (error)
      *error = options.certFile.empty()
                   ? "a client private key was given without its client certificate"
                   : "a client certificate was given without its private key";
    return std::nullopt;
  }
  if (!options.certFile.empty()) {
    auto cert = readPemFile(options.certFile, PemKind::kCertificates, "client certificate", error);
    if (!cert) return std::nullopt;
    auto key = readPemFile(options.keyFile, PemKind::kPrivateKey, "client private key", error);
    if (!key) return std::nullopt;
    if (std::string why = checkPair(*cert, *key); !why.empty()) {
      if (error)
        *error = "client private key " + options.keyFile + ": " + why + " " + options.certFile;
      return std::nullopt;
    }
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
    out.clientCertificate = true;
  }
  out.credentials = grpc::SslCredentials(ssl);
  if (!out.credentials) {
    if (error) *error = "gRPC refused the TLS channel credentials";
    return std::nullopt;
  }
  out.serverName = options.serverName;
  return out;
}

bool isLoopback(std::string_view target) {
  std::string t = lower(target);
  if (t.starts_with("unix:") || t.starts_with("unix-abstract:")) return true;
  // gRPC resolver prefixes: "dns:host:port", "dns:///host:port", "dns://authority/host:port".
  if (t.starts_with("dns:")) {
    t = t.substr(4);
    if (t.starts_with("//")) {
      auto slash = t.find('/', 2);
      t = slash == std::string::npos ? std::string() : t.substr(slash + 1);
    }
  } else if (t.starts_with("ipv4:") || t.starts_with("ipv6:")) {
    t = t.substr(5);
    if (t.find(',') != std::string::npos) {
      // A list of addresses: loopback only if every one is.
      std::string_view rest = t;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string_view one = rest.substr(0, comma);
        if (!isLoopback(one)) return false;
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
      return true;
    }
  }
  std::string host;
  if (t.starts_with("[")) {
    auto close = t.find(']');
    if (close == std::string::npos) return false;
    host = t.substr(1, close - 1);
  } else if (std::count(t.begin(), t.end(), ':') == 1) {
    host = t.substr(0, t.find(':'));
  } else {
    host = t;  // a bare host, or a bare IPv6 address
  }
  if (auto pct = host.find('%'); pct != std::string::npos) host = host.substr(0, pct);  // zone
  // "localhost." and "127.0.0.1." are not what they look like: gRPC hands them to DNS.
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&v6)) return v6.s6_addr[12] == 127;
  }
  return false;
}

std::string stripAddressScheme(std::string_view address, bool* tls) {
  std::string a(address);
  std::string l = lower(a);
  if (l.starts_with("https://")) {
    if (tls) *tls = true;
    a = a.substr(8);
  } else if (l.starts_with("http://")) {
    if (tls) *tls = false;
    a = a.substr(7);
  } else {
    return a;
  }
  while (a.ends_with("/")) a.pop_back();
  return a;
}

}  // namespace finops
