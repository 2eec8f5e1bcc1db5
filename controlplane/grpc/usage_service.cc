#include "controlplane/grpc/usage_service.h"

#include <chrono>

#include "common/log.h"

namespace finops::cp {

grpc::ServerUnaryReactor* UsageServiceImpl::Report(grpc::CallbackServerContext* ctx,
                                                   const finops::v1::UsageReport* req,
                                                   finops::v1::UsageReply* resp) {
  auto* reactor = ctx->DefaultReactor();
  grpc::Status status = auth_.check(*ctx, "Report");
  if (!status.ok()) {
    reactor->Finish(status);
    return reactor;
  }
  try {
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    *resp = store_.applyReport(*req, now);
    recordsApplied_.fetch_add(resp->applied(), std::memory_order_relaxed);
  } catch (const StoreError& e) {
    status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, e.what());
  } catch (const std::exception& e) {
    // The data plane keeps the records and sends them again.
    log::error("usage report failed", {{"node", req->node_name()}, {"error", e.what()}});
    status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "usage report not applied; retry");
  }
  reactor->Finish(status);
  return reactor;
}

}  // namespace finops::cp
