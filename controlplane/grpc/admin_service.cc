#include "common/clock.h"
#include "controlplane/grpc/admin_service.h"

#include "controlplane/grpc/dataplane_auth.h"

#include <google/protobuf/util/time_util.h>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "controlplane/grpc/admin_scopes.h"
#include "controlplane/pricing/builtin.h"
#include "controlplane/snapshot/builder.h"
#include "controlplane/store/log_store.h"

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
    if (r.type == "vertex") {
      // A service-account key: name the account, never the private key.
      auto sa = nlohmann::json::parse(k.value, nullptr, false);
      std::string email = sa.is_object() ? sa.value("client_email", std::string()) : std::string();
      ki->set_redacted("service-account " + email);
    } else {
      ki->set_redacted(redactSecret(k.value));
    }
  }
  auto* o = out->mutable_options();
  o->set_default_max_tokens(r.options.defaultMaxTokens);
  o->set_vertex_project(r.options.vertexProject);
  o->set_vertex_location(r.options.vertexLocation);
  o->set_token_url(r.options.tokenUrl);
  for (const auto& m : r.models) out->add_models(m);
  out->set_list_upstream_models(r.listUpstreamModels);
  *out->mutable_created_at() = TimeUtil::SecondsToTimestamp(r.createdAt);
  *out->mutable_updated_at() = TimeUtil::SecondsToTimestamp(r.updatedAt);
}

v1::LimitKind kindFromString(const std::string& k) {
  if (k == "budget") return v1::LIMIT_KIND_BUDGET;
  if (k == "requests") return v1::LIMIT_KIND_REQUESTS;
  if (k == "tokens") return v1::LIMIT_KIND_TOKENS;
  if (k == "concurrency") return v1::LIMIT_KIND_CONCURRENCY;
  return v1::LIMIT_KIND_UNSPECIFIED;
}

std::string kindToString(v1::LimitKind k) {
  switch (k) {
    case v1::LIMIT_KIND_BUDGET: return "budget";
    case v1::LIMIT_KIND_REQUESTS: return "requests";
    case v1::LIMIT_KIND_TOKENS: return "tokens";
    case v1::LIMIT_KIND_CONCURRENCY: return "concurrency";
    default: return "";
  }
}

void toInfo(const LimitRow& r, v1::LimitInfo* out) {
  out->set_id(r.id);
  out->set_name(r.name);
  out->set_kind(kindFromString(r.kind));
  out->set_owner_kind(r.ownerKind);
  out->set_owner(r.ownerName);
  out->set_owner_id(r.ownerId);
  out->set_provider(r.provider);
  out->set_amount(r.amount);
  out->set_window(r.window);
  out->set_calendar(r.calendar);
  if (r.windowEndMs) {
    *out->mutable_window_start() = TimeUtil::MillisecondsToTimestamp(r.windowStartMs);
    *out->mutable_resets_at() = TimeUtil::MillisecondsToTimestamp(r.windowEndMs);
  }
  out->set_used(r.used);
  *out->mutable_created_at() = TimeUtil::SecondsToTimestamp(r.createdAt);
}

void toInfo(const VirtualKeyRow& r, v1::VirtualKeyInfo* out) {
  out->set_id(r.id);
  out->set_name(r.name);
  out->set_key_prefix(r.keyPrefix);
  out->set_status(r.status);
  *out->mutable_created_at() = TimeUtil::SecondsToTimestamp(r.createdAt);
  if (r.revokedAt) *out->mutable_revoked_at() = TimeUtil::SecondsToTimestamp(*r.revokedAt);
  if (r.rotatedAt) *out->mutable_rotated_at() = TimeUtil::SecondsToTimestamp(*r.rotatedAt);
  out->set_team(r.teamName);
  out->set_customer(r.customerName);
  if (r.expiresAt) *out->mutable_expires_at() = TimeUtil::SecondsToTimestamp(*r.expiresAt);
  for (const auto& p : r.allowedProviders) out->add_allowed_providers(p);
  for (const auto& m : r.allowedModels) out->add_allowed_models(m);
  out->set_log_content(r.logContent);
}

void toInfo(const CustomerRow& r, v1::CustomerInfo* out) {
  out->set_id(r.id);
  out->set_name(r.name);
  out->set_teams(r.teams);
  out->set_keys(r.keys);
  *out->mutable_created_at() = TimeUtil::SecondsToTimestamp(r.createdAt);
}

void toInfo(const TeamRow& r, v1::TeamInfo* out) {
  out->set_id(r.id);
  out->set_name(r.name);
  out->set_customer(r.customerName);
  out->set_keys(r.keys);
  *out->mutable_created_at() = TimeUtil::SecondsToTimestamp(r.createdAt);
}

