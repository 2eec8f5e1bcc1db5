// UsageService: data planes report usage records and receive quota allowances.
#pragma once

#include "controlplane/store/store.h"
#include "finops/v1/usage.grpc.pb.h"

namespace finops::cp {

class UsageServiceImpl final : public finops::v1::UsageService::CallbackService {
 public:
  explicit UsageServiceImpl(Store& store) : store_(store) {}

  grpc::ServerUnaryReactor* Report(grpc::CallbackServerContext* ctx,
                                   const finops::v1::UsageReport* req,
                                   finops::v1::UsageReply* resp) override;

 private:
  Store& store_;
};

}  // namespace finops::cp
