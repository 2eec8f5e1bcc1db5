// LogService: data planes ship request-log records (logs.proto) in batches. Every call is
// checked by DataPlaneAuth first (dataplane_auth.h), like the config stream and usage reports:
// without a valid data-plane credential it gets UNAUTHENTICATED and nothing is stored.
//
// A batch is validated whole before anything is stored (INVALID_ARGUMENT, with the index and
// request id of the first bad record, otherwise):
//  - node_id: 1 to kMaxNodeIdBytes bytes;
//  - at most kMaxRecordsPerBatch records (an empty batch is fine: it reports dropped_total);
//  - each record: request_id 1 to kMaxRequestIdBytes bytes; every other text field except the
//    content at most kMaxLogFieldBytes bytes; ts_ms > 0; status 0..999; durations, tokens and
//    cost not negative. The content fields are bounded only by the gRPC message size.
// A valid batch is stored through LogStore::insert (each request_id once); when that fails the
// answer is UNAVAILABLE and the data plane sends the batch again.
//
// Thread-safe: Ship may run on any gRPC thread at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "controlplane/grpc/dataplane_auth.h"
#include "finops/v1/logs.grpc.pb.h"

namespace finops::cp {

class LogStore;

inline constexpr size_t kMaxRecordsPerBatch = 5000;
inline constexpr size_t kMaxNodeIdBytes = 128;
inline constexpr size_t kMaxRequestIdBytes = 128;
inline constexpr size_t kMaxLogFieldBytes = 4096;

// Counters for the control plane's /metrics. All of them only grow while the process runs.
// Read from any thread.
struct LogServiceStats {
  // Records in batches that passed authentication and validation (a batch sent again after a
  // failed insert counts again): finops_log_records_received_total.
  std::atomic<int64_t> received{0};
  // Records stored for the first time (a request_id already stored is not counted):
  // finops_log_records_stored_total.
  std::atomic<int64_t> stored{0};

  // The records the data planes report having dropped (LogBatch.dropped_total), summed over
  // nodes: finops_log_records_dropped_by_dataplanes_total. Each node's latest dropped_total is
  // kept; when a node's value goes down (the data plane restarted), its new value is added on
  // top, so the sum never decreases.
  int64_t droppedByDataPlanes() const;

  // Records `node`'s latest dropped_total. At most kMaxNodes distinct nodes are tracked; a
  // report from another node beyond that is ignored.
  void reportDropped(const std::string& node, uint64_t droppedTotal);

  static constexpr size_t kMaxNodes = 10000;

 private:
  mutable std::mutex mu_;
  std::map<std::string, int64_t> lastByNode_;  // GUARDED_BY(mu_)
  int64_t dropped_ = 0;                        // GUARDED_BY(mu_)
};

// Why `batch` cannot be stored (the message for INVALID_ARGUMENT); empty when it can.
std::string validateLogBatch(const finops::v1::LogBatch& batch);

class LogServiceImpl final : public finops::v1::LogService::CallbackService {
 public:
  // `logs` and `auth` must outlive the service.
  LogServiceImpl(LogStore& logs, const DataPlaneAuth& auth) : logs_(logs), auth_(auth) {}

  grpc::ServerUnaryReactor* Ship(grpc::CallbackServerContext* ctx, const finops::v1::LogBatch* req,
                                 finops::v1::LogAck* resp) override;

  const LogServiceStats& stats() const { return stats_; }

 private:
  LogStore& logs_;
  const DataPlaneAuth& auth_;
  LogServiceStats stats_;
};

}  // namespace finops::cp