void toInfo(const PriceRow& r, v1::PriceInfo* out) {
  auto* p = out->mutable_price();
  p->set_provider(r.provider);
  p->set_model(r.model);
  p->set_input(r.input);
  p->set_output(r.output);
  p->set_has_cached_input(r.cachedInput.has_value());
  p->set_cached_input(r.cachedInput.value_or(0));
  p->set_has_cache_write(r.cacheWrite.has_value());
  p->set_cache_write(r.cacheWrite.value_or(0));
  p->set_per_image(r.perImage);
  p->set_per_second(r.perSecond);
  out->set_source(r.source);
}

void toRow(const UsageAgg& a, v1::UsageRow* out) {
  for (const auto& [k, v] : a.group) (*out->mutable_group())[k] = v;
  out->set_requests(a.requests);
  out->set_prompt_tokens(a.promptTokens);
  out->set_completion_tokens(a.completionTokens);
  out->set_cached_tokens(a.cachedTokens);
  out->set_cost_nano(a.costNano);
  out->set_unpriced_requests(a.unpriced);
  out->set_estimated_requests(a.estimated);
  out->set_failed_requests(a.failed);
}

void toInfo(const SettingsRow& s, uint64_t version, v1::SettingsInfo* out) {
  auto* st = out->mutable_settings();
  st->set_enforce_keys(s.enforceKeys);
  for (const auto& h : s.forwardHeaders) st->add_forward_headers(h);
  for (const auto& h : s.allowedHeaders) st->add_allowed_headers(h);
  for (const auto& o : s.allowedOrigins) st->add_allowed_origins(o);
  for (const auto& h : s.extraHeaders) st->add_extra_headers(h);
  st->set_log_content(s.logContent);
  out->set_config_version(version);
  out->set_revision(s.revision);
}


// The status code's name, as the audit log records it.
const char* codeName(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

bool secretChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// Text for the audit log and log lines: at most `max` bytes (cut on a UTF-8 boundary), control
// characters replaced, and anything shaped like a secret (a word starting with "sk-", such as a
// virtual key or an upstream API key, or with "fo-admin-") cut to its prefix and "***", so a
// secret typed by mistake where a name was expected is not recorded.
std::string auditText(std::string s, size_t max) {
  for (std::string_view prefix : {std::string_view(kAdminTokenPrefix), std::string_view("sk-")}) {
    size_t pos = 0;
    while ((pos = s.find(prefix, pos)) != std::string::npos) {
      size_t start = pos + prefix.size();
      if (pos > 0 && secretChar(s[pos - 1])) {
        pos = start;
        continue;
      }
      size_t end = start;
      while (end < s.size() && secretChar(s[end])) ++end;
      s.replace(start, end - start, "***");
      pos = start + 3;
    }
  }
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  if (s.size() > max) {
    size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    s.resize(n);
    s += "...";
  }
  return s;
}

void toInfo(const AdminTokenRow& r, v1::AdminTokenInfo* out) {
  out->set_id(r.id);
  out->set_name(r.name);
  out->set_scope(r.scope);
  *out->mutable_created_at() = TimeUtil::SecondsToTimestamp(r.createdAt);
  if (r.revokedAt) *out->mutable_revoked_at() = TimeUtil::SecondsToTimestamp(*r.revokedAt);
  if (r.lastUsedAt) *out->mutable_last_used_at() = TimeUtil::SecondsToTimestamp(*r.lastUsedAt);
  out->set_created_by(r.createdBy);
}

void toEntry(const AuditRow& r, v1::AuditEntry* out) {
  out->set_id(r.id);
  *out->mutable_at() = TimeUtil::MillisecondsToTimestamp(r.atMs);
  out->set_token_id(r.tokenId);
  out->set_token_name(r.tokenName);
  out->set_scope(r.scope);
  out->set_method(r.method);
  out->set_target(r.target);
  out->set_code(r.code);
  out->set_message(r.message);
  out->set_peer(r.peer);
}

}  // namespace

void AdminServiceImpl::republish() {
  publisher_.publish(std::make_shared<const v1::Snapshot>(buildSnapshot(store_.loadState())));
}

