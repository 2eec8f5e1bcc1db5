// Ships request-log records to the control plane (LogService.Ship) from a thread of its own.
//
// Best effort by design, unlike usage records (governance/reporter.h): the buffer is bounded by
// records and by bytes, and when it is full a new record is dropped and counted (dropped()),
// so logging never blocks or refuses traffic. A record once in the buffer is not lost while
// the process runs: a batch the control plane did not accept is kept and sent again first
// (with exponential backoff up to 5 s), until it is accepted. The exceptions: a batch the
// control plane refuses as malformed or too large (INVALID_ARGUMENT, RESOURCE_EXHAUSTED) is
// split and sent in smaller pieces, and a single record that is still refused is dropped and
// counted; and what is left at shutdown when stopAndFlush's deadline passes is lost (logged).
//
// Content (RawContent) is turned into LogRecord.request_content / response_content on the
// shipping thread, never on the request path.
//
// Thread-safety: offer() and the counters may be called from any thread; start() and
// stopAndFlush() from one thread (main).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/grpc_tls.h"
#include "dataplane/logs/content.h"
#include "finops/v1/logs.grpc.pb.h"

namespace finops::dp::logs {

struct ShipperOptions {
  std::string target;        // control plane address (as for the usage reporter)
  ChannelSecurity security;  // plaintext by default, else the control plane link's TLS
  std::string token;         // SECRET: data-plane token ("authorization: Bearer"); empty: none
  std::string nodeId;        // sent as LogBatch.node_id (the reporter's node id)
  size_t maxRecords = 10000;       // --log-buffer-records: records held (buffer + batch in flight)
  size_t maxBytes = 64 << 20;      // --log-buffer-bytes: bytes held (records and raw content)
  size_t maxBatch = 500;           // records per Ship call
  size_t maxBatchBytes = 4 << 20;  // bytes per Ship call (at least one record)
  size_t maxContentBytes = 65536;  // --log-content-max-bytes: each content field is cut to this
  std::chrono::milliseconds interval{200};        // how long records may wait for a batch
  std::chrono::milliseconds callTimeout{10000};   // deadline of one Ship call
  std::chrono::milliseconds maxBackoff{5000};     // the longest wait between failed calls
};

class Shipper {
 public:
  explicit Shipper(ShipperOptions options);
  ~Shipper();  // stopAndFlush(0) unless already stopped
  Shipper(const Shipper&) = delete;
  Shipper& operator=(const Shipper&) = delete;

  void start();
  // Stops the thread, then ships what is buffered until `deadline` passes; what is left is
  // lost and logged. Later offers are dropped (and counted).
  void stopAndFlush(std::chrono::milliseconds deadline);

  // Called on the request path: never blocks on I/O, never waits for the shipping thread (one
  // short mutex hold). When the buffer is full (records or bytes) the record is dropped and
  // counted; false then. With `content`, the shipper fills request_content / response_content
  // (and content_logged, content_truncated) before sending; without, the record is sent as it
  // is. maxContentBytes 0: content is ignored.
  bool offer(finops::v1::LogRecord&& record, std::optional<RawContent> content = std::nullopt);

  int64_t buffered() const { return bufferedRecords_.load(std::memory_order_relaxed); }
  int64_t bufferedBytes() const { return bufferedBytes_.load(std::memory_order_relaxed); }
  int64_t shipped() const { return shipped_.load(std::memory_order_relaxed); }
  int64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  int64_t shipFailures() const { return shipFailures_.load(std::memory_order_relaxed); }

 private:
  struct Item {
    finops::v1::LogRecord record;
    std::optional<RawContent> content;
    size_t bytes = 0;
  };
  struct Prepared {
    finops::v1::LogRecord record;
    size_t bytes = 0;
  };
  enum class SendResult { kOk, kRetry, kNothing };  // kRetry: back off, then resend

  void run();
  // Ships what is buffered until `until`; on the shipping thread, or on the caller's when
  // the thread never started.
  void flush(std::chrono::steady_clock::time_point until);
  // Moves the next batch out of the buffer and prepares it, when nothing is pending.
  void refill();
  Prepared prepare(Item&& item) const;
  // One Ship call of the first sendLimit_ pending records.
  SendResult sendOnce(std::chrono::milliseconds timeout);
  void release(size_t records, size_t bytes);
  void warnFailing(const grpc::Status& status);

  ShipperOptions options_;
  std::unique_ptr<finops::v1::LogService::Stub> stub_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;   // GUARDED_BY(mu_)
  bool stopping_ = false;    // GUARDED_BY(mu_)
  bool closed_ = false;      // GUARDED_BY(mu_): after stopAndFlush, offers are dropped
  bool done_ = false;        // GUARDED_BY(mu_): the thread has finished flushing
  std::chrono::steady_clock::time_point flushUntil_{};  // GUARDED_BY(mu_)
  grpc::ClientContext* inflight_ = nullptr;              // GUARDED_BY(mu_): the call under way
  std::condition_variable doneCv_;

  // Counted from offer() until shipped or dropped (queue_ + pending_). Increased under mu_.
  std::atomic<int64_t> bufferedRecords_{0};
  std::atomic<int64_t> bufferedBytes_{0};
  std::atomic<int64_t> shipped_{0};
  std::atomic<int64_t> dropped_{0};
  std::atomic<int64_t> shipFailures_{0};

  // The shipping thread's (stopAndFlush's after the join).
  std::deque<Prepared> pending_;
  size_t sendLimit_ = 0;  // records per call; shrinks after a "too large" refusal
  bool failing_ = false;
  std::chrono::steady_clock::time_point lastWarning_{};
};

}  // namespace finops::dp::logs
