// The /logs page on the data plane URL (docs/observability.md): the page's files, built into
// the binary (assets.h), and a small JSON API that the page calls:
//
//   GET /logs, /logs/, /logs/app.js, /logs/app.css   the page (no authentication)
//   GET /logs/api/logs?provider=&model=&...          AdminService.ListLogs
//   GET /logs/api/logs/{id}                          AdminService.GetLog (request id or entry id)
//   GET /logs/api/whoami                             AdminService.WhoAmI (checks a token)
//
// The data plane stores nothing: each API call is one gRPC call to the control plane carrying
// the caller's admin token ("Authorization: Bearer <admin token>") as its `authorization`
// metadata; the control plane authenticates it and checks its scope (`read` or `admin` for the
// logs). The data-plane token is never sent on these calls. Only GET is served (405 otherwise,
// OPTIONS included): the API is same-origin only and never answers CORS.
//
// Errors are in the OpenAI error shape: 400 invalid_request_error (a bad parameter, or the
// control plane's INVALID_ARGUMENT), 401 invalid_admin_token, 403 insufficient_scope, 404
// not_found, 503 control_plane_unavailable (unreachable, or no answer within the deadline).
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/grpc_tls.h"
#include "dataplane/server/exchange.h"
#include "finops/v1/admin.grpc.pb.h"

namespace finops::dp::logs {

struct LogsApiOptions {
  std::string target;        // the control plane's gRPC address (as --control-plane, no scheme)
  ChannelSecurity security;  // the control plane link's TLS; default: plaintext
  // Every call to the control plane; past it the client gets 503 control_plane_unavailable.
  std::chrono::milliseconds deadline{5000};
};

// Thread-safe: one instance serves every worker. Must outlive the Server that points to it.
class LogsApi {
 public:
  explicit LogsApi(LogsApiOptions options);
  ~LogsApi();
  LogsApi(const LogsApi&) = delete;
  LogsApi& operator=(const LogsApi&) = delete;

  // Answers one request whose path is "/logs" or starts with "/logs/". Never throws; never
  // blocks the worker thread (the gRPC call is asynchronous; the coroutine resumes on the
  // exchange's executor when it ends).
  net::awaitable<void> handle(Exchange& ex, std::string_view path);

 private:
  net::awaitable<void> listLogs(Exchange& ex, std::string_view query, std::string token);
  net::awaitable<void> getLog(Exchange& ex, std::string id, std::string token);
  net::awaitable<void> whoAmI(Exchange& ex, std::string token);

  LogsApiOptions options_;
  std::unique_ptr<finops::v1::AdminService::Stub> stub_;
};

// ---- the pieces, exposed for tests

// Decodes a query-string component: %XX escapes, and '+' as a space when `plusIsSpace` (not in
// a path segment). nullopt: a malformed escape or a result that is not valid UTF-8.
std::optional<std::string> percentDecode(std::string_view text, bool plusIsSpace = true);

// A time parameter: RFC 3339 ("2026-11-22T10:00:00Z", "2026-11-22T11:00:00.5+01:00") or
// unix milliseconds ("1795000000000"), as milliseconds since the epoch. nullopt otherwise.
std::optional<int64_t> parseTimeParam(std::string_view text);

// Fills `out` from the query string of GET /logs/api/logs (without the '?'). Unknown
// parameters, malformed escapes, a limit that is not a number from 1 to 1000, an after_id that
// is not a whole number >= 0 and times that are neither RFC 3339 nor unix milliseconds are
// refused: the returned error (400 invalid_request_error) names the parameter. Empty values
// count as absent.
std::optional<ApiError> parseLogQuery(std::string_view query, finops::v1::LogQuery* out);

// One entry as the API returns it: every LogRecord field (snake_case, int64 as numbers) plus
// "id" and "cost_usd"; the content fields only when `withContent`.
nlohmann::ordered_json logEntryJson(const finops::v1::LogEntry& entry, bool withContent);

// The client-facing error for a failed control-plane call.
ApiError errorFromStatus(const grpc::Status& status);

}  // namespace finops::dp::logs
