#include "common/clock.h"
#include "controlplane/snapshot/builder.h"

#include <google/protobuf/util/time_util.h>

#include <map>

#include "controlplane/pricing/builtin.h"

namespace finops::cp {

finops::v1::ProviderType providerTypeFromString(const std::string& s) {
  if (s == "openai" || s == "openai-compatible") return finops::v1::PROVIDER_TYPE_OPENAI_COMPATIBLE;
  if (s == "anthropic") return finops::v1::PROVIDER_TYPE_ANTHROPIC;
  if (s == "gemini") return finops::v1::PROVIDER_TYPE_GEMINI;
  if (s == "vertex") return finops::v1::PROVIDER_TYPE_VERTEX;
  return finops::v1::PROVIDER_TYPE_UNSPECIFIED;
}

std::string providerTypeToString(finops::v1::ProviderType t) {
  switch (t) {
    case finops::v1::PROVIDER_TYPE_OPENAI_COMPATIBLE: return "openai";
    case finops::v1::PROVIDER_TYPE_ANTHROPIC: return "anthropic";
    case finops::v1::PROVIDER_TYPE_GEMINI: return "gemini";
    case finops::v1::PROVIDER_TYPE_VERTEX: return "vertex";
    default: return "unspecified";
  }
}

std::string defaultBaseUrl(const std::string& type, const std::string& name,
                           const std::string& vertexLocation) {
  if (type == "anthropic") return "https://api.anthropic.com/v1";
  if (type == "gemini") return "https://generativelanguage.googleapis.com/v1beta";
  if (type == "vertex") {
    if (vertexLocation.empty()) return "";
    if (vertexLocation == "global") return "https://aiplatform.googleapis.com";
    return "https://" + vertexLocation + "-aiplatform.googleapis.com";
  }
  static const std::map<std::string, std::string> kDefaults = {
      {"openai", "https://api.openai.com/v1"},
      {"groq", "https://api.groq.com/openai/v1"},
      {"mistral", "https://api.mistral.ai/v1"},
      {"cerebras", "https://api.cerebras.ai/v1"},
      {"perplexity", "https://api.perplexity.ai"},
      {"xai", "https://api.x.ai/v1"},
      {"openrouter", "https://openrouter.ai/api/v1"},
      {"nebius", "https://api.studio.nebius.com/v1"},
      {"parasail", "https://api.parasail.io/v1"},
      {"huggingface", "https://router.huggingface.co/v1"},
      {"ollama", "http://127.0.0.1:11434/v1"},
      {"vllm", "http://127.0.0.1:8000/v1"},
      {"sgl", "http://127.0.0.1:30000/v1"},
  };
  auto it = kDefaults.find(name);
  return it == kDefaults.end() ? "" : it->second;
}

finops::v1::Snapshot buildSnapshot(const StateView& state) {
  finops::v1::Snapshot s;
  s.set_version(state.version);
  *s.mutable_created_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(wallNowMs());
  for (const auto& p : state.providers) {
    auto* out = s.add_providers();
    out->set_name(p.name);
    out->set_type(providerTypeFromString(p.type));
    out->set_base_url(p.baseUrl);
    for (const auto& k : p.keys) {
      auto* key = out->add_keys();
      key->set_id(k.id);
      key->set_value(k.value);
    }
    for (const auto& m : p.models) out->add_models(m);
    out->set_list_upstream_models(p.listUpstreamModels);
    auto* o = out->mutable_options();
    o->set_default_max_tokens(p.options.defaultMaxTokens);
    o->set_vertex_project(p.options.vertexProject);
    o->set_vertex_location(p.options.vertexLocation);
    o->set_token_url(p.options.tokenUrl);
  }
  std::map<std::string, std::vector<const LimitRow*>> limitsByOwner;
  for (const auto& l : state.limits) {
    limitsByOwner[l.ownerKind + ":" + l.ownerId].push_back(&l);
    auto* out = s.add_limits();
    out->set_id(l.id);
    out->set_name(l.name);
    out->set_kind(l.kind == "budget"     ? finops::v1::LIMIT_KIND_BUDGET
                  : l.kind == "requests" ? finops::v1::LIMIT_KIND_REQUESTS
                  : l.kind == "tokens"   ? finops::v1::LIMIT_KIND_TOKENS
                                         : finops::v1::LIMIT_KIND_CONCURRENCY);
    out->set_amount(l.amount);
    out->set_window(l.window);
    out->set_calendar(l.calendar);
    out->set_anchor_ms(l.anchorMs);
    out->set_owner(l.ownerKind + " " + l.ownerName);
    out->set_provider(l.provider);
  }
  for (const auto& k : state.keys) {
    auto* out = s.add_virtual_keys();
    out->set_id(k.id);
    out->set_name(k.name);
    out->set_key_hash(k.keyHash);
    out->set_active(k.status == "active");
    out->set_status(k.status);
    if (k.expiresAt) out->set_expires_at_ms(*k.expiresAt * 1000);
    out->set_team_id(k.teamId);
    out->set_team_name(k.teamName);
    out->set_customer_id(k.effectiveCustomerId);
    out->set_customer_name(k.effectiveCustomerName);
    for (const auto& p : k.allowedProviders) out->add_allowed_providers(p);
    for (const auto& m : k.allowedModels) out->add_allowed_models(m);
    out->set_log_content(k.logContent);
    for (const auto& owner : {"key:" + k.id, "team:" + k.teamId, "customer:" + k.effectiveCustomerId}) {
      if (owner.back() == ':') continue;
      auto it = limitsByOwner.find(owner);
      if (it == limitsByOwner.end()) continue;
      for (const LimitRow* l : it->second) out->add_limit_ids(l->id);
    }
  }
  for (const auto& p : mergePrices(builtinPrices().prices, state.customPrices)) {
    auto* out = s.add_prices();
    out->set_provider(p.provider);
    out->set_model(p.model);
    out->set_input(p.input);
    out->set_output(p.output);
    out->set_has_cached_input(p.cachedInput.has_value());
    out->set_cached_input(p.cachedInput.value_or(0));
    out->set_has_cache_write(p.cacheWrite.has_value());
    out->set_cache_write(p.cacheWrite.value_or(0));
    out->set_per_image(p.perImage);
    out->set_per_second(p.perSecond);
  }
  s.mutable_settings()->set_enforce_keys(state.settings.enforceKeys);
  for (const auto& h : state.settings.forwardHeaders) s.mutable_settings()->add_forward_headers(h);
  for (const auto& h : state.settings.allowedHeaders) s.mutable_settings()->add_allowed_headers(h);
  for (const auto& o : state.settings.allowedOrigins) s.mutable_settings()->add_allowed_origins(o);
  for (const auto& h : state.settings.extraHeaders) s.mutable_settings()->add_extra_headers(h);
  s.mutable_settings()->set_log_content(state.settings.logContent);
  return s;
}

}  // namespace finops::cp
