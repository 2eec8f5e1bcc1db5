#include "dataplane/config/snapshot.h"

#include "common/crypto.h"

namespace finops::dp {

const std::string* ProviderRoute::nextAuthorization() const {
  if (authorizations.empty()) return nullptr;
  uint32_t i = next_.fetch_add(1, std::memory_order_relaxed);
  return &authorizations[i % authorizations.size()];
}

const ProviderRoute* ConfigSnapshot::provider(std::string_view name) const {
  auto it = providers.find(name);
  return it == providers.end() ? nullptr : it->second.get();
}

const KeyEntry* ConfigSnapshot::findKey(std::string_view presentedKey) const {
  Sha256Digest digest = sha256(presentedKey);  // no heap allocation on the request path
  std::string_view hash(reinterpret_cast<const char*>(digest.data()), digest.size());
  auto it = keysByHash.find(hash);
  if (it == keysByHash.end()) return nullptr;
  if (!constantTimeEqual(it->second.hash, hash)) return nullptr;
  return &it->second;
}

std::shared_ptr<const ConfigSnapshot> compileSnapshot(const finops::v1::Snapshot& s,
                                                      std::string* error) {
  auto out = std::make_shared<ConfigSnapshot>();
  out->version = s.version();
  for (const auto& p : s.providers()) {
    auto route = std::make_unique<ProviderRoute>();
    route->name = p.name();
    if (route->name.empty() || route->name.find('/') != std::string::npos) {
      *error = "provider with an invalid name '" + p.name() + "'";
      return nullptr;
    }
    if (p.type() != finops::v1::PROVIDER_TYPE_OPENAI_COMPATIBLE) {
      *error = "provider '" + p.name() + "': unsupported provider type " + std::to_string(p.type());
      return nullptr;
    }
    route->type = p.type();
    std::string urlError;
    auto url = parseUrl(p.base_url(), &urlError);
    if (!url) {
      *error = "provider '" + p.name() + "': base URL: " + urlError;
      return nullptr;
    }
    route->url = *url;
    route->poolKey = std::string(url->tls ? "https://" : "http://") + url->host + ":" +
                     std::to_string(url->port);
    for (const auto& k : p.keys()) route->authorizations.push_back("Bearer " + k.value());
    route->models.assign(p.models().begin(), p.models().end());
    route->listUpstreamModels = p.list_upstream_models();
    if (!out->providers.emplace(route->name, std::move(route)).second) {
      *error = "duplicate provider '" + p.name() + "'";
      return nullptr;
    }
  }
  for (const auto& k : s.virtual_keys()) {
    if (k.key_hash().size() != 32) {
      *error = "virtual key '" + k.id() + "' has a malformed hash";
      return nullptr;
    }
    out->keysByHash[k.key_hash()] = KeyEntry{k.id(), k.name(), k.key_hash(), k.active()};
  }
  out->enforceKeys = s.settings().enforce_keys();
  for (const auto& h : s.settings().forward_headers()) {
    std::string lower;
    for (char c : h) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    out->forwardHeaders.insert(lower);
  }
  return out;
}

void ConfigStore::set(std::shared_ptr<const ConfigSnapshot> s) {
  current_.store(std::move(s), std::memory_order_release);
  appliedAtMs_.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count());
}

double ConfigStore::configAgeSeconds() const {
  if (!get()) return -1;
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  return static_cast<double>(now - appliedAtMs_.load()) / 1000.0;
}

}  // namespace finops::dp
