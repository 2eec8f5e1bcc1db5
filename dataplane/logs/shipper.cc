#include "dataplane/logs/shipper.h"

#include <algorithm>

#include "common/log.h"
#include "dataplane/config/subscriber.h"

namespace finops::dp::logs {

namespace v1 = finops::v1;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kFirstBackoff{100};
constexpr auto kWarnEvery = std::chrono::minutes(1);

// A batch (or one record) the control plane refuses for what it is, not for the moment: sending
// it again unchanged would fail forever and hold up every record behind it.
bool refusedForGood(const grpc::Status& st) {
  if (st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) return true;
  return st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
         st.error_message().find("larger than max") != std::string::npos;
}

}  // namespace

Shipper::Shipper(ShipperOptions options) : options_(std::move(options)) {
  options_.maxBatch = std::max<size_t>(options_.maxBatch, 1);
  sendLimit_ = options_.maxBatch;
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetMaxSendMessageSize(64 * 1024 * 1024);
  stub_ = v1::LogService::NewStub(options_.security.createChannel(options_.target, args));
}

Shipper::~Shipper() { stopAndFlush(milliseconds(0)); }

void Shipper::start() {
  std::lock_guard lock(mu_);
  if (closed_ || thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

bool Shipper::offer(v1::LogRecord&& record, std::optional<RawContent> content) {
  if (content && options_.maxContentBytes == 0) content.reset();
  size_t bytes = record.ByteSizeLong();
  if (content) bytes += content->request.size() + content->response.size() + content->route.size();
  Item item{std::move(record), std::move(content), bytes};
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (closed_ || bufferedRecords_.load(std::memory_order_relaxed) >=
                       static_cast<int64_t>(options_.maxRecords) ||
        static_cast<size_t>(bufferedBytes_.load(std::memory_order_relaxed)) + bytes >
            options_.maxBytes) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(std::move(item));
    bufferedRecords_.fetch_add(1, std::memory_order_relaxed);
    bufferedBytes_.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed);
    wake = queue_.size() == options_.maxBatch;
  }
  if (wake) cv_.notify_one();
  return true;
}

void Shipper::release(size_t records, size_t bytes) {
  bufferedRecords_.fetch_sub(static_cast<int64_t>(records), std::memory_order_relaxed);
  bufferedBytes_.fetch_sub(static_cast<int64_t>(bytes), std::memory_order_relaxed);
}

Shipper::Prepared Shipper::prepare(Item&& item) const {
  Prepared p{std::move(item.record), item.bytes};
  v1::LogRecord& r = p.record;
  if (item.content && options_.maxContentBytes > 0) {
    RawContent& c = *item.content;
    const size_t max = options_.maxContentBytes;
    bool cut = c.truncated;
    std::string request = std::move(c.request);
    std::string response = responseText(c);
    for (std::string* s : {&request, &response}) {
      if (c.truncated) dropPartialUtf8Tail(*s);
      makeValidUtf8(*s);
      cut |= cutUtf8(*s, max);
    }
    r.set_request_content(std::move(request));
    r.set_response_content(std::move(response));
    r.set_content_logged(true);
    r.set_content_truncated(cut);
  }
  // proto3 strings must be UTF-8 or the control plane cannot parse the batch; a route or a
  // model name may hold anything a client sent.
  for (auto field : {&v1::LogRecord::mutable_request_id, &v1::LogRecord::mutable_node,
                     &v1::LogRecord::mutable_key_id, &v1::LogRecord::mutable_key_name,
                     &v1::LogRecord::mutable_team_id, &v1::LogRecord::mutable_team_name,
                     &v1::LogRecord::mutable_customer_id, &v1::LogRecord::mutable_customer_name,
                     &v1::LogRecord::mutable_method, &v1::LogRecord::mutable_route,
                     &v1::LogRecord::mutable_provider, &v1::LogRecord::mutable_model,
                     &v1::LogRecord::mutable_error_type, &v1::LogRecord::mutable_dialect,
                     &v1::LogRecord::mutable_request_content,
                     &v1::LogRecord::mutable_response_content})
    makeValidUtf8(*(r.*field)());
  return p;
}

void Shipper::refill() {
  if (!pending_.empty()) return;
  std::vector<Item> items;
  {
    std::lock_guard lock(mu_);
    size_t bytes = 0;
    while (!queue_.empty() && items.size() < options_.maxBatch) {
      size_t b = queue_.front().bytes;
      if (!items.empty() && bytes + b > options_.maxBatchBytes) break;
      items.push_back(std::move(queue_.front()));
      queue_.pop_front();
      bytes += b;
    }
  }
  for (auto& item : items) pending_.push_back(prepare(std::move(item)));
  sendLimit_ = options_.maxBatch;
}

