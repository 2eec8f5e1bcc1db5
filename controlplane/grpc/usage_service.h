// UsageService: data planes report usage records and receive quota allowances. Every call is
// checked by DataPlaneAuth first (dataplane_auth.h): without a valid data-plane credential it
// gets UNAUTHENTICATED and nothing is applied.
#pragma once

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

 private:
  Store& store_;
  const DataPlaneAuth& auth_;
};

}  // namespace finops::cp
