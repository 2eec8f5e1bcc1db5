// The data plane's compiled, immutable view of a config Snapshot. Built once per push
// (compileSnapshot), then shared read-only by every request through
// std::shared_ptr<const ConfigSnapshot>. Thread-safe once built.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/header_policy.h"
#include "common/url.h"
#include "dataplane/governance/pricing.h"
#include "dataplane/governance/quota.h"
#include "finops/v1/config.pb.h"

namespace finops::dp {

namespace upstream {
class TokenSource;
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct ProviderRoute {
  std::string name;
  finops::v1::ProviderType type = finops::v1::PROVIDER_TYPE_UNSPECIFIED;
  Url url;
  std::string poolKey;  // "http(s)://host:port": connections are shared by key
  // One auth header per upstream key (SECRET), used round-robin: "authorization: Bearer k"
  // (OpenAI-compatible), "x-api-key: k" (Anthropic), "x-goog-api-key: k" (Gemini).
  std::vector<std::pair<std::string, std::string>> authHeaders;
  std::vector<std::string> models;
  bool listUpstreamModels = false;
  int64_t defaultMaxTokens = 0;  // Anthropic: 0 = 4096
  // Native types are also priced under their type's name ("anthropic" for a provider
  // "claude" of type anthropic); empty for OpenAI-compatible providers.
  std::string priceFallback;
  // Vertex AI: access tokens for the service account (url.basePath already ends in
  // /v1/projects/{p}/locations/{l}).
  std::shared_ptr<upstream::TokenSource> tokenSource;

  // Next upstream auth header, or nullptr when the provider has no key.
  const std::pair<std::string, std::string>* nextAuth() const;

 private:
  mutable std::atomic<uint32_t> next_{0};
};

struct KeyEntry {
  std::string id;
  std::string name;
  std::string hash;  // 32 raw bytes
  bool active = false;
  std::string status;       // "active" | "disabled" | "revoked"
  int64_t expiresAtMs = 0;  // 0: never
  std::string teamId, teamName, customerId, customerName;
  bool logContent = true;  // false: its requests' logs never hold content
  std::vector<std::string> allowedProviders;
  std::vector<std::string> allowedModels;
  // Limits for every request (key's own, team's and customer's), and for a provider that
  // has limits of its own, those plus the provider's. Pointers into ConfigSnapshot::limits.
  std::vector<const LimitDef*> limits;
  std::unordered_map<std::string, std::vector<const LimitDef*>, StringHash, std::equal_to<>>
      providerLimits;

  // The limits that apply to a request to `provider` (no copy: on the request path).
  const std::vector<const LimitDef*>& limitsFor(std::string_view provider) const;
};

struct ConfigSnapshot {
  uint64_t version = 0;
  std::unordered_map<std::string, std::unique_ptr<ProviderRoute>, StringHash, std::equal_to<>>
      providers;
  std::unordered_map<std::string, KeyEntry, StringHash, std::equal_to<>> keysByHash;
  bool enforceKeys = true;
  bool logContent = true;  // false: no request log holds content
  // Client headers forwarded upstream as they are (lower case; never the ones
  // isNeverForwardedHeader names, whatever the snapshot says).
  std::unordered_set<std::string> forwardHeaders;
  // Names <name> a client may send as "x-bf-eh-<name>" to have "<name>" forwarded upstream.
  HeaderMatcher extraHeaders;
  // Browser access (CORS): the request headers a page may send, the origins it may come from.
  HeaderMatcher corsAllowedHeaders;
  std::vector<OriginPattern> corsOrigins;
  std::unordered_map<std::string, LimitDef> limits;  // by id; node-based, pointers stay valid
  PriceTable prices;

  const ProviderRoute* provider(std::string_view name) const;
  // Looks a presented key up by its SHA-256 and compares the hashes in constant time.
  // Returns the entry (active or not) or nullptr.
  const KeyEntry* findKey(std::string_view presentedKey) const;
};

// Builds a ConfigSnapshot; on failure returns nullptr and fills `error` (the snapshot is
// NACKed and the previous one stays in service).
std::shared_ptr<const ConfigSnapshot> compileSnapshot(const finops::v1::Snapshot& s,
                                                      std::string* error);

// Holds the snapshot in service and the subscription status. Thread-safe.
class ConfigStore {
 public:
  std::shared_ptr<const ConfigSnapshot> get() const { return current_.load(std::memory_order_acquire); }
  void set(std::shared_ptr<const ConfigSnapshot> s);

  void setConnected(bool c) { connected_.store(c); }
  bool connected() const { return connected_.load(); }
  // Seconds since the snapshot in service was applied; -1 when none.
  double configAgeSeconds() const;

 private:
  std::atomic<std::shared_ptr<const ConfigSnapshot>> current_;
  std::atomic<bool> connected_{false};
  std::atomic<int64_t> appliedAtMs_{0};
};

}  // namespace finops::dp
