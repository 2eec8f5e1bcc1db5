// UsageService: data planes report usage records and receive quota allowances. Every call is
// checked by DataPlaneAuth first (dataplane_auth.h): without a valid data-plane credential it
// gets UNAUTHENTICATED and nothing is applied.
#pragma once

#include <atomic>
#include <cstdint>

#include "controlplane/grpc/dataplane_auth.h"
#include "controlplane/store/store.h"
#include "finops/v1/usage.grpc.pb.h"

namespace finops::cp {

class UsageServiceImpl final : public finops::v1::UsageService::CallbackService {
 public:
  // `auth` decides who may report; it must outlive the service.
  UsageServiceImpl(Store& store, const DataPlaneAuth& auth) : store_(store), auth_(auth) {}

  grpc::ServerUnaryReactor* Report(grpc::CallbackServerContext* ctx,
                                   const finops::v1::UsageReport* req,
                                   finops::v1::UsageReply* resp) override;

  // Usage records stored for the first time since start (UsageReply.applied summed), for
  // finops_usage_records_applied_total. Any thread.
  int64_t recordsApplied() const { return recordsApplied_.load(std::memory_order_relaxed); }

 private:
  Store& store_;
  const DataPlaneAuth& auth_;
  std::atomic<int64_t> recordsApplied_{0};
};

}  // namespace finops::cp
