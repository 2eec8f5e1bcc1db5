#include "controlplane/snapshot/builder.h"

#include <google/protobuf/util/time_util.h>

#include <map>

namespace finops::cp {

finops::v1::ProviderType providerTypeFromString(const std::string& s) {
  if (s == "openai" || s == "openai-compatible") return finops::v1::PROVIDER_TYPE_OPENAI_COMPATIBLE;
  return finops::v1::PROVIDER_TYPE_UNSPECIFIED;
}

std::string providerTypeToString(finops::v1::ProviderType t) {
  switch (t) {
    case finops::v1::PROVIDER_TYPE_OPENAI_COMPATIBLE: return "openai";
    default: return "unspecified";
  }
}

std::string defaultBaseUrl(const std::string& name) {
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
  *s.mutable_created_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
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
  }
  for (const auto& k : state.keys) {
    auto* out = s.add_virtual_keys();
    out->set_id(k.id);
    out->set_name(k.name);
    out->set_key_hash(k.keyHash);
    out->set_active(k.status == "active");
  }
  s.mutable_settings()->set_enforce_keys(state.settings.enforceKeys);
  for (const auto& h : state.settings.forwardHeaders) s.mutable_settings()->add_forward_headers(h);
  return s;
}

}  // namespace finops::cp
