#include "controlplane/grpc/dataplane_auth.h"

#include <grpc/grpc_security_constants.h>

#include <cctype>

#include "common/crypto.h"
#include "common/grpc_tls.h"
#include "common/log.h"

namespace finops::cp {
namespace {

constexpr auto kLogEvery = std::chrono::seconds(10);

bool hasProperty(const grpc::AuthContext& auth, const char* name) {
  for (const auto& v : auth.FindPropertyValues(name))
    if (!v.empty()) return true;
  return false;
}

}  // namespace

std::string bearerToken(const grpc::ServerContextBase& ctx, bool* present) {
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (present) *present = it != md.end();
  if (it == md.end()) return {};
  std::string_view v(it->second.data(), it->second.size());
  if (v.size() <= 7) return {};
  std::string scheme(v.substr(0, 7));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "bearer ") return {};
  v.remove_prefix(7);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  return std::string(v);
}

bool verifiedClientCertificate(const grpc::ServerContextBase& ctx) {
  auto auth = ctx.auth_context();
  if (!auth) return false;
  bool tls = false;
  for (const auto& v : auth->FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME))
    if (v == GRPC_SSL_TRANSPORT_SECURITY_TYPE) tls = true;
  if (!tls) return false;
  return hasProperty(*auth, GRPC_X509_PEM_CERT_PROPERTY_NAME) || auth->IsPeerAuthenticated();
}

std::string dataPlaneAuthStartupError(const DataPlaneAuthOptions& o, std::string_view listen) {
  if (o.mutualTls || !o.tokens.empty() || o.allowUnauthenticated || o.loopbackOnly) return {};
  return "refusing to serve data planes on " + std::string(listen) +
         ", which is not a loopback address, without a credential: anyone who can reach this "
         "port would receive every provider API key on the config stream and could report "
         "usage against any budget.\n"
         "  Give data planes a token: --dataplane-token-file FILE (one token a line; or "
         "FINOPS_DATAPLANE_TOKEN), and the same token to each data plane with "
         "--control-plane-token-file FILE (or FINOPS_DATAPLANE_TOKEN),\n"
         "  or require client certificates: --tls-cert FILE --tls-key FILE --tls-client-ca "
         "FILE (mutual TLS),\n"
         "  or, only if something else authenticates the data planes (e.g. a service mesh with "
         "mTLS and an authorization policy), --allow-unauthenticated-dataplanes (unsafe).";
}

DataPlaneAuth::DataPlaneAuth(DataPlaneAuthOptions options)
    : mutualTls_(options.mutualTls),
      open_(options.tokens.empty() && (options.loopbackOnly || options.allowUnauthenticated)),
      openVia_(options.loopbackOnly ? "loopback" : "unauthenticated") {
  digests_.reserve(options.tokens.size());
  for (const auto& t : options.tokens) digests_.push_back(sha256Bytes(t));
}

grpc::Status DataPlaneAuth::check(const grpc::ServerContextBase& ctx, std::string_view method,
                                  std::string* via) const {
  if (mutualTls_ && verifiedClientCertificate(ctx)) {
    if (via) *via = "mtls";
    return grpc::Status::OK;
  }
  if (digests_.empty()) {
    if (open_) {
      if (via) *via = openVia_;
      return grpc::Status::OK;
    }
    // Only reachable under mutual TLS for a connection without a verified certificate, which
    // the handshake should have refused already.
    logRefusal(method, ctx.peer(), "no verified client certificate");
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "this control plane requires a client certificate (mutual TLS): give the "
                        "data plane --control-plane-cert FILE and --control-plane-key FILE");
  }
  bool present = false;
  std::string token = bearerToken(ctx, &present);
  if (token.empty()) {
    logRefusal(method, ctx.peer(), present ? "authorization is not a bearer token" : "no token");
    return grpc::Status(
        grpc::StatusCode::UNAUTHENTICATED,
        "missing data-plane token: this control plane requires one on the config stream and "
        "usage reports; give the data plane --control-plane-token-file FILE (or "
        "FINOPS_DATAPLANE_TOKEN) with a token from the control plane's --dataplane-token-file" +
            std::string(mutualTls_ ? ", or a client certificate (mutual TLS)" : ""));
  }
  // Compare digests (fixed length) with every accepted token, without stopping at a match, so
  // the time taken says nothing about the tokens.
  std::string digest = sha256Bytes(token);
  bool match = false;
  for (const auto& d : digests_) match |= constantTimeEqual(digest, d);
  if (!match) {
    logRefusal(method, ctx.peer(), "invalid token");
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "invalid data-plane token: it is not one of the tokens in the control "
                        "plane's --dataplane-token-file (check the data plane's "
                        "--control-plane-token-file or FINOPS_DATAPLANE_TOKEN)");
  }
  if (via) *via = "token";
  return grpc::Status::OK;
}

void DataPlaneAuth::logRefusal(std::string_view method, const std::string& peer,
                               std::string_view reason) const {
  uint64_t suppressed = 0;
  {
    std::lock_guard lock(logMu_);
    auto now = std::chrono::steady_clock::now();
    if (logged_ && now - lastLog_ < kLogEvery) {
      ++suppressed_;
      return;
    }
    logged_ = true;
    lastLog_ = now;
    suppressed = suppressed_;
    suppressed_ = 0;
  }
  log::warn("data plane refused: no valid data-plane credential",
            {{"method", method},
             {"peer", peer},
             {"reason", reason},
             {"refused_since_last_log", suppressed},
             {"hint",
              "data planes need --control-plane-token-file (or FINOPS_DATAPLANE_TOKEN) "
              "with a token from --dataplane-token-file"}});
}

}  // namespace finops::cp
