// AdminService: the API finopsctl uses. Every call must carry a valid admin token
// ("authorization: Bearer <token>"); mutations publish a new snapshot to data planes.
#pragma once

#include <mutex>

#include "common/metrics.h"
#include "controlplane/grpc/config_service.h"
#include "controlplane/store/store.h"
#include "finops/v1/admin.grpc.pb.h"

namespace finops::cp {

class LogStore;

class AdminServiceImpl final : public finops::v1::AdminService::CallbackService {
 public:
  // `logs` serves ListLogs / GetLog (request logs); it must outlive the service. Null: those
  // calls fail with FAILED_PRECONDITION.
  AdminServiceImpl(Store& store, Publisher& publisher, LogStore* logs = nullptr)
      : store_(store), publisher_(publisher), logs_(logs) {}

  // Builds a snapshot of the current state and publishes it.
  void republish();

  // Counts every call in `calls` by {method, code} (finops_admin_calls_total, cp_metrics.h);
  // it must outlive the service. Call before serving. Null (the default): not counted.
  void setCallCounter(metrics::CounterFamily* calls) { calls_ = calls; }

  using Ctx = grpc::CallbackServerContext;
  using Reactor = grpc::ServerUnaryReactor;
  Reactor* WhoAmI(Ctx*, const finops::v1::WhoAmIRequest*, finops::v1::WhoAmIResponse*) override;
  Reactor* CreateProvider(Ctx*, const finops::v1::CreateProviderRequest*,
                          finops::v1::ProviderInfo*) override;
  Reactor* UpdateProvider(Ctx*, const finops::v1::UpdateProviderRequest*,
                          finops::v1::ProviderInfo*) override;
  Reactor* GetProvider(Ctx*, const finops::v1::ProviderName*, finops::v1::ProviderInfo*) override;
  Reactor* ListProviders(Ctx*, const finops::v1::ListProvidersRequest*,
                         finops::v1::ListProvidersResponse*) override;
  Reactor* DeleteProvider(Ctx*, const finops::v1::ProviderName*, finops::v1::ProviderInfo*) override;
  Reactor* CreateKey(Ctx*, const finops::v1::CreateKeyRequest*,
                     finops::v1::CreateKeyResponse*) override;
  Reactor* GetKey(Ctx*, const finops::v1::KeyId*, finops::v1::VirtualKeyInfo*) override;
  Reactor* ListKeys(Ctx*, const finops::v1::ListKeysRequest*, finops::v1::ListKeysResponse*) override;
  Reactor* RevokeKey(Ctx*, const finops::v1::KeyId*, finops::v1::VirtualKeyInfo*) override;
  Reactor* UpdateKey(Ctx*, const finops::v1::UpdateKeyRequest*, finops::v1::VirtualKeyInfo*) override;
  Reactor* RotateKey(Ctx*, const finops::v1::KeyId*, finops::v1::CreateKeyResponse*) override;
  Reactor* DeleteKey(Ctx*, const finops::v1::KeyId*, finops::v1::VirtualKeyInfo*) override;
  Reactor* CreateCustomer(Ctx*, const finops::v1::CreateCustomerRequest*, finops::v1::CustomerInfo*) override;
  Reactor* UpdateCustomer(Ctx*, const finops::v1::UpdateCustomerRequest*, finops::v1::CustomerInfo*) override;
  Reactor* GetCustomer(Ctx*, const finops::v1::KeyId*, finops::v1::CustomerInfo*) override;
  Reactor* ListCustomers(Ctx*, const finops::v1::ListCustomersRequest*,
                         finops::v1::ListCustomersResponse*) override;
  Reactor* DeleteCustomer(Ctx*, const finops::v1::KeyId*, finops::v1::CustomerInfo*) override;
  Reactor* CreateTeam(Ctx*, const finops::v1::CreateTeamRequest*, finops::v1::TeamInfo*) override;
  Reactor* UpdateTeam(Ctx*, const finops::v1::UpdateTeamRequest*, finops::v1::TeamInfo*) override;
  Reactor* GetTeam(Ctx*, const finops::v1::KeyId*, finops::v1::TeamInfo*) override;
  Reactor* ListTeams(Ctx*, const finops::v1::ListTeamsRequest*, finops::v1::ListTeamsResponse*) override;
  Reactor* DeleteTeam(Ctx*, const finops::v1::KeyId*, finops::v1::TeamInfo*) override;
  Reactor* CreateLimit(Ctx*, const finops::v1::CreateLimitRequest*, finops::v1::LimitInfo*) override;
  Reactor* UpdateLimit(Ctx*, const finops::v1::UpdateLimitRequest*, finops::v1::LimitInfo*) override;
  Reactor* GetLimit(Ctx*, const finops::v1::LimitId*, finops::v1::LimitInfo*) override;
  Reactor* ListLimits(Ctx*, const finops::v1::ListLimitsRequest*, finops::v1::ListLimitsResponse*) override;
  Reactor* DeleteLimit(Ctx*, const finops::v1::LimitId*, finops::v1::LimitInfo*) override;
  Reactor* ListPrices(Ctx*, const finops::v1::ListPricesRequest*, finops::v1::ListPricesResponse*) override;
  Reactor* SetPrice(Ctx*, const finops::v1::SetPriceRequest*, finops::v1::PriceInfo*) override;
  Reactor* DeletePrice(Ctx*, const finops::v1::DeletePriceRequest*, finops::v1::PriceInfo*) override;
  Reactor* GetUsage(Ctx*, const finops::v1::UsageQuery*, finops::v1::UsageResponse*) override;
  Reactor* GetSettings(Ctx*, const finops::v1::GetSettingsRequest*, finops::v1::SettingsInfo*) override;
  Reactor* UpdateSettings(Ctx*, const finops::v1::UpdateSettingsRequest*,
                          finops::v1::SettingsInfo*) override;
  Reactor* ListDataPlanes(Ctx*, const finops::v1::ListDataPlanesRequest*,
                          finops::v1::ListDataPlanesResponse*) override;
  Reactor* CreateAdminToken(Ctx*, const finops::v1::CreateAdminTokenRequest*,
                            finops::v1::CreateAdminTokenResponse*) override;
  Reactor* ListAdminTokens(Ctx*, const finops::v1::ListAdminTokensRequest*,
                           finops::v1::ListAdminTokensResponse*) override;
  Reactor* RevokeAdminToken(Ctx*, const finops::v1::KeyId*, finops::v1::AdminTokenInfo*) override;
  Reactor* ListAudit(Ctx*, const finops::v1::ListAuditRequest*,
                     finops::v1::ListAuditResponse*) override;
  Reactor* ListLogs(Ctx*, const finops::v1::LogQuery*, finops::v1::ListLogsResponse*) override;
  Reactor* GetLog(Ctx*, const finops::v1::GetLogRequest*, finops::v1::LogEntry*) override;

