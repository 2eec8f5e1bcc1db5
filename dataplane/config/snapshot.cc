#include "dataplane/config/snapshot.h"

#include "common/crypto.h"
#include "dataplane/upstream/google_auth.h"

namespace finops::dp {

const std::pair<std::string, std::string>* ProviderRoute::nextAuth() const {
  if (authHeaders.empty()) return nullptr;
  uint32_t i = next_.fetch_add(1, std::memory_order_relaxed);
  return &authHeaders[i % authHeaders.size()];
}

const std::vector<const LimitDef*>& KeyEntry::limitsFor(std::string_view provider) const {
  if (providerLimits.empty()) return limits;
  auto it = providerLimits.find(provider);
  return it == providerLimits.end() ? limits : it->second;
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
    switch (p.type()) {
      case finops::v1::PROVIDER_TYPE_OPENAI_COMPATIBLE:
      case finops::v1::PROVIDER_TYPE_ANTHROPIC:
      case finops::v1::PROVIDER_TYPE_GEMINI:
      case finops::v1::PROVIDER_TYPE_VERTEX: break;
      default:
        *error = "provider '" + p.name() + "': unsupported provider type " + std::to_string(p.type());
        return nullptr;
    }
    route->type = p.type();
    route->defaultMaxTokens = p.options().default_max_tokens();
    std::string urlError;
    auto url = parseUrl(p.base_url(), &urlError);
    if (!url) {
      *error = "provider '" + p.name() + "': base URL: " + urlError;
      return nullptr;
    }
    route->url = *url;
    route->poolKey = std::string(url->tls ? "https://" : "http://") + url->host + ":" +
                     std::to_string(url->port);
    route->models.assign(p.models().begin(), p.models().end());
    route->listUpstreamModels = p.list_upstream_models();
    switch (p.type()) {
      case finops::v1::PROVIDER_TYPE_ANTHROPIC:
        route->priceFallback = "anthropic";
        for (const auto& k : p.keys()) route->authHeaders.emplace_back("x-api-key", k.value());
        break;
      case finops::v1::PROVIDER_TYPE_GEMINI:
        route->priceFallback = "gemini";
        for (const auto& k : p.keys()) route->authHeaders.emplace_back("x-goog-api-key", k.value());
        break;
      case finops::v1::PROVIDER_TYPE_VERTEX: {
        route->priceFallback = "vertex";
        const auto& o = p.options();
        if (o.vertex_project().empty() || o.vertex_location().empty() || p.keys().empty()) {
          *error = "provider '" + p.name() + "': Vertex AI needs a project, a location and a service-account key";
          return nullptr;
        }
        std::string saError;
        route->tokenSource = upstream::TokenSource::get(p.keys(0).value(), o.token_url(), &saError);
        if (!route->tokenSource) {
          *error = "provider '" + p.name() + "': " + saError;
          return nullptr;
        }
        route->url.basePath += "/v1/projects/" + o.vertex_project() + "/locations/" + o.vertex_location();
        route->listUpstreamModels = false;  // Vertex has no model list for an API key
        break;
      }
      default:
        for (const auto& k : p.keys()) route->authHeaders.emplace_back("authorization", "Bearer " + k.value());
    }
    if (!out->providers.emplace(route->name, std::move(route)).second) {
      *error = "duplicate provider '" + p.name() + "'";
      return nullptr;
    }
  }
  for (const auto& l : s.limits()) {
    LimitDef d;
    d.id = l.id();
    d.name = l.name();
    d.owner = l.owner();
    d.provider = l.provider();
    d.amount = l.amount();
    d.window = l.window();
    d.calendar = l.calendar();
    d.anchorMs = l.anchor_ms();
    switch (l.kind()) {
      case finops::v1::LIMIT_KIND_BUDGET: d.kind = LimitKind::kBudget; break;
      case finops::v1::LIMIT_KIND_REQUESTS: d.kind = LimitKind::kRequests; break;
      case finops::v1::LIMIT_KIND_TOKENS: d.kind = LimitKind::kTokens; break;
      case finops::v1::LIMIT_KIND_CONCURRENCY: d.kind = LimitKind::kConcurrency; break;
      default: *error = "limit '" + l.id() + "' has an unknown kind"; return nullptr;
    }
    if (d.kind != LimitKind::kConcurrency) {
      std::string werr;
      auto spec = parseWindow(d.window, &werr);
      if (!spec) {
        *error = "limit '" + l.id() + "': " + werr;
        return nullptr;
      }
      d.spec = *spec;
    }
    out->limits.emplace(d.id, std::move(d));
  }
  for (const auto& k : s.virtual_keys()) {
    if (k.key_hash().size() != 32) {
      *error = "virtual key '" + k.id() + "' has a malformed hash";
      return nullptr;
    }
    KeyEntry e;
    e.id = k.id();
    e.name = k.name();
    e.hash = k.key_hash();
    e.active = k.active();
    e.status = k.status().empty() ? (k.active() ? "active" : "revoked") : k.status();
    e.expiresAtMs = k.expires_at_ms();
    e.teamId = k.team_id();
    e.teamName = k.team_name();
    e.customerId = k.customer_id();
    e.customerName = k.customer_name();
    e.logContent = k.log_content();
    e.allowedProviders.assign(k.allowed_providers().begin(), k.allowed_providers().end());
    e.allowedModels.assign(k.allowed_models().begin(), k.allowed_models().end());
    for (const auto& id : k.limit_ids()) {
      auto it = out->limits.find(id);
      if (it == out->limits.end()) {
        *error = "virtual key '" + k.id() + "' refers to an unknown limit '" + id + "'";
        return nullptr;
      }
      if (it->second.provider.empty()) e.limits.push_back(&it->second);
      else e.providerLimits[it->second.provider].push_back(&it->second);
    }
    for (auto& [provider, list] : e.providerLimits) list.insert(list.begin(), e.limits.begin(), e.limits.end());
    out->keysByHash[k.key_hash()] = std::move(e);
  }
  for (const auto& p : s.prices()) {
    Price price;
    price.input = p.input();
    price.output = p.output();
    price.cachedInput = p.cached_input();
    price.cacheWrite = p.cache_write();
    price.hasCachedInput = p.has_cached_input();
    price.hasCacheWrite = p.has_cache_write();
    price.perImage = p.per_image();
    price.perSecond = p.per_second();
    out->prices.add(p.provider(), p.model(), price);
  }
  const auto& settings = s.settings();
  out->enforceKeys = settings.enforce_keys();
  out->logContent = settings.log_content();
  for (const auto& h : settings.forward_headers()) out->forwardHeaders.insert(asciiLower(h));
  for (const auto& h : settings.extra_headers()) out->extraHeaders.add(asciiLower(h));
  for (const auto& h : settings.allowed_headers()) out->corsAllowedHeaders.add(asciiLower(h));
  for (const auto& o : settings.allowed_origins()) {
    std::string originError;
    auto pattern = parseOriginPattern(o, &originError);
    if (!pattern) {
      *error = "allowed_origins: " + originError;
      return nullptr;
    }
    out->corsOrigins.push_back(std::move(*pattern));
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
