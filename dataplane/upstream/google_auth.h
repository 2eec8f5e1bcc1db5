// OAuth2 access tokens for Vertex AI from a service-account JSON key: an RS256-signed JWT
// assertion exchanged at the token endpoint (RFC 7523), cached and refreshed before it
// expires. One TokenSource per (service account, token URL), shared by every worker
// thread and by successive config snapshots.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "dataplane/upstream/client.h"

namespace finops::dp::upstream {

struct ServiceAccount {
  std::string clientEmail;
  std::string privateKeyPem;  // SECRET
  std::string privateKeyId;
  std::string tokenUri;
};

// Parses a service-account JSON key. nullopt (and `error`) when a field is missing.
std::optional<ServiceAccount> parseServiceAccount(std::string_view json, std::string* error);

// The signed JWT assertion: header {"alg":"RS256","typ":"JWT","kid"}, claims {iss, scope
// (cloud-platform), aud, iat, exp = iat + 3600}. "" (and `error`) when the key cannot sign.
std::string makeJwtAssertion(const ServiceAccount& sa, std::string_view audience,
                             int64_t nowSeconds, std::string* error);

class TokenSource {
 public:
  // `tokenUrl` empty: the service account's token_uri (else Google's).
  TokenSource(ServiceAccount sa, std::string tokenUrl);

  // The shared source for this key and token URL (created on first use).
  static std::shared_ptr<TokenSource> get(std::string_view serviceAccountJson,
                                          std::string_view tokenUrl, std::string* error);

  // A valid access token, fetched with `pool` when there is none or it expires within the
  // refresh margin (min(5 min, half its lifetime)). While one request refreshes, the others
  // keep using the current token (or, with none, wait for the refresh). nullopt: failed,
  // `error` says why.
  net::awaitable<std::optional<std::string>> token(Pool& pool, std::string& error);

  const std::string& tokenUrl() const { return tokenUrl_; }
  // Token requests made so far (for tests and metrics).
  int64_t fetches() const;

 private:
  net::awaitable<bool> fetch(Pool& pool, std::string& error);

  ServiceAccount sa_;
  std::string tokenUrl_;
  ProviderRoute endpoint_;  // the token URL as an upstream route
  bool urlOk_ = false;
  std::string urlError_;

  mutable std::mutex mu_;
  std::string token_;
  std::chrono::steady_clock::time_point expiry_{};
  std::chrono::steady_clock::time_point refreshAt_{};
  bool refreshing_ = false;
  int64_t fetches_ = 0;
};

}  // namespace finops::dp::upstream
