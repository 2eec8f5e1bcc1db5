// Who may call the services that data planes use: ConfigService (the config stream, which
// carries every provider API key) and UsageService (usage reports, which spend budgets).
//
// A call is accepted when
//  - the server requires client certificates (--tls-client-ca) and gRPC verified the one this
//    connection presented (an x509 peer in the call's AuthContext), or
//  - it carries "authorization: Bearer <token>" with one of the configured data-plane tokens
//    (--dataplane-token-file / FINOPS_DATAPLANE_TOKEN; compared in constant time), or
//  - no token is configured and the server takes data planes without a credential: it listens
//    on a loopback address only (data planes on the same host), or
//    --allow-unauthenticated-dataplanes says so.
// Anything else gets UNAUTHENTICATED with a message saying what is missing, and a warning is
// logged (method, peer, reason; never the token), at most once every 10 s with the number of
// refusals in between.
//
// Thread-safe: check() may be called from any gRPC thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace finops::cp {

// The token of "authorization: Bearer <token>" (scheme case-insensitive); empty when absent or
// another scheme. `*present`, when given, says whether an authorization entry exists at all.
// Admin calls and data-plane calls read their credential with it.
std::string bearerToken(const grpc::ServerContextBase& ctx, bool* present = nullptr);

struct DataPlaneAuthOptions {
  // SECRET. The accepted data-plane tokens. Empty: none configured.
  std::vector<std::string> tokens;
  // The server verifies client certificates (--tls-client-ca). Default false.
  bool mutualTls = false;
  // The server listens on a loopback address only. Default false.
  bool loopbackOnly = false;
  // --allow-unauthenticated-dataplanes: without tokens, accept any caller even on a
  // non-loopback address. Has no effect when tokens are configured. Default false.
  bool allowUnauthenticated = false;
};

// Why a control plane listening on `listen` must not start with `options`: a non-loopback
// address where data planes would have no credential at all (neither mutual TLS nor a token)
// and --allow-unauthenticated-dataplanes was not given. Empty when it may start. The message
// explains both ways out.
std::string dataPlaneAuthStartupError(const DataPlaneAuthOptions& options, std::string_view listen);

class DataPlaneAuth {
 public:
  explicit DataPlaneAuth(DataPlaneAuthOptions options);

  // OK, or UNAUTHENTICATED with a message for the data plane. `method` names the call in the
  // log ("StreamConfig", "Report"). On success `*via` (if given) says how the caller was
  // accepted: "mtls", "token", "loopback" or "unauthenticated".
  grpc::Status check(const grpc::ServerContextBase& ctx, std::string_view method,
                     std::string* via = nullptr) const;

  // True when callers need no credential (loopback only, or --allow-unauthenticated-dataplanes,
  // and no token configured).
  bool open() const { return open_; }
  size_t tokenCount() const { return digests_.size(); }
  bool mutualTls() const { return mutualTls_; }

 private:
  void logRefusal(std::string_view method, const std::string& peer, std::string_view reason) const;

  std::vector<std::string> digests_;  // SHA-256 of each accepted token
  bool mutualTls_;
  bool open_;
  const char* openVia_;  // "loopback" or "unauthenticated", when open_

  mutable std::mutex logMu_;
  mutable std::chrono::steady_clock::time_point lastLog_;  // GUARDED_BY(logMu_)
  mutable bool logged_ = false;                            // GUARDED_BY(logMu_)
  mutable uint64_t suppressed_ = 0;                        // GUARDED_BY(logMu_)
};

// True when gRPC verified a client certificate on this call's connection: the transport is TLS
// and the AuthContext carries the peer's x509 certificate or identity. (Under mutual TLS the
// handshake fails without one; this does not trust the server's flags alone.)
bool verifiedClientCertificate(const grpc::ServerContextBase& ctx);

}  // namespace finops::cp
