#include "dataplane/logs/ui.h"

#include <atomic>
#include <charconv>
#include <mutex>

#include "common/log.h"
#include "dataplane/logs/assets.h"

namespace finops::dp::logs {

namespace v1 = finops::v1;

namespace {

constexpr std::string_view kCsp =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'";

// Longest accepted values (bytes, after decoding).
constexpr size_t kMaxFilterBytes = 512;
constexpr size_t kMaxSearchBytes = 2048;
constexpr size_t kMaxCursorBytes = 2048;
constexpr size_t kMaxIdBytes = 256;
constexpr size_t kMaxTokenBytes = 4096;

ApiError badParam(std::string param, std::string message) {
  return apiError(400, "invalid_request_error", "invalid_request_error", std::move(message),
                  std::move(param));
}

bool validUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return false;
    i += n + 1;
  }
  return true;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// A whole number in [min, max] written in decimal digits only.
std::optional<int64_t> parseWhole(std::string_view s, int64_t min, int64_t max) {
  if (!allDigits(s) || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < min || v > max) return std::nullopt;
  return v;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

unsigned daysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" -> ms since the epoch.
std::optional<int64_t> parseRfc3339(std::string_view s) {
  auto num = [&](size_t pos, size_t len) -> std::optional<int64_t> {
    if (pos + len > s.size()) return std::nullopt;
    return parseWhole(s.substr(pos, len), 0, 9999);
  };
  if (s.size() < 20) return std::nullopt;
  auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2),
       sec = num(17, 2);
  if (!y || !mo || !d || !h || !mi || !sec) return std::nullopt;
  if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':')
    return std::nullopt;
  if (*mo < 1 || *mo > 12 || *d < 1 || *d > daysInMonth(*y, static_cast<unsigned>(*mo)) ||
      *h > 23 || *mi > 59 || *sec > 60)
    return std::nullopt;
  size_t pos = 19;
  int64_t fracMs = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      fracMs += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 9) return std::nullopt;
  }
  if (pos >= s.size()) return std::nullopt;
  int64_t offsetMin = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    auto oh = num(pos + 1, 2), om = num(pos + 4, 2);
    if (!oh || !om || pos + 3 >= s.size() || s[pos + 3] != ':' || *oh > 23 || *om > 59)
      return std::nullopt;
    offsetMin = (*oh * 60 + *om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  int64_t secs = daysFromCivil(*y, static_cast<unsigned>(*mo), static_cast<unsigned>(*d)) * 86400 +
                 *h * 3600 + *mi * 60 + std::min<int64_t>(*sec, 59) - offsetMin * 60;
  return secs * 1000 + fracMs;
}

void setTimestamp(google::protobuf::Timestamp* ts, int64_t ms) {
  int64_t secs = ms / 1000, rem = ms % 1000;
  if (rem < 0) {
    rem += 1000;
    secs -= 1;
  }
  ts->set_seconds(secs);
  ts->set_nanos(static_cast<int32_t>(rem * 1'000'000));
}

// "Authorization: Bearer <token>" -> the token; empty when absent or another scheme.
std::string bearerToken(const http::request<http::string_body>& req) {
  std::string_view v = req[http::field::authorization];
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  if (v.size() < 7 || !beast::iequals(v.substr(0, 7), "bearer ")) return {};
  v.remove_prefix(7);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return std::string(v);
}

// A token that can travel as gRPC metadata: visible ASCII only.
bool plausibleToken(std::string_view t) {
  if (t.empty() || t.size() > kMaxTokenBytes) return false;
  for (char c : t)
    if (c < 0x21 || c > 0x7E) return false;
  return true;
}

