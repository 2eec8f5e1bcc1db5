#include "controlplane/grpc/admin_service.h"

#include <google/protobuf/util/time_util.h>

#include "common/log.h"
#include "controlplane/snapshot/builder.h"

namespace finops::cp {

using google::protobuf::util::TimeUtil;
namespace v1 = finops::v1;

std::string redactSecret(const std::string& secret) {
  if (secret.size() < 12) return "****";
  return secret.substr(0, 3) + "..." + secret.substr(secret.size() - 4);
}

namespace {

class CallError {
 public:
  CallError(grpc::StatusCode code, std::string msg) : code(code), msg(std::move(msg)) {}
  grpc::StatusCode code;
  std::string msg;
};

void toInfo(const ProviderRow& r, v1::ProviderInfo* out) {
  out->set_name(r.name);
  out->set_type(providerTypeFromString(r.type));
  out->set_base_url(r.baseUrl);
  for (const auto& k : r.keys) {
    auto* ki = out->add_keys();
    ki->set_id(k.id);
    ki->set_redacted(redactSecret(k.value));
  }
  for (const auto& m : r.models) out->add_models(m);
  out->set_list_upstream_models(r.listUpstreamModels);
  *out->mutable_created_at() = TimeUtil::SecondsToTimestamp(r.createdAt);
  *out->mutable_updated_at() = TimeUtil::SecondsToTimestamp(r.updatedAt);
}

void toInfo(const VirtualKeyRow& r, v1::VirtualKeyInfo* out) {
  out->set_id(r.id);
  out->set_name(r.name);
  out->set_key_prefix(r.keyPrefix);
  out->set_status(r.status);
  *out->mutable_created_at() = TimeUtil::SecondsToTimestamp(r.createdAt);
  if (r.revokedAt) *out->mutable_revoked_at() = TimeUtil::SecondsToTimestamp(*r.revokedAt);
}

void toInfo(const SettingsRow& s, uint64_t version, v1::SettingsInfo* out) {
  out->mutable_settings()->set_enforce_keys(s.enforceKeys);
  for (const auto& h : s.forwardHeaders) out->mutable_settings()->add_forward_headers(h);
  out->set_config_version(version);
}

std::string bearerToken(const grpc::CallbackServerContext* ctx) {
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return {};
  std::string_view v(it->second.data(), it->second.size());
  if (v.size() > 7 && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer ")) v.remove_prefix(7);
  return std::string(v);
}

}  // namespace

void AdminServiceImpl::republish() {
  publisher_.publish(std::make_shared<const v1::Snapshot>(buildSnapshot(store_.loadState())));
}

template <typename F>
AdminServiceImpl::Reactor* AdminServiceImpl::run(Ctx* ctx, const char* method, bool mutates,
                                                 F&& body) {
  auto* reactor = ctx->DefaultReactor();
  grpc::Status status;
  std::string who;
  try {
    std::string token = bearerToken(ctx);
    auto admin = token.empty() ? std::nullopt : store_.findAdminToken(token);
    if (!admin) {
      status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                            token.empty() ? "missing admin token" : "invalid admin token");
    } else {
      who = admin->id;
      body(*admin);
      if (mutates) republish();
    }
  } catch (const CallError& e) {
    status = grpc::Status(e.code, e.msg);
  } catch (const StoreError& e) {
    grpc::StatusCode code = grpc::StatusCode::INVALID_ARGUMENT;
    if (e.code() == StoreError::Code::kNotFound) code = grpc::StatusCode::NOT_FOUND;
    if (e.code() == StoreError::Code::kAlreadyExists) code = grpc::StatusCode::ALREADY_EXISTS;
    status = grpc::Status(code, e.what());
  } catch (const std::exception& e) {
    log::error("admin call failed", {{"method", method}, {"error", e.what()}});
    status = grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
  }
  log::info("admin call", {{"method", method},
                           {"token_id", who},
                           {"peer", ctx->peer()},
                           {"status", status.ok() ? "OK" : status.error_message()}});
  reactor->Finish(status);
  return reactor;
}

AdminServiceImpl::Reactor* AdminServiceImpl::WhoAmI(Ctx* ctx, const v1::WhoAmIRequest*,
                                                    v1::WhoAmIResponse* resp) {
  return run(ctx, "WhoAmI", false, [&](const AdminTokenRow& t) {
    resp->set_token_id(t.id);
    resp->set_token_name(t.name);
    resp->set_scope(t.scope);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::CreateProvider(Ctx* ctx,
                                                            const v1::CreateProviderRequest* req,
                                                            v1::ProviderInfo* resp) {
  return run(ctx, "CreateProvider", true, [&](const AdminTokenRow&) {
    ProviderRow row;
    row.name = req->name();
    auto type = req->type() == v1::PROVIDER_TYPE_UNSPECIFIED ? v1::PROVIDER_TYPE_OPENAI_COMPATIBLE
                                                             : req->type();
    row.type = providerTypeToString(type);
    if (row.type == "unspecified")
      throw CallError(grpc::StatusCode::INVALID_ARGUMENT, "unsupported provider type");
    row.baseUrl = req->base_url().empty() ? defaultBaseUrl(req->name()) : req->base_url();
    if (row.baseUrl.empty())
      throw CallError(grpc::StatusCode::INVALID_ARGUMENT,
                      "provider '" + req->name() +
                          "' has no default base URL; pass --base-url (an OpenAI-compatible API "
                          "root such as https://host/v1)");
    row.models.assign(req->models().begin(), req->models().end());
    row.listUpstreamModels = req->has_list_upstream_models() ? req->list_upstream_models() : true;
    std::vector<std::string> keys(req->api_keys().begin(), req->api_keys().end());
    toInfo(store_.createProvider(row, keys), resp);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::UpdateProvider(Ctx* ctx,
                                                            const v1::UpdateProviderRequest* req,
                                                            v1::ProviderInfo* resp) {
  return run(ctx, "UpdateProvider", true, [&](const AdminTokenRow&) {
    ProviderPatch patch;
    if (req->has_base_url()) patch.baseUrl = req->base_url();
    if (req->replace_keys()) patch.keys = std::vector<std::string>(req->api_keys().begin(), req->api_keys().end());
    if (req->replace_models()) patch.models = std::vector<std::string>(req->models().begin(), req->models().end());
    if (req->has_list_upstream_models()) patch.listUpstreamModels = req->list_upstream_models();
    toInfo(store_.updateProvider(req->name(), patch), resp);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::GetProvider(Ctx* ctx, const v1::ProviderName* req,
                                                         v1::ProviderInfo* resp) {
  return run(ctx, "GetProvider", false,
             [&](const AdminTokenRow&) { toInfo(store_.getProvider(req->name()), resp); });
}

AdminServiceImpl::Reactor* AdminServiceImpl::ListProviders(Ctx* ctx, const v1::ListProvidersRequest*,
                                                           v1::ListProvidersResponse* resp) {
  return run(ctx, "ListProviders", false, [&](const AdminTokenRow&) {
    for (const auto& p : store_.listProviders()) toInfo(p, resp->add_providers());
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::DeleteProvider(Ctx* ctx, const v1::ProviderName* req,
                                                            v1::ProviderInfo* resp) {
  return run(ctx, "DeleteProvider", true,
             [&](const AdminTokenRow&) { toInfo(store_.deleteProvider(req->name()), resp); });
}

AdminServiceImpl::Reactor* AdminServiceImpl::CreateKey(Ctx* ctx, const v1::CreateKeyRequest* req,
                                                       v1::CreateKeyResponse* resp) {
  return run(ctx, "CreateKey", true, [&](const AdminTokenRow&) {
    auto [row, secret] = store_.createKey(req->name());
    toInfo(row, resp->mutable_key());
    resp->set_secret(secret);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::GetKey(Ctx* ctx, const v1::KeyId* req,
                                                    v1::VirtualKeyInfo* resp) {
  return run(ctx, "GetKey", false, [&](const AdminTokenRow&) { toInfo(store_.getKey(req->id()), resp); });
}

AdminServiceImpl::Reactor* AdminServiceImpl::ListKeys(Ctx* ctx, const v1::ListKeysRequest*,
                                                      v1::ListKeysResponse* resp) {
  return run(ctx, "ListKeys", false, [&](const AdminTokenRow&) {
    for (const auto& k : store_.listKeys()) toInfo(k, resp->add_keys());
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::RevokeKey(Ctx* ctx, const v1::KeyId* req,
                                                       v1::VirtualKeyInfo* resp) {
  return run(ctx, "RevokeKey", true,
             [&](const AdminTokenRow&) { toInfo(store_.revokeKey(req->id()), resp); });
}

AdminServiceImpl::Reactor* AdminServiceImpl::GetSettings(Ctx* ctx, const v1::GetSettingsRequest*,
                                                         v1::SettingsInfo* resp) {
  return run(ctx, "GetSettings", false, [&](const AdminTokenRow&) {
    toInfo(store_.getSettings(), store_.configVersion(), resp);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::UpdateSettings(Ctx* ctx,
                                                            const v1::UpdateSettingsRequest* req,
                                                            v1::SettingsInfo* resp) {
  return run(ctx, "UpdateSettings", true, [&](const AdminTokenRow&) {
    SettingsPatch patch;
    if (req->has_enforce_keys()) patch.enforceKeys = req->enforce_keys();
    if (req->replace_forward_headers())
      patch.forwardHeaders =
          std::vector<std::string>(req->forward_headers().begin(), req->forward_headers().end());
    auto s = store_.updateSettings(patch);
    toInfo(s, store_.configVersion(), resp);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::ListDataPlanes(Ctx* ctx,
                                                            const v1::ListDataPlanesRequest*,
                                                            v1::ListDataPlanesResponse* resp) {
  return run(ctx, "ListDataPlanes", false, [&](const AdminTokenRow&) {
    for (auto& dp : publisher_.dataPlanes()) *resp->add_data_planes() = dp;
    resp->set_config_version(store_.configVersion());
  });
}

}  // namespace finops::cp
