#include "dataplane/server/listener_tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>

#include "common/log.h"
#include "common/process.h"

namespace finops::dp {

namespace ssl = boost::asio::ssl;

namespace {

constexpr size_t kMaxPemBytes = 1024 * 1024;

// TLS 1.2 suites: forward secrecy (ECDHE) and AEAD only. TLS 1.3 keeps OpenSSL's defaults
// (all AEAD).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::optional<std::string> readFile(const std::string& path, std::string_view flag,
                                    std::string* error) {
  SmallFile f = readSmallFile(path, kMaxPemBytes);
  if (f.ok()) return std::move(f.text);
  *error = std::string(flag) + " " + path + ": " +
           (f.error == SmallFile::Error::kTooLarge ? "larger than 1 MiB, not a PEM file" : f.why());
  return std::nullopt;
}

// Why an asio ssl::context call failed: asio takes the OpenSSL error off the queue into `ec`.
std::string failure(const boost::system::error_code& ec) {
  std::string out = ec.message();
  ERR_clear_error();
  return out.empty() ? "unknown OpenSSL error" : out;
}

// The oldest OpenSSL error on this thread's queue, as text (and the queue cleared).
std::string opensslError() {
  unsigned long e = ERR_get_error();
  std::string out;
  if (e) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out = buf;
  }
  ERR_clear_error();
  return out.empty() ? "unknown OpenSSL error" : out;
}

// Never prompts on a terminal for a passphrase: an encrypted key simply fails to load.
int noPassword(char*, int, int, void*) { return 0; }

int selectAlpn(SSL*, const unsigned char** out, unsigned char* outLen, const unsigned char* in,
               unsigned int inLen, void*) {
  static constexpr unsigned char kHttp11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
  for (unsigned int i = 0; i < inLen;) {
    unsigned int len = in[i];
    if (i + 1 + len > inLen) break;
    if (len == sizeof kHttp11 && std::memcmp(in + i + 1, kHttp11, len) == 0) {
      *out = in + i + 1;
      *outLen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;  // go on without ALPN; the client may still speak HTTP/1.1
}

std::string rfc2253(X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio) return "";
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data ? data : "", n > 0 ? static_cast<size_t>(n) : 0);
  BIO_free(bio);
  return out;
}

void describe(X509* cert, CertificateInfo& info) {
  info.subject = rfc2253(X509_get_subject_name(cert));
  struct tm tm {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1) {
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    info.notAfter = buf;
    info.notAfterUnix = static_cast<int64_t>(timegm(&tm));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdLen = 0;
  if (X509_digest(cert, EVP_sha256(), md, &mdLen) == 1) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (unsigned int i = 0; i < mdLen; ++i) {
      if (i) info.sha256.push_back(':');
      info.sha256.push_back(kHex[md[i] >> 4]);
      info.sha256.push_back(kHex[md[i] & 15]);
    }
  }
}

}  // namespace