// The control plane could not be asked: said once in a while, not on every poll of an open page.
void noteUnavailable(const grpc::Status& st, const std::string& target) {
  static std::atomic<int64_t> lastMs{0};
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t last = lastMs.load();
  if (now - last < 10'000 && last != 0) return;
  if (!lastMs.compare_exchange_strong(last, now)) return;
  log::warn("/logs: the control plane did not answer", {{"control_plane", target},
                                                        {"code", static_cast<int>(st.error_code())},
                                                        {"error", st.error_message()}});
}

// ---- one asynchronous call to the control plane

// Shared by the coroutine waiting for the call and gRPC's callback, which may run after the
// coroutine is gone (the server stopped): whoever ends last frees it, with the context, the
// request and the response the call uses. It holds no I/O object, so that freeing it on a gRPC
// thread, even after the worker's io_context is gone, is safe.
struct CallBase {
  explicit CallBase(net::any_io_executor ex) : executor(std::move(ex)) {}
  virtual ~CallBase() = default;
  grpc::ClientContext ctx;
  const net::any_io_executor executor;  // the waiting coroutine's
  // The coroutine's thread only:
  net::steady_timer* timer = nullptr;  // the waiting coroutine's timer, while it waits
  bool done = false;
  std::mutex mu;
  grpc::Status status;  // GUARDED_BY(mu)
  bool waiting = true;  // GUARDED_BY(mu): false once the coroutine has stopped waiting
};

template <class Req, class Resp>
struct Call : CallBase {
  using CallBase::CallBase;
  Req req;
  Resp resp;
};

// The callback given to the stub: records the status and wakes the coroutine on its own thread.
std::function<void(grpc::Status)> wake(std::shared_ptr<CallBase> call) {
  return [call = std::move(call)](grpc::Status st) {
    std::lock_guard lock(call->mu);
    call->status = std::move(st);
    if (!call->waiting) return;
    net::post(call->executor, [call] {
      call->done = true;
      if (call->timer) call->timer->cancel();
    });
  };
}

// Ends the wait when the coroutine frame goes (normally, or destroyed with its io_context at
// shutdown): a late callback then posts nothing, and nothing refers to the frame's timer.
class StopWaiting {
 public:
  explicit StopWaiting(CallBase& call) : call_(call) {}
  ~StopWaiting() {
    std::lock_guard lock(call_.mu);
    call_.waiting = false;
    call_.timer = nullptr;
  }
  StopWaiting(const StopWaiting&) = delete;
  StopWaiting& operator=(const StopWaiting&) = delete;

 private:
  CallBase& call_;
};

// Waits (without blocking the thread) until the call started on `call` has ended.
net::awaitable<grpc::Status> waitFor(std::shared_ptr<CallBase> call,
                                     std::chrono::milliseconds deadline) {
  net::steady_timer timer(call->executor);
  call->timer = &timer;
  StopWaiting guard(*call);  // declared after the timer: cleared before the timer goes
  // gRPC ends every call by its deadline; this only guards against it never calling back.
  timer.expires_after(deadline + std::chrono::seconds(2));
  while (!call->done) {
    beast::error_code ec;
    co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (!call->done && ec != net::error::operation_aborted) {
      call->ctx.TryCancel();  // its callback follows at once
      timer.expires_after(std::chrono::seconds(1));
    }
  }
  std::lock_guard lock(call->mu);
  co_return call->status;
}

template <class Req, class Resp>
std::shared_ptr<Call<Req, Resp>> newCall(net::any_io_executor executor, const std::string& token,
                                         std::chrono::milliseconds deadline) {
  auto call = std::make_shared<Call<Req, Resp>>(std::move(executor));
  call->ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  call->ctx.AddMetadata("authorization", "Bearer " + token);
  return call;
}

net::awaitable<void> sendApiError(Exchange& ex, const ApiError& e) {
  if (e.status == 405) ex.responseHeaders.emplace_back("allow", "GET");
  co_await sendError(ex, e);
}

net::awaitable<void> sendAsset(Exchange& ex, const Asset& asset) {
  http::response<http::string_body> res{http::status::ok, 11};
  res.set(http::field::content_type, asset.contentType);
  res.body() = std::string(asset.bytes);
  co_await sendResponse(ex, res);
}

std::string dumpJson(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

// ---- the pieces

std::optional<std::string> percentDecode(std::string_view text, bool plusIsSpace) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+' && plusIsSpace) {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hexValue(text[i + 1]), lo = hexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  if (!validUtf8(out)) return std::nullopt;
  return out;
}

std::optional<int64_t> parseTimeParam(std::string_view text) {
  if (allDigits(text)) return parseWhole(text, 0, 253'402'300'799'999);  // to year 9999
  return parseRfc3339(text);
}

std::optional<ApiError> parseLogQuery(std::string_view query, v1::LogQuery* out) {
  static constexpr std::string_view kKnown =
      "provider, model, key, team, customer, status, error_type, since, until, search, limit, "
      "cursor, after_id";
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view rawName = pair.substr(0, eq);
    std::string_view rawValue = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    auto name = percentDecode(rawName);
    if (!name) return badParam("", "a query parameter name is not validly %-encoded UTF-8");
    auto value = percentDecode(rawValue);
    if (!value) return badParam(*name, "'" + *name + "' is not validly %-encoded UTF-8");
    const std::string& n = *name;
    const std::string& v = *value;
    auto tooLong = [&](size_t max) {
      return v.size() > max
                 ? std::optional<ApiError>(
                       badParam(n, "'" + n + "' is longer than " + std::to_string(max) + " bytes"))
                 : std::nullopt;
    };
    std::string* field = nullptr;
    if (n == "provider")
      field = out->mutable_provider();
    else if (n == "model")
      field = out->mutable_model();
    else if (n == "key")
      field = out->mutable_key();
    else if (n == "team")
      field = out->mutable_team();
    else if (n == "customer")
      field = out->mutable_customer();
    else if (n == "status")
      field = out->mutable_status();
    else if (n == "error_type")
      field = out->mutable_error_type();
    if (field) {
      if (auto e = tooLong(kMaxFilterBytes)) return e;
      *field = v;
      continue;
    }
    if (n == "search") {
      if (auto e = tooLong(kMaxSearchBytes)) return e;
      out->set_search(v);
    } else if (n == "cursor") {
      if (auto e = tooLong(kMaxCursorBytes)) return e;
      out->set_cursor(v);
    } else if (n == "since" || n == "until") {
      if (v.empty()) {
        if (n == "since")
          out->clear_since();
        else
          out->clear_until();
        continue;
      }
      auto ms = parseTimeParam(v);
      if (!ms)
        return badParam(n, "'" + n +
                               "' must be an RFC 3339 time (2026-11-22T10:00:00Z) or unix "
                               "milliseconds, got '" +
                               v.substr(0, 64) + "'");
      setTimestamp(n == "since" ? out->mutable_since() : out->mutable_until(), *ms);
    } else if (n == "limit") {
      if (v.empty()) continue;
      auto limit = parseWhole(v, 1, 1000);
      if (!limit)
        return badParam(
            n, "'limit' must be a whole number from 1 to 1000, got '" + v.substr(0, 64) + "'");
      out->set_limit(static_cast<int32_t>(*limit));
    } else if (n == "after_id") {
      if (v.empty()) continue;
      auto id = parseWhole(v, 0, INT64_MAX);
      if (!id)
        return badParam(n, "'after_id' must be a whole number >= 0, got '" + v.substr(0, 64) + "'");
      out->set_after_id(*id);
    } else {
      return badParam(
          n, "unknown query parameter '" + n.substr(0, 64) + "'; known: " + std::string(kKnown));
    }
  }
  if (out->has_since() && out->has_until() &&
      (out->since().seconds() > out->until().seconds() ||
       (out->since().seconds() == out->until().seconds() &&
        out->since().nanos() > out->until().nanos())))
    return badParam("until", "'until' is before 'since'");
  return std::nullopt;
}