 private:
  // Info messages with the owner's limits attached.
  void keyInfo(const VirtualKeyRow& row, finops::v1::VirtualKeyInfo* out);
  void customerInfo(const CustomerRow& row, finops::v1::CustomerInfo* out);
  void teamInfo(const TeamRow& row, finops::v1::TeamInfo* out);

  // Authenticates the admin token, checks that its scope may call `method` (admin_scopes.h),
  // runs `body`, maps errors to gRPC statuses, then appends one audit entry (allowed or refused,
  // authenticated or not) and logs one line. `target` names the object of the call (key id,
  // provider name...) for the audit; it must never be a secret (words starting with "sk-" or
  // "fo-admin-" are redacted anyway). An audit write failure is logged at error level and does
  // not change the call's result (the change, if any, is already committed).
  // recordSuccess false: a successful call leaves no audit row or log line (polls such as
  // following the request logs, every second or two per viewer); failures are recorded.
  template <typename F>
  Reactor* run(Ctx* ctx, const char* method, std::string target, bool mutates, F&& body,
               bool recordSuccess = true);

  // At most kUnauthenticatedAuditPerMinute unauthenticated calls are recorded (and logged) a
  // minute; the next recorded one says how many were not. False: do not record this one.
  static constexpr int kUnauthenticatedAuditPerMinute = 60;
  bool admitUnauthenticatedAudit(int64_t nowMs, int64_t* suppressedBefore);
  std::mutex unauthMu_;
  int64_t unauthWindowStartMs_ = 0;
  int unauthRecorded_ = 0;
  int64_t unauthSuppressed_ = 0;

  Store& store_;
  Publisher& publisher_;
  LogStore* logs_;  // request logs; may be null
  metrics::CounterFamily* calls_ = nullptr;  // finops_admin_calls_total; may be null
};

// Redacts a secret for display: "sk-...abcd" (short secrets fully hidden).
std::string redactSecret(const std::string& secret);

}  // namespace finops::cp
