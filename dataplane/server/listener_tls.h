// TLS for the data plane's HTTP listener (--tls-cert / --tls-key): the server context built
// from PEM files, and its reload. A reload builds a whole new context first and swaps it in
// only when it is good: new connections get the new one, open connections keep the one they
// were accepted with, and a bad certificate or key is logged while the old one stays in use.
//
// Thread-safe: context() may be called from every worker while reload() runs on another
// thread.
#pragma once

#include <atomic>
#include <boost/asio/ssl.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace finops::dp {

// What a log line says about a loaded certificate (the leaf, the first in the file).
struct CertificateInfo {
  std::string subject;       // RFC 2253, e.g. "CN=gateway.example.com,O=Example"
  std::string notAfter;      // RFC 3339 UTC, e.g. "2026-01-31T12:00:00Z"
  int64_t notAfterUnix = 0;  // seconds since the epoch
  std::string sha256;        // fingerprint of the DER certificate, "AB:CD:..." (as browsers show)
};

// Builds a server context from PEM text: `certChainPem` holds the leaf certificate first, then
// any intermediates; `keyPem` the leaf's unencrypted private key. TLS 1.2 and 1.3 only; for
// TLS 1.2 only ECDHE key exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305); no
// compression, no renegotiation; ALPN answers "http/1.1" when the client offers it.
// Returns nullptr and sets `error` (naming `certName` / `keyName`, e.g. the file paths) when
// the PEM cannot be parsed, the key is encrypted, or the key does not belong to the
// certificate. Fills `info` on success when given.
std::shared_ptr<boost::asio::ssl::context> makeListenerTlsContext(
    std::string_view certChainPem, std::string_view keyPem, std::string_view certName,
    std::string_view keyName, CertificateInfo* info, std::string* error);

class ListenerTls {
 public:
  ListenerTls(std::string certFile, std::string keyFile);

  // Reads both files and builds a new context; on success it becomes current() and the
  // certificate's subject, expiry and fingerprint are logged. On failure returns false and sets
  // `error`; the current context (if any) stays. Used for the first load, where a failure
  // stops the program.
  bool load(std::string* error);

  // Reload on request (SIGHUP): load(), with the outcome logged (error level on failure).
  void reload(std::string_view why);

  // Reload when either file changed (modification time, size, inode or device) since the last
  // attempt; meant to be called every few seconds. A broken file is tried and logged once, and
  // again only when it changes.
  void reloadIfChanged();

  // The context for a new connection. Never null after a successful load().
  std::shared_ptr<boost::asio::ssl::context> context() const;
  CertificateInfo certificate() const;

  // For /metrics.
  int64_t notAfterUnix() const { return notAfterUnix_.load(); }
  int64_t reloads() const { return reloads_.load(); }
  int64_t reloadFailures() const { return reloadFailures_.load(); }

  const std::string& certFile() const { return certFile_; }
  const std::string& keyFile() const { return keyFile_; }

 private:
  std::string fileSignature() const;

  const std::string certFile_;
  const std::string keyFile_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;  // GUARDED_BY(mu_)
  CertificateInfo info_;                            // GUARDED_BY(mu_)
  std::string lastSignature_;                       // GUARDED_BY(mu_)
  std::mutex loadMu_;                               // one load at a time
  std::atomic<int64_t> notAfterUnix_{0};
  std::atomic<int64_t> reloads_{0};
  std::atomic<int64_t> reloadFailures_{0};
};

}  // namespace finops::dp