nlohmann::ordered_json logEntryJson(const v1::LogEntry& entry, bool withContent) {
  const v1::LogRecord& r = entry.record();
  nlohmann::ordered_json j;
  j["id"] = entry.id();
  j["request_id"] = r.request_id();
  j["ts_ms"] = r.ts_ms();
  j["node"] = r.node();
  j["key_id"] = r.key_id();
  j["key_name"] = r.key_name();
  j["team_id"] = r.team_id();
  j["team_name"] = r.team_name();
  j["customer_id"] = r.customer_id();
  j["customer_name"] = r.customer_name();
  j["method"] = r.method();
  j["route"] = r.route();
  j["provider"] = r.provider();
  j["model"] = r.model();
  j["status"] = r.status();
  j["error_type"] = r.error_type();
  j["latency_us"] = r.latency_us();
  j["ttft_us"] = r.ttft_us();
  j["overhead_us"] = r.overhead_us();
  j["prompt_tokens"] = r.prompt_tokens();
  j["completion_tokens"] = r.completion_tokens();
  j["cached_tokens"] = r.cached_tokens();
  j["cost_nano"] = r.cost_nano();
  j["cost_usd"] = static_cast<double>(r.cost_nano()) / 1e9;
  j["streamed"] = r.streamed();
  j["content_logged"] = r.content_logged();
  j["content_truncated"] = r.content_truncated();
  j["dialect"] = r.dialect();
  if (withContent) {
    j["request_content"] = r.request_content();
    j["response_content"] = r.response_content();
  }
  return j;
}

