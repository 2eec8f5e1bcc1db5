#include "controlplane/grpc/log_service.h"

#include <string_view>

#include "common/log.h"
#include "controlplane/store/log_store.h"
#include "controlplane/store/store.h"

namespace finops::cp {
namespace {

namespace v1 = finops::v1;

// A caller-chosen value for an error message: at most 64 bytes.
std::string shown(std::string_view s) {
  if (s.size() <= 64) return std::string(s);
  size_t n = 64;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

// Why one record cannot be stored; empty when it can.
std::string validateRecord(const v1::LogRecord& r) {
  if (r.request_id().empty()) return "request_id is empty";
  if (r.request_id().size() > kMaxRequestIdBytes)
    return "request_id is longer than " + std::to_string(kMaxRequestIdBytes) + " bytes";
  const std::pair<const char*, const std::string*> fields[] = {
      {"node", &r.node()},
      {"key_id", &r.key_id()},
      {"key_name", &r.key_name()},
      {"team_id", &r.team_id()},
      {"team_name", &r.team_name()},
      {"customer_id", &r.customer_id()},
      {"customer_name", &r.customer_name()},
      {"method", &r.method()},
      {"route", &r.route()},
      {"provider", &r.provider()},
      {"model", &r.model()},
      {"error_type", &r.error_type()},
      {"dialect", &r.dialect()},
  };
  for (const auto& [name, value] : fields)
    if (value->size() > kMaxLogFieldBytes)
      return std::string(name) + " is longer than " + std::to_string(kMaxLogFieldBytes) + " bytes";
  if (r.ts_ms() <= 0) return "ts_ms must be a positive time in milliseconds since the epoch";
  if (r.status() < 0 || r.status() > 999) return "status must be from 0 to 999";
  const std::pair<const char*, int64_t> numbers[] = {
      {"latency_us", r.latency_us()},
      {"ttft_us", r.ttft_us()},
      {"overhead_us", r.overhead_us()},
      {"prompt_tokens", r.prompt_tokens()},
      {"completion_tokens", r.completion_tokens()},
      {"cached_tokens", r.cached_tokens()},
      {"cost_nano", r.cost_nano()},
  };
  for (const auto& [name, value] : numbers)
    if (value < 0) return std::string(name) + " cannot be negative";
  return "";
}

}  // namespace

int64_t LogServiceStats::droppedByDataPlanes() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void LogServiceStats::reportDropped(const std::string& node, uint64_t droppedTotal) {
  int64_t now = droppedTotal > static_cast<uint64_t>(INT64_MAX)
                    ? INT64_MAX
                    : static_cast<int64_t>(droppedTotal);
  std::lock_guard lock(mu_);
  auto it = lastByNode_.find(node);
  if (it == lastByNode_.end()) {
    if (lastByNode_.size() >= kMaxNodes) return;
    lastByNode_.emplace(node, now);
    dropped_ += now;
    return;
  }
  // Lower than before: the data plane restarted and counts from zero again.
  dropped_ += now >= it->second ? now - it->second : now;
  it->second = now;
}

std::string validateLogBatch(const v1::LogBatch& batch) {
  if (batch.node_id().empty()) return "node_id is empty";
  if (batch.node_id().size() > kMaxNodeIdBytes)
    return "node_id is longer than " + std::to_string(kMaxNodeIdBytes) + " bytes";
  if (static_cast<size_t>(batch.records_size()) > kMaxRecordsPerBatch)
    return "a batch holds at most " + std::to_string(kMaxRecordsPerBatch) + " records, got " +
           std::to_string(batch.records_size());
  for (int i = 0; i < batch.records_size(); ++i) {
    const auto& r = batch.records(i);
    if (std::string why = validateRecord(r); !why.empty()) {
      std::string where = "record " + std::to_string(i);
      if (!r.request_id().empty()) where += " (request_id '" + shown(r.request_id()) + "')";
      return where + ": " + why;
    }
  }
  return "";
}

grpc::ServerUnaryReactor* LogServiceImpl::Ship(grpc::CallbackServerContext* ctx,
                                               const v1::LogBatch* req, v1::LogAck* resp) {
  auto* reactor = ctx->DefaultReactor();
  grpc::Status status = auth_.check(*ctx, "Ship");
  if (!status.ok()) {
    reactor->Finish(status);
    return reactor;
  }
  if (std::string why = validateLogBatch(*req); !why.empty()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why));
    return reactor;
  }
  stats_.received += req->records_size();
  stats_.reportDropped(req->node_id(), req->dropped_total());
  if (req->records_size() == 0) {
    resp->set_accepted(0);
    resp->set_stored(0);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  try {
    int stored = 0;
    bool nodeMissing = false;
    for (const auto& r : req->records()) nodeMissing = nodeMissing || r.node().empty();
    if (nodeMissing) {
      // Records name their node; fill it from the batch where the data plane left it out.
      google::protobuf::RepeatedPtrField<v1::LogRecord> records(req->records());
      for (auto& r : records)
        if (r.node().empty()) r.set_node(req->node_id());
      stored = logs_.insert(records);
    } else {
      stored = logs_.insert(req->records());
    }
    stats_.stored += stored;
    resp->set_accepted(req->records_size());
    resp->set_stored(stored);
  } catch (const StoreError& e) {
    status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, e.what());
  } catch (const std::exception& e) {
    // The data plane keeps the batch and sends it again.
    log::error("request logs not stored",
               {{"node", req->node_id()}, {"records", req->records_size()}, {"error", e.what()}});
    status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "request logs not stored; retry");
  }
  reactor->Finish(status);
  return reactor;
}

}  // namespace finops::cp