void Shipper::warnFailing(const grpc::Status& st) {
  auto now = Clock::now();
  if (failing_ && now - lastWarning_ < kWarnEvery) return;
  lastWarning_ = now;
  nlohmann::json fields = {{"grpc_code", static_cast<int>(st.error_code())},
                           {"error", st.error_message()},
                           {"buffered", buffered()},
                           {"dropped_total", dropped()},
                           {"transport", options_.security.mode()}};
  if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    fields["hint"] = controlPlaneAuthHint(options_.security, !options_.token.empty());
    log::error("request log shipping refused by the control plane (UNAUTHENTICATED); will retry",
               fields);
  } else {
    log::warn("request log shipping failed; will retry (at most one warning a minute)", fields);
  }
}

Shipper::SendResult Shipper::sendOnce(milliseconds timeout) {
  if (pending_.empty()) return SendResult::kNothing;
  const size_t n = std::min(sendLimit_, pending_.size());
  v1::LogBatch batch;
  batch.set_node_id(options_.nodeId);
  batch.set_dropped_total(static_cast<uint64_t>(dropped()));
  batch.mutable_records()->Reserve(static_cast<int>(n));
  for (size_t i = 0; i < n; ++i) *batch.add_records() = std::move(pending_[i].record);

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  if (!options_.token.empty()) ctx.AddMetadata("authorization", "Bearer " + options_.token);
  v1::LogAck ack;
  {
    std::lock_guard lock(mu_);
    inflight_ = &ctx;
  }
  grpc::Status st = stub_->Ship(&ctx, batch, &ack);
  {
    std::lock_guard lock(mu_);
    inflight_ = nullptr;
  }

  if (st.ok()) {
    size_t bytes = 0;
    for (size_t i = 0; i < n; ++i) bytes += pending_[i].bytes;
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    // Counted before released: a reader that sees the buffer empty sees them shipped.
    shipped_.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed);
    release(n, bytes);
    if (failing_) {
      log::info("request log shipping works again",
                {{"shipped_total", shipped()}, {"buffered", buffered()}});
      failing_ = false;
    }
    return SendResult::kOk;
  }
  // Not accepted: the records go back where they were, to be sent first.
  for (size_t i = 0; i < n; ++i) pending_[i].record = std::move(*batch.mutable_records(static_cast<int>(i)));
  shipFailures_.fetch_add(1, std::memory_order_relaxed);
  if (refusedForGood(st)) {
    if (n > 1) {
      sendLimit_ = n / 2;  // the same records again, in smaller calls
      return SendResult::kOk;
    }
    log::error("a request log record was refused by the control plane; dropped",
               {{"request_id", pending_.front().record.request_id()},
                {"grpc_code", static_cast<int>(st.error_code())},
                {"error", st.error_message()}});
    dropped_.fetch_add(1, std::memory_order_relaxed);
    release(1, pending_.front().bytes);
    pending_.pop_front();
    return SendResult::kOk;
  }
  warnFailing(st);
  failing_ = true;
  return SendResult::kRetry;
}

void Shipper::run() {
  milliseconds backoff = kFirstBackoff;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (pending_.empty())
        cv_.wait_for(lock, options_.interval,
                     [&] { return stopping_ || queue_.size() >= options_.maxBatch; });
      if (stopping_) break;
    }
    refill();
    if (sendOnce(options_.callTimeout) != SendResult::kRetry) {
      backoff = kFirstBackoff;
      continue;
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, backoff, [&] { return stopping_; })) break;
    backoff = std::min(backoff * 2, options_.maxBackoff);
  }
  Clock::time_point until;
  {
    std::lock_guard lock(mu_);
    until = flushUntil_;
  }
  flush(until);
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  doneCv_.notify_all();
}

void Shipper::flush(Clock::time_point until) {
  for (;;) {
    refill();
    if (pending_.empty()) return;
    auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now());
    if (left <= milliseconds(0)) return;
    if (sendOnce(std::min(options_.callTimeout, left)) == SendResult::kRetry)
      std::this_thread::sleep_for(std::min(milliseconds(200), left));
  }
}

void Shipper::stopAndFlush(milliseconds deadline) {
  const auto until = Clock::now() + deadline;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    stopping_ = true;
    flushUntil_ = until;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    {
      // The thread flushes; a call still under way at the deadline is cancelled.
      std::unique_lock lock(mu_);
      if (!doneCv_.wait_until(lock, until, [&] { return done_; }) && inflight_)
        inflight_->TryCancel();
    }
    thread_.join();
  } else {
    flush(until);
  }
  if (int64_t lost = buffered(); lost > 0)
    log::error("request log records not shipped at shutdown; lost",
               {{"records", lost}, {"shipped_total", shipped()}, {"dropped_total", dropped()}});
}

}  // namespace finops::dp::logs
