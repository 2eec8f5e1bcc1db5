#include "dataplane/governance/reporter.h"

#include <chrono>
#include <random>

#include "common/crypto.h"
#include "common/log.h"
#include "dataplane/config/subscriber.h"

namespace finops::dp {

namespace v1 = finops::v1;

namespace {
int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Reporter::Reporter(ReporterOptions options, Quota& quota, ConfigStore& config)
    : options_(std::move(options)), quota_(quota), config_(config) {
  nodeId_ = options_.nodeName + "~" + randomId("");
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetMaxSendMessageSize(64 * 1024 * 1024);
  stub_ = v1::UsageService::NewStub(options_.security.createChannel(options_.target, args));
}

Reporter::~Reporter() { stopAndFlush(std::chrono::milliseconds(0)); }

void Reporter::start() {
  quota_.setOnUrgent([this] { cv_.notify_one(); });
  thread_ = std::thread([this] { run(); });
}

bool Reporter::hasRoom() const {
  std::lock_guard lock(mu_);
  return buffer_.size() < options_.maxBuffered;
}

size_t Reporter::buffered() const {
  std::lock_guard lock(mu_);
  return buffer_.size();
}

void Reporter::enqueue(v1::UsageRecord record) {
  std::lock_guard lock(mu_);
  // Over the bound only by the requests admitted before it filled: never dropped.
  buffer_.push_back(std::move(record));
  if (buffer_.size() >= options_.maxBatch) cv_.notify_one();
}

bool Reporter::reportOnce(bool withDemands) {
  v1::UsageReport report;
  report.set_node_id(nodeId_);
  report.set_node_name(options_.nodeName);
  size_t n = 0;
  {
    std::lock_guard lock(mu_);
    n = std::min(buffer_.size(), options_.maxBatch);
    for (size_t i = 0; i < n; ++i) *report.add_records() = buffer_[i];
  }
  std::vector<v1::LimitDemand> demands;
  if (withDemands) demands = quota_.demands();
  for (const auto& d : demands) *report.add_demands() = d;
  if (report.records_size() == 0 && report.demands_size() == 0) return true;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (!options_.token.empty()) ctx.AddMetadata("authorization", "Bearer " + options_.token);
  v1::UsageReply reply;
  int64_t sent = steadyMs();
  grpc::Status st = stub_->Report(&ctx, report, &reply);
  if (!st.ok()) {
    quota_.unsent(demands);
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      log::error("usage report refused by the control plane (UNAUTHENTICATED); will retry",
                 {{"error", st.error_message()},
                  {"buffered", buffered()},
                  {"transport", options_.security.mode()},
                  {"hint", controlPlaneAuthHint(options_.security, !options_.token.empty())}});
      return false;
    }
    log::warn("usage report failed; will retry", {{"error", st.error_message()},
                                                  {"buffered", buffered()},
                                                  {"transport", options_.security.mode()}});
    return false;
  }
  {
    // Only this thread removes records, so the first n are the ones just sent.
    std::lock_guard lock(mu_);
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(n));
  }
  quota_.applyReply(reply, sent);
  return true;
}

void Reporter::run() {
  std::mt19937 rng(std::random_device{}());
  auto backoff = std::chrono::milliseconds(100);
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, options_.interval, [&] {
        return stopping_ || buffer_.size() >= options_.maxBatch || quota_.urgent();
      });
      if (stopping_) return;
    }
    if (auto snap = config_.get(); snap && snap->version != syncedVersion_) {
      std::vector<const LimitDef*> defs;
      defs.reserve(snap->limits.size());
      for (const auto& [id, def] : snap->limits) defs.push_back(&def);
      quota_.sync(defs);
      syncedVersion_ = snap->version;
    }
    bool ok = reportOnce(true);
    // Drain a backlog quickly (e.g. after the control plane comes back).
    while (ok && buffered() >= options_.maxBatch) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
      ok = reportOnce(false);
    }
    if (ok) {
      backoff = std::chrono::milliseconds(100);
      continue;
    }
    std::uniform_int_distribution<int> jitter(0, static_cast<int>(backoff.count() / 2));
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, backoff + std::chrono::milliseconds(jitter(rng)), [&] { return stopping_; });
    if (stopping_) return;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

void Reporter::stopAndFlush(std::chrono::milliseconds deadline) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  auto until = std::chrono::steady_clock::now() + deadline;
  while (buffered() > 0 && std::chrono::steady_clock::now() < until) {
    if (!reportOnce(false)) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (size_t left = buffered(); left > 0)
    log::error("usage records not delivered at shutdown", {{"records", left}});
}

}  // namespace finops::dp
