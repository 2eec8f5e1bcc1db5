// Request-log retention: a thread of its own that calls LogStore::enforceRetention once when it
// starts and then every interval, deleting the logs older than --log-retention-days and the
// oldest ones while the store holds more than --log-max-bytes. It logs what it deleted (info,
// only when something was) and counts it for /metrics. A failed pass is logged (error) and the
// next one runs on time.
//
// Thread-safe: stats() may be read from any thread; start() and stop() from one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

namespace finops::cp {

class LogStore;
struct RetentionResult;

struct LogRetentionOptions {
  // Logs older than this are deleted. 0: kept whatever their age. Default 30 days.
  int64_t maxAgeMs = 30LL * 24 * 3600 * 1000;
  // The oldest logs are deleted while the store holds more than this. 0: no cap. Default 1 GiB.
  int64_t maxBytes = 1LL << 30;
  // Time between passes. Default 60 s.
  std::chrono::milliseconds interval{60'000};
};

// Counters for the control plane's /metrics (finops_log_records_deleted_total{reason}). Only
// grow.
struct LogRetentionStats {
  std::atomic<int64_t> deletedForAge{0};   // reason="age"
  std::atomic<int64_t> deletedForSize{0};  // reason="size"
};

class LogRetention {
 public:
  // `logs` must outlive this object. `nowMs` gives the wall clock (injected for tests).
  LogRetention(LogStore& logs, LogRetentionOptions options,
               std::function<int64_t()> nowMs = nullptr);
  ~LogRetention();  // stop()
  LogRetention(const LogRetention&) = delete;
  LogRetention& operator=(const LogRetention&) = delete;

  // Starts the thread (its first pass runs at once). Does nothing when neither a maximum age
  // nor a maximum size is set, or when already started.
  void start();
  // Wakes the thread, waits for a pass in progress to finish, and joins it. Idempotent.
  void stop();

  // One pass, on the calling thread: enforces retention, counts and logs what it deleted.
  // Throws what LogStore throws.
  RetentionResult runOnce();

  const LogRetentionStats& stats() const { return stats_; }

 private:
  void loop();

  LogStore& logs_;
  LogRetentionOptions options_;
  std::function<int64_t()> nowMs_;
  LogRetentionStats stats_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

// A byte count as --log-max-bytes takes it: a whole number, optionally followed by K, M or G
// (1024-based; lower case too): "1073741824", "512M", "1G", "0". nullopt when it is not one or
// does not fit in an int64.
std::optional<int64_t> parseByteSize(std::string_view text);

}  // namespace finops::cp