template <typename F>
AdminServiceImpl::Reactor* AdminServiceImpl::run(Ctx* ctx, const char* method, std::string target,
                                                 bool mutates, F&& body, bool recordSuccess) {
  auto* reactor = ctx->DefaultReactor();
  grpc::Status status;
  AuditRow audit;
  audit.atMs = wallNowMs();
  audit.method = method;
  audit.target = auditText(std::move(target), 256);
  audit.peer = ctx->peer();
  try {
    std::string token = bearerToken(*ctx);
    auto admin = token.empty() ? std::nullopt : store_.authenticateAdminToken(token, audit.atMs);
    if (!admin) {
      status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, token.empty()
                                                                   ? "missing admin token"
                                                                   : "invalid or revoked admin token");
    } else {
      audit.tokenId = admin->id;
      audit.tokenName = admin->name;
      audit.scope = admin->scope;
      if (!scopeAllows(admin->scope, method)) {
        status = grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                              "admin token '" + admin->name + "' (scope " + admin->scope +
                                  ") may not call " + method + "; it needs scope " +
                                  scopesAllowing(method));
      } else {
        body(*admin);
        if (mutates) republish();
      }
    }
  } catch (const CallError& e) {
    status = grpc::Status(e.code, e.msg);
  } catch (const StoreError& e) {
    grpc::StatusCode code = grpc::StatusCode::INVALID_ARGUMENT;
    if (e.code() == StoreError::Code::kNotFound) code = grpc::StatusCode::NOT_FOUND;
    if (e.code() == StoreError::Code::kAlreadyExists) code = grpc::StatusCode::ALREADY_EXISTS;
    if (e.code() == StoreError::Code::kFailedPrecondition)
      code = grpc::StatusCode::FAILED_PRECONDITION;
    if (e.code() == StoreError::Code::kAborted) code = grpc::StatusCode::ABORTED;
    status = grpc::Status(code, e.what());
  } catch (const SecretsError& e) {
    // A master key or a stored provider key that cannot be used (no keyring installed, a value
    // that does not decrypt). The message names the provider, row or key id, never a secret.
    log::error("admin call failed: provider secrets",
               {{"method", method}, {"error", auditText(e.what(), 1024)}});
    status = grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, e.what());
  } catch (const std::exception& e) {
    log::error("admin call failed", {{"method", method}, {"error", auditText(e.what(), 1024)}});
    status = grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
  }
  audit.code = codeName(status.error_code());
  if (calls_) calls_->add({method, audit.code});
  if (!status.ok()) audit.message = auditText(status.error_message(), 1024);
  if (status.ok() && !recordSuccess) {
    reactor->Finish(status);
    return reactor;
  }
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    // Anyone who reaches the port can make these: no caller-chosen text, and a bounded number
    // of rows, so that a flood cannot grow the database without end.
    audit.target.clear();
    int64_t suppressedBefore = 0;
    if (!admitUnauthenticatedAudit(audit.atMs, &suppressedBefore)) {
      reactor->Finish(status);
      return reactor;
    }
    if (suppressedBefore > 0)
      audit.message += " (" + std::to_string(suppressedBefore) +
                       " more unauthenticated calls in the previous minute were not recorded)";
  }
  try {
    store_.appendAudit(audit);
  } catch (const std::exception& e) {
    // The call's result stands (a change is already committed); the log keeps the record.
    log::error("cannot write the audit log",
               {{"method", method}, {"token_id", audit.tokenId}, {"token_name", audit.tokenName},
                {"target", audit.target}, {"code", audit.code}, {"peer", audit.peer},
                {"error", e.what()}});
  }
  log::info("admin call", {{"method", method},
                           {"token_id", audit.tokenId},
                           {"token_name", audit.tokenName},
                           {"scope", audit.scope},
                           {"target", audit.target},
                           {"peer", audit.peer},
                           {"code", audit.code},
                           {"status", status.ok() ? "OK" : audit.message}});
  reactor->Finish(status);
  return reactor;
}

bool AdminServiceImpl::admitUnauthenticatedAudit(int64_t nowMs, int64_t* suppressedBefore) {
  std::lock_guard lock(unauthMu_);
  if (nowMs - unauthWindowStartMs_ >= 60'000) {
    unauthWindowStartMs_ = nowMs;
    unauthRecorded_ = 0;
    *suppressedBefore = unauthSuppressed_;
    unauthSuppressed_ = 0;
  }
  if (unauthRecorded_ >= kUnauthenticatedAuditPerMinute) {
    ++unauthSuppressed_;
    return false;
  }
  ++unauthRecorded_;
  return true;
}