ApiError errorFromStatus(const grpc::Status& st) {
  const std::string& msg = st.error_message();
  switch (st.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
      return apiError(401, "invalid_request_error", "invalid_admin_token",
                      msg.empty() ? "invalid or revoked admin token" : msg);
    case grpc::StatusCode::PERMISSION_DENIED:
      return apiError(403, "invalid_request_error", "insufficient_scope",
                      msg.empty() ? "this admin token lacks the read scope" : msg);
    case grpc::StatusCode::INVALID_ARGUMENT:
      return apiError(400, "invalid_request_error", "invalid_request_error", msg);
    case grpc::StatusCode::NOT_FOUND:
      return apiError(404, "invalid_request_error", "not_found",
                      msg.empty() ? "no such log entry" : msg);
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED: {
      // The control plane's address and transport errors stay in the data plane's log.
      ApiError e = apiError(503, "server_error", "control_plane_unavailable",
                            "the control plane did not answer; request logs are served by the "
                            "control plane (the gateway itself keeps serving traffic)");
      e.retryAfterSeconds = 2;
      return e;
    }
    default:
      return apiError(
          502, "server_error", "control_plane_error",
          "the control plane failed: " + (msg.empty() ? std::string("no detail") : msg));
  }
}

// ---- LogsApi

LogsApi::LogsApi(LogsApiOptions options) : options_(std::move(options)) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // A page of entries with content (GetLog) can be a few MB.
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  stub_ = v1::AdminService::NewStub(options_.security.createChannel(options_.target, args));
}

LogsApi::~LogsApi() = default;

net::awaitable<void> LogsApi::handle(Exchange& ex, std::string_view path) {
  // Every answer: never framed, never sniffed, scripts only from here.
  ex.responseHeaders.emplace_back("content-security-policy", std::string(kCsp));
  ex.responseHeaders.emplace_back("x-content-type-options", "nosniff");
  ex.responseHeaders.emplace_back("x-frame-options", "DENY");
  ex.responseHeaders.emplace_back("referrer-policy", "no-referrer");
  bool isApi = path == "/logs/api" || path.starts_with("/logs/api/");
  ex.responseHeaders.emplace_back("cache-control", isApi ? "no-store" : "no-cache");
  if (ex.req.method() != http::verb::get) {
    co_await sendApiError(ex, apiError(405, "invalid_request_error", "method_not_allowed",
                                       "Method " + std::string(ex.req.method_string()) +
                                           " is not allowed on " + std::string(path) + "; use GET",
                                       ""));
    co_return;
  }
  std::string_view target = ex.req.target();
  size_t q = target.find('?');
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);

  if (!isApi) {
    std::string_view name = path == "/logs" || path == "/logs/" ? "index.html" : path.substr(6);
    if (auto asset = findAsset(name)) {
      co_await sendAsset(ex, *asset);
      co_return;
    }
    co_await sendApiError(ex, apiError(404, "invalid_request_error", "not_found",
                                       "Invalid URL (GET " + std::string(path) + ")"));
    co_return;
  }

  std::string_view rest = path.substr(std::string_view("/logs/api").size());
  enum class Op { kNone, kList, kGet, kWhoAmI } op = Op::kNone;
  std::string id;
  if (rest == "/logs" || rest == "/logs/") {
    op = Op::kList;
  } else if (rest == "/whoami") {
    op = Op::kWhoAmI;
  } else if (rest.starts_with("/logs/") && rest.find('/', 6) == std::string_view::npos) {
    auto decoded = percentDecode(rest.substr(6), false);
    if (!decoded || decoded->empty() || decoded->size() > kMaxIdBytes) {
      co_await sendApiError(ex, badParam("id",
                                         "the log id must be a request id (req_...) or an "
                                         "entry id"));
      co_return;
    }
    id = std::move(*decoded);
    op = Op::kGet;
  }
  if (op == Op::kNone) {
    co_await sendApiError(ex, apiError(404, "invalid_request_error", "unknown_route",
                                       "Invalid URL (GET " + std::string(path) +
                                           "); the logs API has /logs/api/logs, "
                                           "/logs/api/logs/{id} and /logs/api/whoami"));
    co_return;
  }

  std::string token = bearerToken(ex.req);
  if (token.empty()) {
    co_await sendApiError(ex, apiError(401, "invalid_request_error", "invalid_admin_token",
                                       "missing admin token: send 'Authorization: Bearer <admin "
                                       "token>' (a token with the read scope: finopsctl tokens "
                                       "create --name NAME --scope read)"));
    co_return;
  }
  if (!plausibleToken(token)) {
    co_await sendApiError(ex, apiError(401, "invalid_request_error", "invalid_admin_token",
                                       "invalid or revoked admin token"));
    co_return;
  }
  switch (op) {
    case Op::kList:
      co_await listLogs(ex, query, std::move(token));
      break;
    case Op::kGet:
      co_await getLog(ex, std::move(id), std::move(token));
      break;
    case Op::kWhoAmI:
      co_await whoAmI(ex, std::move(token));
      break;
    case Op::kNone:
      break;
  }
}