std::shared_ptr<ssl::context> makeListenerTlsContext(std::string_view certChainPem,
                                                     std::string_view keyPem,
                                                     std::string_view certName,
                                                     std::string_view keyName,
                                                     CertificateInfo* info, std::string* error) {
  ERR_clear_error();
  if (certChainPem.find("-----BEGIN CERTIFICATE-----") == std::string_view::npos) {
    *error = std::string(certName) + ": no PEM certificate (\"-----BEGIN CERTIFICATE-----\") in it";
    return nullptr;
  }
  if (keyPem.find("ENCRYPTED") != std::string_view::npos) {
    *error = std::string(keyName) +
             ": is an encrypted private key; give an unencrypted one "
             "(protect it with file permissions)";
    return nullptr;
  }
  if (keyPem.find("PRIVATE KEY-----") == std::string_view::npos) {
    *error =
        std::string(keyName) + ": no PEM private key (\"-----BEGIN ... PRIVATE KEY-----\") in it";
    return nullptr;
  }
  std::shared_ptr<ssl::context> ctx;
  try {
    ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  } catch (const std::exception& e) {
    *error = std::string("cannot create a TLS context: ") + e.what();
    return nullptr;
  }
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_default_passwd_cb(native, &noPassword);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                       ssl::context::single_dh_use,
                   ec);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    *error = "cannot configure TLS versions and ciphers: " + opensslError();
    return nullptr;
  }
  SSL_CTX_set_alpn_select_cb(native, &selectAlpn, nullptr);

  ctx->use_certificate_chain(boost::asio::buffer(certChainPem.data(), certChainPem.size()), ec);
  if (ec) {
    *error = std::string(certName) + ": not a usable PEM certificate chain: " + failure(ec);
    return nullptr;
  }
  ctx->use_private_key(boost::asio::buffer(keyPem.data(), keyPem.size()), ssl::context::pem, ec);
  if (ec) {
    // OpenSSL refuses a key that does not match the certificate already loaded.
    std::string why = failure(ec);
    if (why.find("values mismatch") != std::string::npos)
      *error = std::string(keyName) + ": the private key does not belong to the certificate in " +
               std::string(certName);
    else
      *error = std::string(keyName) + ": not a usable PEM private key: " + why;
    return nullptr;
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    *error = std::string(keyName) + ": the private key does not belong to the certificate in " +
             std::string(certName);
    ERR_clear_error();
    return nullptr;
  }
  X509* leaf = SSL_CTX_get0_certificate(native);
  if (!leaf) {
    *error = std::string(certName) + ": no certificate was loaded";
    return nullptr;
  }
  if (info) describe(leaf, *info);
  return ctx;
}

ListenerTls::ListenerTls(std::string certFile, std::string keyFile)
    : certFile_(std::move(certFile)), keyFile_(std::move(keyFile)) {}

std::string ListenerTls::fileSignature() const {
  std::string sig;
  for (const std::string* path : {&certFile_, &keyFile_}) {
    struct stat st {};
    if (::stat(path->c_str(), &st) != 0) {
      sig += "missing;";
      continue;
    }
    sig += std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
           std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec) + ";";
  }
  return sig;
}

bool ListenerTls::load(std::string* error) {
  std::lock_guard loadLock(loadMu_);
  // Taken before reading: a file replaced while we read shows up as a change next time.
  std::string sig = fileSignature();
  {
    std::lock_guard lock(mu_);
    lastSignature_ = sig;
  }
  auto cert = readFile(certFile_, "--tls-cert", error);
  if (!cert) return false;
  auto key = readFile(keyFile_, "--tls-key", error);
  if (!key) return false;
  CertificateInfo info;
  auto ctx = makeListenerTlsContext(*cert, *key, "--tls-cert " + certFile_, "--tls-key " + keyFile_,
                                    &info, error);
  if (!ctx) return false;
  {
    std::lock_guard lock(mu_);
    ctx_ = std::move(ctx);
    info_ = info;
  }
  notAfterUnix_ = info.notAfterUnix;
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  nlohmann::json fields = {{"cert_file", certFile_},
                           {"subject", info.subject},
                           {"not_after", info.notAfter},
                           {"sha256", info.sha256}};
  if (info.notAfterUnix <= now)
    log::warn("listener TLS certificate loaded, but it has expired", fields);
  else if (info.notAfterUnix - now < 14 * 86400)
    log::warn("listener TLS certificate loaded; it expires within 14 days", fields);
  else
    log::info("listener TLS certificate loaded", fields);
  return true;
}

void ListenerTls::reload(std::string_view why) {
  std::string error;
  if (load(&error)) {
    reloads_.fetch_add(1);
    return;
  }
  reloadFailures_.fetch_add(1);
  log::error("listener TLS reload failed; still serving the previous certificate",
             {{"reason", why}, {"error", error}});
}

void ListenerTls::reloadIfChanged() {
  std::string sig = fileSignature();
  {
    std::lock_guard lock(mu_);
    if (sig == lastSignature_) return;
  }
  reload("certificate files changed");
}

std::shared_ptr<ssl::context> ListenerTls::context() const {
  std::lock_guard lock(mu_);
  return ctx_;
}

CertificateInfo ListenerTls::certificate() const {
  std::lock_guard lock(mu_);
  return info_;
}

}  // namespace finops::dp