AdminServiceImpl::Reactor* AdminServiceImpl::WhoAmI(Ctx* ctx, const v1::WhoAmIRequest*,
                                                    v1::WhoAmIResponse* resp) {
  return run(ctx, "WhoAmI", "", false, [&](const AdminTokenRow& t) {
    resp->set_token_id(t.id);
    resp->set_token_name(t.name);
    resp->set_scope(t.scope);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::CreateProvider(Ctx* ctx,
                                                            const v1::CreateProviderRequest* req,
                                                            v1::ProviderInfo* resp) {
  return run(ctx, "CreateProvider", req->name(), true, [&](const AdminTokenRow&) {
    ProviderRow row;
    row.name = req->name();
    auto type = req->type() == v1::PROVIDER_TYPE_UNSPECIFIED ? v1::PROVIDER_TYPE_OPENAI_COMPATIBLE
                                                             : req->type();
    row.type = providerTypeToString(type);
    if (row.type == "unspecified")
      throw CallError(grpc::StatusCode::INVALID_ARGUMENT, "unsupported provider type");
    row.options.defaultMaxTokens = req->options().default_max_tokens();
    row.options.vertexProject = req->options().vertex_project();
    row.options.vertexLocation = req->options().vertex_location();
    row.options.tokenUrl = req->options().token_url();
    row.baseUrl = req->base_url().empty()
                      ? defaultBaseUrl(row.type, req->name(), row.options.vertexLocation)
                      : req->base_url();
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
  return run(ctx, "UpdateProvider", req->name(), true, [&](const AdminTokenRow&) {
    ProviderPatch patch;
    if (req->has_base_url()) patch.baseUrl = req->base_url();
    if (req->replace_keys()) patch.keys = std::vector<std::string>(req->api_keys().begin(), req->api_keys().end());
    if (req->replace_models()) patch.models = std::vector<std::string>(req->models().begin(), req->models().end());
    if (req->has_list_upstream_models()) patch.listUpstreamModels = req->list_upstream_models();
    if (req->has_default_max_tokens()) patch.defaultMaxTokens = req->default_max_tokens();
    if (req->has_vertex_project()) patch.vertexProject = req->vertex_project();
    if (req->has_vertex_location()) {
      patch.vertexLocation = req->vertex_location();
      // The default Vertex host follows the location.
      ProviderRow cur = store_.getProvider(req->name());
      if (!req->has_base_url() && cur.type == "vertex" &&
          cur.baseUrl == defaultBaseUrl("vertex", cur.name, cur.options.vertexLocation))
        patch.baseUrl = defaultBaseUrl("vertex", cur.name, req->vertex_location());
    }
    if (req->has_token_url()) patch.tokenUrl = req->token_url();
    toInfo(store_.updateProvider(req->name(), patch), resp);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::GetProvider(Ctx* ctx, const v1::ProviderName* req,
                                                         v1::ProviderInfo* resp) {
  return run(ctx, "GetProvider", req->name(), false,
             [&](const AdminTokenRow&) { toInfo(store_.getProvider(req->name()), resp); });
}

AdminServiceImpl::Reactor* AdminServiceImpl::ListProviders(Ctx* ctx, const v1::ListProvidersRequest*,
                                                           v1::ListProvidersResponse* resp) {
  return run(ctx, "ListProviders", "", false, [&](const AdminTokenRow&) {
    for (const auto& p : store_.listProviders()) toInfo(p, resp->add_providers());
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::DeleteProvider(Ctx* ctx, const v1::ProviderName* req,
                                                            v1::ProviderInfo* resp) {
  return run(ctx, "DeleteProvider", req->name(), true,
             [&](const AdminTokenRow&) { toInfo(store_.deleteProvider(req->name()), resp); });
}

void AdminServiceImpl::keyInfo(const VirtualKeyRow& row, v1::VirtualKeyInfo* out) {
  toInfo(row, out);
  for (const auto& l : store_.listLimits("key", row.id, {})) toInfo(l, out->add_limits());
}

AdminServiceImpl::Reactor* AdminServiceImpl::CreateKey(Ctx* ctx, const v1::CreateKeyRequest* req,
                                                       v1::CreateKeyResponse* resp) {
  return run(ctx, "CreateKey", req->name(), true, [&](const AdminTokenRow&) {
    KeySpec spec;
    spec.name = req->name();
    spec.team = req->team();
    spec.customer = req->customer();
    if (req->has_expires_at()) spec.expiresAt = req->expires_at().seconds();
    spec.allowedProviders.assign(req->allowed_providers().begin(), req->allowed_providers().end());
    spec.allowedModels.assign(req->allowed_models().begin(), req->allowed_models().end());
    spec.disabled = req->disabled();
    spec.logContent = !req->no_content_log();
    auto [row, secret] = store_.createKey(spec);
    toInfo(row, resp->mutable_key());
    resp->set_secret(secret);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::GetKey(Ctx* ctx, const v1::KeyId* req,
                                                    v1::VirtualKeyInfo* resp) {
  return run(ctx, "GetKey", req->id(), false, [&](const AdminTokenRow&) { keyInfo(store_.getKey(req->id()), resp); });
}

AdminServiceImpl::Reactor* AdminServiceImpl::ListKeys(Ctx* ctx, const v1::ListKeysRequest*,
                                                      v1::ListKeysResponse* resp) {
  return run(ctx, "ListKeys", "", false, [&](const AdminTokenRow&) {
    for (const auto& k : store_.listKeys()) toInfo(k, resp->add_keys());
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::UpdateKey(Ctx* ctx, const v1::UpdateKeyRequest* req,
                                                       v1::VirtualKeyInfo* resp) {
  return run(ctx, "UpdateKey", req->id(), true, [&](const AdminTokenRow&) {
    KeyPatch patch;
    if (req->has_name()) patch.name = req->name();
    if (req->has_team()) patch.team = req->team();
    if (req->has_customer()) patch.customer = req->customer();
    if (req->clear_expiry()) patch.expiresAt = std::optional<int64_t>();
    else if (req->has_expires_at()) patch.expiresAt = std::optional<int64_t>(req->expires_at().seconds());
    if (req->replace_allowed_providers())
      patch.allowedProviders = std::vector<std::string>(req->allowed_providers().begin(), req->allowed_providers().end());
    if (req->replace_allowed_models())
      patch.allowedModels = std::vector<std::string>(req->allowed_models().begin(), req->allowed_models().end());
    if (req->has_status()) patch.status = req->status();
    if (req->has_log_content()) patch.logContent = req->log_content();
    keyInfo(store_.updateKey(req->id(), patch), resp);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::RotateKey(Ctx* ctx, const v1::KeyId* req,
                                                       v1::CreateKeyResponse* resp) {
  return run(ctx, "RotateKey", req->id(), true, [&](const AdminTokenRow&) {
    auto [row, secret] = store_.rotateKey(req->id());
    toInfo(row, resp->mutable_key());
    resp->set_secret(secret);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::DeleteKey(Ctx* ctx, const v1::KeyId* req,
                                                       v1::VirtualKeyInfo* resp) {
  return run(ctx, "DeleteKey", req->id(), true, [&](const AdminTokenRow&) { toInfo(store_.deleteKey(req->id()), resp); });
}

void AdminServiceImpl::customerInfo(const CustomerRow& row, v1::CustomerInfo* out) {
  toInfo(row, out);
  for (const auto& l : store_.listLimits("customer", row.id, {})) toInfo(l, out->add_limits());
}

void AdminServiceImpl::teamInfo(const TeamRow& row, v1::TeamInfo* out) {
  toInfo(row, out);
  for (const auto& l : store_.listLimits("team", row.id, {})) toInfo(l, out->add_limits());
}

AdminServiceImpl::Reactor* AdminServiceImpl::CreateCustomer(Ctx* ctx, const v1::CreateCustomerRequest* req,
                                                            v1::CustomerInfo* resp) {
  return run(ctx, "CreateCustomer", req->name(), true,
             [&](const AdminTokenRow&) { toInfo(store_.createCustomer(req->name()), resp); });
}

AdminServiceImpl::Reactor* AdminServiceImpl::UpdateCustomer(Ctx* ctx, const v1::UpdateCustomerRequest* req,
                                                            v1::CustomerInfo* resp) {
  return run(ctx, "UpdateCustomer", req->id(), true, [&](const AdminTokenRow&) {
    if (!req->has_name()) {
      customerInfo(store_.getCustomer(req->id()), resp);
      return;
    }
    customerInfo(store_.renameCustomer(req->id(), req->name()), resp);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::GetCustomer(Ctx* ctx, const v1::KeyId* req,
                                                         v1::CustomerInfo* resp) {
  return run(ctx, "GetCustomer", req->id(), false,
             [&](const AdminTokenRow&) { customerInfo(store_.getCustomer(req->id()), resp); });
}

AdminServiceImpl::Reactor* AdminServiceImpl::ListCustomers(Ctx* ctx, const v1::ListCustomersRequest*,
                                                           v1::ListCustomersResponse* resp) {
  return run(ctx, "ListCustomers", "", false, [&](const AdminTokenRow&) {
    for (const auto& c : store_.listCustomers()) customerInfo(c, resp->add_customers());
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::DeleteCustomer(Ctx* ctx, const v1::KeyId* req,
                                                            v1::CustomerInfo* resp) {
  return run(ctx, "DeleteCustomer", req->id(), true,
             [&](const AdminTokenRow&) { toInfo(store_.deleteCustomer(req->id()), resp); });
}

AdminServiceImpl::Reactor* AdminServiceImpl::CreateTeam(Ctx* ctx, const v1::CreateTeamRequest* req,
                                                        v1::TeamInfo* resp) {
  return run(ctx, "CreateTeam", req->name(), true,
             [&](const AdminTokenRow&) { toInfo(store_.createTeam(req->name(), req->customer()), resp); });
}

AdminServiceImpl::Reactor* AdminServiceImpl::UpdateTeam(Ctx* ctx, const v1::UpdateTeamRequest* req,
                                                        v1::TeamInfo* resp) {
  return run(ctx, "UpdateTeam", req->id(), true, [&](const AdminTokenRow&) {
    std::optional<std::string> name, customer;
    if (req->has_name()) name = req->name();
    if (req->has_customer()) customer = req->customer();
    teamInfo(store_.updateTeam(req->id(), name, customer), resp);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::GetTeam(Ctx* ctx, const v1::KeyId* req, v1::TeamInfo* resp) {
  return run(ctx, "GetTeam", req->id(), false, [&](const AdminTokenRow&) { teamInfo(store_.getTeam(req->id()), resp); });
}

AdminServiceImpl::Reactor* AdminServiceImpl::ListTeams(Ctx* ctx, const v1::ListTeamsRequest* req,
                                                       v1::ListTeamsResponse* resp) {
  return run(ctx, "ListTeams", req->customer(), false, [&](const AdminTokenRow&) {
    for (const auto& t : store_.listTeams(req->customer())) teamInfo(t, resp->add_teams());
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::DeleteTeam(Ctx* ctx, const v1::KeyId* req, v1::TeamInfo* resp) {
  return run(ctx, "DeleteTeam", req->id(), true, [&](const AdminTokenRow&) { toInfo(store_.deleteTeam(req->id()), resp); });
}

AdminServiceImpl::Reactor* AdminServiceImpl::CreateLimit(Ctx* ctx, const v1::CreateLimitRequest* req,
                                                         v1::LimitInfo* resp) {
  std::string target = req->owner_kind() + ":" + req->owner();
  return run(ctx, "CreateLimit", target, true, [&](const AdminTokenRow&) {
    LimitSpec spec;
    spec.ownerKind = req->owner_kind();
    spec.owner = req->owner();
    spec.provider = req->provider();
    spec.name = req->name();
    spec.kind = kindToString(req->kind());
    spec.amount = req->amount();
    spec.window = req->window();
    spec.calendar = req->calendar();
    toInfo(store_.createLimit(spec), resp);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::UpdateLimit(Ctx* ctx, const v1::UpdateLimitRequest* req,
                                                         v1::LimitInfo* resp) {
  return run(ctx, "UpdateLimit", req->id(), true, [&](const AdminTokenRow&) {
    LimitPatch patch;
    if (req->has_amount()) patch.amount = req->amount();
    if (req->has_window()) patch.window = req->window();
    if (req->has_calendar()) patch.calendar = req->calendar();
    toInfo(store_.updateLimit(req->id(), patch), resp);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::GetLimit(Ctx* ctx, const v1::LimitId* req, v1::LimitInfo* resp) {
  return run(ctx, "GetLimit", req->id(), false, [&](const AdminTokenRow&) { toInfo(store_.getLimit(req->id()), resp); });
}

AdminServiceImpl::Reactor* AdminServiceImpl::ListLimits(Ctx* ctx, const v1::ListLimitsRequest* req,
                                                        v1::ListLimitsResponse* resp) {
  std::string target = req->owner().empty() ? "" : req->owner_kind() + ":" + req->owner();
  return run(ctx, "ListLimits", target, false, [&](const AdminTokenRow&) {
    std::vector<std::string> kinds;
    for (int k : req->kinds()) kinds.push_back(kindToString(static_cast<v1::LimitKind>(k)));
    for (const auto& l : store_.listLimits(req->owner_kind(), req->owner(), kinds)) toInfo(l, resp->add_limits());
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::DeleteLimit(Ctx* ctx, const v1::LimitId* req, v1::LimitInfo* resp) {
  return run(ctx, "DeleteLimit", req->id(), true, [&](const AdminTokenRow&) { toInfo(store_.deleteLimit(req->id()), resp); });
}

AdminServiceImpl::Reactor* AdminServiceImpl::ListPrices(Ctx* ctx, const v1::ListPricesRequest* req,
                                                        v1::ListPricesResponse* resp) {
  return run(ctx, "ListPrices", req->provider(), false, [&](const AdminTokenRow&) {
    resp->set_builtin_as_of(builtinPrices().asOf);
    for (const auto& p : mergePrices(builtinPrices().prices, store_.listCustomPrices())) {
      if (!req->provider().empty() && p.provider != req->provider()) continue;
      if (!req->model().empty() && p.model.find(req->model()) == std::string::npos) continue;
      toInfo(p, resp->add_prices());
    }
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::SetPrice(Ctx* ctx, const v1::SetPriceRequest* req,
                                                      v1::PriceInfo* resp) {
  std::string target = req->price().provider() + "/" + req->price().model();
  return run(ctx, "SetPrice", target, true, [&](const AdminTokenRow&) {
    const auto& p = req->price();
    PriceRow row;
    row.provider = p.provider();
    row.model = p.model();
    row.input = p.input();
    row.output = p.output();
    if (p.has_cached_input()) row.cachedInput = p.cached_input();
    if (p.has_cache_write()) row.cacheWrite = p.cache_write();
    row.perImage = p.per_image();
    row.perSecond = p.per_second();
    toInfo(store_.setPrice(row), resp);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::DeletePrice(Ctx* ctx, const v1::DeletePriceRequest* req,
                                                         v1::PriceInfo* resp) {
  return run(ctx, "DeletePrice", req->provider() + "/" + req->model(), true,
             [&](const AdminTokenRow&) { toInfo(store_.deletePrice(req->provider(), req->model()), resp); });
}

AdminServiceImpl::Reactor* AdminServiceImpl::GetUsage(Ctx* ctx, const v1::UsageQuery* req,
                                                      v1::UsageResponse* resp) {
  return run(ctx, "GetUsage", "", false, [&](const AdminTokenRow&) {
    int64_t now = wallNowMs();
    UsageFilter f;
    f.toMs = req->has_to() ? TimeUtil::TimestampToMilliseconds(req->to()) : now + 1;
    f.fromMs = req->has_from() ? TimeUtil::TimestampToMilliseconds(req->from())
                               : f.toMs - 30LL * 24 * 3600 * 1000;
    if (f.fromMs > f.toMs) throw CallError(grpc::StatusCode::INVALID_ARGUMENT, "'from' is after 'to'");
    f.groupBy.assign(req->group_by().begin(), req->group_by().end());
    f.key = req->key();
    f.team = req->team();
    f.customer = req->customer();
    f.provider = req->provider();
    f.model = req->model();
    UsageAgg total;
    for (const auto& a : store_.queryUsage(f, &total)) toRow(a, resp->add_rows());
    toRow(total, resp->mutable_total());
    *resp->mutable_from() = TimeUtil::MillisecondsToTimestamp(f.fromMs);
    *resp->mutable_to() = TimeUtil::MillisecondsToTimestamp(f.toMs);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::RevokeKey(Ctx* ctx, const v1::KeyId* req,
                                                       v1::VirtualKeyInfo* resp) {
  return run(ctx, "RevokeKey", req->id(), true,
             [&](const AdminTokenRow&) { toInfo(store_.revokeKey(req->id()), resp); });
}

AdminServiceImpl::Reactor* AdminServiceImpl::GetSettings(Ctx* ctx, const v1::GetSettingsRequest*,
                                                         v1::SettingsInfo* resp) {
  return run(ctx, "GetSettings", "", false, [&](const AdminTokenRow&) {
    toInfo(store_.getSettings(), store_.configVersion(), resp);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::UpdateSettings(Ctx* ctx,
                                                            const v1::UpdateSettingsRequest* req,
                                                            v1::SettingsInfo* resp) {
  return run(ctx, "UpdateSettings", "", true, [&](const AdminTokenRow&) {
    SettingsPatch patch;
    if (req->has_enforce_keys()) patch.enforceKeys = req->enforce_keys();
    auto list = [](const auto& field) { return std::vector<std::string>(field.begin(), field.end()); };
    if (req->replace_forward_headers()) patch.forwardHeaders = list(req->forward_headers());
    if (req->replace_allowed_headers()) patch.allowedHeaders = list(req->allowed_headers());
    if (req->replace_allowed_origins()) patch.allowedOrigins = list(req->allowed_origins());
    if (req->replace_extra_headers()) patch.extraHeaders = list(req->extra_headers());
    if (req->has_log_content()) patch.logContent = req->log_content();
    if (req->has_if_revision()) patch.ifRevision = req->if_revision();
    auto s = store_.updateSettings(patch);
    toInfo(s, store_.configVersion(), resp);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::ListDataPlanes(Ctx* ctx,
                                                            const v1::ListDataPlanesRequest*,
                                                            v1::ListDataPlanesResponse* resp) {
  return run(ctx, "ListDataPlanes", "", false, [&](const AdminTokenRow&) {
    for (auto& dp : publisher_.dataPlanes()) *resp->add_data_planes() = dp;
    resp->set_config_version(store_.configVersion());
  });
}

// ---- admin tokens and audit. Token changes are not data-plane config: no republish.

AdminServiceImpl::Reactor* AdminServiceImpl::CreateAdminToken(
    Ctx* ctx, const v1::CreateAdminTokenRequest* req, v1::CreateAdminTokenResponse* resp) {
  return run(ctx, "CreateAdminToken", req->name(), false, [&](const AdminTokenRow& caller) {
    auto [row, secret] = store_.createAdminToken(req->name(), req->scope(), caller.id);
    toInfo(row, resp->mutable_token());
    resp->set_secret(secret);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::ListAdminTokens(Ctx* ctx,
                                                             const v1::ListAdminTokensRequest* req,
                                                             v1::ListAdminTokensResponse* resp) {
  return run(ctx, "ListAdminTokens", "", false, [&](const AdminTokenRow&) {
    for (const auto& t : store_.listAdminTokens(req->include_revoked()))
      toInfo(t, resp->add_tokens());
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::RevokeAdminToken(Ctx* ctx, const v1::KeyId* req,
                                                              v1::AdminTokenInfo* resp) {
  return run(ctx, "RevokeAdminToken", req->id(), false, [&](const AdminTokenRow&) {
    if (req->id().empty())
      throw CallError(grpc::StatusCode::INVALID_ARGUMENT, "which admin token? (id or name)");
    toInfo(store_.revokeAdminToken(req->id()), resp);
  });
}

AdminServiceImpl::Reactor* AdminServiceImpl::ListAudit(Ctx* ctx, const v1::ListAuditRequest* req,
                                                       v1::ListAuditResponse* resp) {
  return run(ctx, "ListAudit", req->token_id(), false, [&](const AdminTokenRow&) {
    AuditFilter f;
    if (req->has_since()) f.sinceMs = TimeUtil::TimestampToMilliseconds(req->since());
    if (req->has_until()) f.untilMs = TimeUtil::TimestampToMilliseconds(req->until());
    f.token = req->token_id();
    f.method = req->method();
    if (req->limit() < 0 || req->limit() > 10000)
      throw CallError(grpc::StatusCode::INVALID_ARGUMENT,
                      "limit must be between 1 and 10000 (0: 100)");
    f.limit = req->limit() == 0 ? 100 : req->limit();
    if (req->before_id() < 0)
      throw CallError(grpc::StatusCode::INVALID_ARGUMENT, "before_id cannot be negative");
    f.beforeId = req->before_id();
    for (const auto& r : store_.listAudit(f)) toEntry(r, resp->add_entries());
  });
}

// ---- request logs (LogStore, log_store.h). Reads only: no republish.

namespace {

// The filters of a log query, briefly, for the audit ("provider=openai status=5xx"); the
// search text is named, cut short like every audit target.
std::string logQueryTarget(const v1::LogQuery& q) {
  std::string out;
  auto add = [&](const char* name, const std::string& value) {
    if (value.empty()) return;
    if (!out.empty()) out += ' ';
    out += name;
    out += '=';
    if (value.size() <= 64) {
      out += value;
      return;
    }
    size_t n = 64;  // cut on a UTF-8 boundary
    while (n > 0 && (static_cast<unsigned char>(value[n]) & 0xC0) == 0x80) --n;
    out += value.substr(0, n) + "...";
  };
  add("provider", q.provider());
  add("model", q.model());
  add("key", q.key());
  add("team", q.team());
  add("customer", q.customer());
  add("status", q.status());
  add("error_type", q.error_type());
  add("search", q.search());
  if (q.after_id() > 0) add("after_id", std::to_string(q.after_id()));
  return out;
}

void requireLogs(const LogStore* logs) {
  if (!logs)
    throw CallError(grpc::StatusCode::FAILED_PRECONDITION,
                    "request logs are not available on this control plane");
}

}  // namespace

AdminServiceImpl::Reactor* AdminServiceImpl::ListLogs(Ctx* ctx, const v1::LogQuery* req,
                                                      v1::ListLogsResponse* resp) {
  // Following (after_id: `finopsctl logs --follow`, the live /logs page) polls every second or
  // two: those polls are audited only when they fail; the query that started them is audited.
  return run(
      ctx, "ListLogs", logQueryTarget(*req), false,
      [&](const AdminTokenRow&) {
        requireLogs(logs_);
        // Bad filters (limit, cursor, search expression): StoreError kInvalidArgument, which
        // run() answers with INVALID_ARGUMENT and the store's message.
        *resp = logs_->list(*req);
      },
      /*recordSuccess=*/req->after_id() == 0);
}

AdminServiceImpl::Reactor* AdminServiceImpl::GetLog(Ctx* ctx, const v1::GetLogRequest* req,
                                                    v1::LogEntry* resp) {
  return run(ctx, "GetLog", req->id(), false, [&](const AdminTokenRow&) {
    requireLogs(logs_);
    if (req->id().empty())
      throw CallError(grpc::StatusCode::INVALID_ARGUMENT,
                      "which request log? (a request id or an entry id)");
    if (req->id().size() > 256)
      throw CallError(grpc::StatusCode::INVALID_ARGUMENT,
                      "a request log id is at most 256 characters");
    auto entry = logs_->get(req->id());
    if (!entry)
      throw CallError(grpc::StatusCode::NOT_FOUND, "request log '" + req->id() + "' not found");
    *resp = std::move(*entry);
  });
}

}  // namespace finops::cp