// A failed control-plane call, answered in the OpenAI error shape (unavailability logged).
static net::awaitable<void> sendCallError(Exchange& ex, const grpc::Status& st, const std::string& target) {
  ApiError e = errorFromStatus(st);
  if (e.status >= 500) noteUnavailable(st, target);
  co_await sendApiError(ex, e);
}

net::awaitable<void> LogsApi::listLogs(Exchange& ex, std::string_view query, std::string token) {
  auto executor = co_await net::this_coro::executor;
  auto call = newCall<v1::LogQuery, v1::ListLogsResponse>(executor, token, options_.deadline);
  if (auto bad = parseLogQuery(query, &call->req)) {
    co_await sendApiError(ex, *bad);
    co_return;
  }
  stub_->async()->ListLogs(&call->ctx, &call->req, &call->resp, wake(call));
  grpc::Status st = co_await waitFor(call, options_.deadline);
  if (!st.ok()) {
    co_await sendCallError(ex, st, options_.target);
    co_return;
  }
  nlohmann::ordered_json j;
  j["entries"] = nlohmann::ordered_json::array();
  for (const auto& entry : call->resp.entries()) j["entries"].push_back(logEntryJson(entry, false));
  j["next_cursor"] = call->resp.next_cursor();
  j["last_id"] = call->resp.last_id();
  co_await sendJson(ex, 200, dumpJson(j));
}

net::awaitable<void> LogsApi::getLog(Exchange& ex, std::string id, std::string token) {
  auto executor = co_await net::this_coro::executor;
  auto call = newCall<v1::GetLogRequest, v1::LogEntry>(executor, token, options_.deadline);
  call->req.set_id(std::move(id));
  stub_->async()->GetLog(&call->ctx, &call->req, &call->resp, wake(call));
  grpc::Status st = co_await waitFor(call, options_.deadline);
  if (!st.ok()) {
    co_await sendCallError(ex, st, options_.target);
    co_return;
  }
  co_await sendJson(ex, 200, dumpJson(logEntryJson(call->resp, true)));
}

net::awaitable<void> LogsApi::whoAmI(Exchange& ex, std::string token) {
  auto executor = co_await net::this_coro::executor;
  auto call = newCall<v1::WhoAmIRequest, v1::WhoAmIResponse>(executor, token, options_.deadline);
  stub_->async()->WhoAmI(&call->ctx, &call->req, &call->resp, wake(call));
  grpc::Status st = co_await waitFor(call, options_.deadline);
  if (!st.ok()) {
    co_await sendCallError(ex, st, options_.target);
    co_return;
  }
  nlohmann::ordered_json j;
  j["token_name"] = call->resp.token_name();
  j["scope"] = call->resp.scope();
  co_await sendJson(ex, 200, dumpJson(j));
}

}  // namespace finops::dp::logs
