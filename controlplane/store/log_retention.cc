#include "controlplane/store/log_retention.h"

#include <limits>

#include "common/clock.h"
#include "common/log.h"
#include "controlplane/store/log_store.h"

namespace finops::cp {

LogRetention::LogRetention(LogStore& logs, LogRetentionOptions options,
                           std::function<int64_t()> nowMs)
    : logs_(logs),
      options_(options),
      nowMs_(nowMs ? std::move(nowMs) : [] { return wallNowMs(); }) {}

LogRetention::~LogRetention() { stop(); }

void LogRetention::start() {
  if (thread_.joinable()) return;
  if (options_.maxAgeMs <= 0 && options_.maxBytes <= 0) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { loop(); });
}

void LogRetention::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  logs_.cancelRetention();  // a pass over a large backlog ends after its current chunk
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

RetentionResult LogRetention::runOnce() {
  RetentionResult r = logs_.enforceRetention(nowMs_(), options_.maxAgeMs, options_.maxBytes);
  stats_.deletedForAge += r.deletedForAge;
  stats_.deletedForSize += r.deletedForSize;
  if (r.deletedForAge > 0 || r.deletedForSize > 0)
    log::info("request logs deleted by retention",
              {{"deleted_for_age", r.deletedForAge},
               {"deleted_for_size", r.deletedForSize},
               {"max_age_days", options_.maxAgeMs / (24 * 3600 * 1000)},
               {"max_bytes", options_.maxBytes}});
  return r;
}

void LogRetention::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    try {
      runOnce();
    } catch (const std::exception& e) {
      log::error("request log retention failed; trying again later", {{"error", e.what()}});
    }
    lock.lock();
    cv_.wait_for(lock, options_.interval, [this] { return stopping_; });
  }
}

std::optional<int64_t> parseByteSize(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int shift = 0;
  switch (text.back()) {
    case 'K':
    case 'k':
      shift = 10;
      break;
    case 'M':
    case 'm':
      shift = 20;
      break;
    case 'G':
    case 'g':
      shift = 30;
      break;
    default:
      break;
  }
  if (shift) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v > (std::numeric_limits<int64_t>::max() - (c - '0')) / 10) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > (std::numeric_limits<int64_t>::max() >> shift)) return std::nullopt;
  return v << shift;
}

}  // namespace finops::cp
