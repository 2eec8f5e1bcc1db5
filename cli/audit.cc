// finopsctl audit: the control plane's record of admin calls (who, what, when, result).
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/governance.h"
#include "cli/output.h"

namespace finops::cli {
namespace {

namespace v1 = finops::v1;
using nlohmann::ordered_json;

const char* kUsage =
    "finopsctl audit [--since 1h|TIME] [--until 1h|TIME] [--caller TOKEN] [--method NAME] "
    "[--limit N] [--before-id ID]";

const std::vector<Column> kColumns = {
    {"TIME", "at"},       {"TOKEN", "token"}, {"SCOPE", "scope"}, {"METHOD", "method"},
    {"TARGET", "target"}, {"RESULT", "code"}, {"PEER", "peer"}};

// "1h" (that long ago) or a time (RFC 3339 or a bare date), as milliseconds since the epoch.
int64_t timeOrAgo(const std::string& text, const std::string& flag) {
  if (auto d = parseDurationMs(text)) return nowMs() - *d;
  if (auto t = parseTime(text)) return *t;
  throw CliError(kExitUsage, flag +
                                 " takes a duration ago (30m, 24h, 7d, 2w) or a time "
                                 "(2026-11-21T10:00:00Z, 2026-11-21)");
}

int64_t positiveNumber(const std::string& text, const std::string& flag, int64_t max) {
  int64_t v = 0;
  bool ok = !text.empty() && text.size() <= 18;
  for (char c : text) {
    if (c < '0' || c > '9')
      ok = false;
    else
      v = v * 10 + (c - '0');
  }
  if (!ok || v < 1 || v > max)
    throw CliError(kExitUsage, flag + " takes a number from 1 to " + std::to_string(max));
  return v;
}

ordered_json entryJson(const v1::AuditEntry& e) {
  return {{"id", e.id()},
          {"at", timestampJson(e.at())},
          {"token_id", nullable(e.token_id())},
          {"token_name", nullable(e.token_name())},
          {"scope", nullable(e.scope())},
          {"method", e.method()},
          {"target", nullable(e.target())},
          {"code", e.code()},
          {"message", nullable(e.message())},
          {"peer", nullable(e.peer())}};
}

}  // namespace

int runAudit(const GlobalOptions& g, const std::vector<std::string>& argv) {
  Args a(argv, {"--since", "--until", "--caller", "--method", "--limit", "--before-id"}, {});
  a.expectPositional(0, kUsage);
  v1::ListAuditRequest req;
  if (a.has("--since"))
    *req.mutable_since() = timestampFromMs(timeOrAgo(a.value("--since"), "--since"));
  if (a.has("--until"))
    *req.mutable_until() = timestampFromMs(timeOrAgo(a.value("--until"), "--until"));
  if (req.has_since() && req.has_until() && timestampMs(req.since()) > timestampMs(req.until()))
    throw CliError(kExitUsage, "--since is after --until");
  // Not "--token": that global flag is the admin token finopsctl itself uses.
  req.set_token_id(a.value("--caller"));
  req.set_method(a.value("--method"));
  if (a.has("--limit"))
    req.set_limit(static_cast<int32_t>(positiveNumber(a.value("--limit"), "--limit", 10000)));
  if (a.has("--before-id"))
    req.set_before_id(
        positiveNumber(a.value("--before-id"), "--before-id", 999'999'999'999'999'999));

  Client client(g);
  v1::ListAuditResponse resp;
  client.check(client.stub().ListAudit(client.context().get(), req, &resp));

  ordered_json data = ordered_json::array();
  ordered_json rows = ordered_json::array();
  for (const auto& e : resp.entries()) {
    data.push_back(entryJson(e));
    ordered_json r = data.back();
    // Who: the token's name (its id when the name is empty), "-" for unauthenticated calls.
    r["token"] = e.token_name().empty() ? nullable(e.token_id()) : ordered_json(e.token_name());
    rows.push_back(std::move(r));
  }
  printAs(g, data, rows, kColumns);
  int limit = req.limit() == 0 ? 100 : req.limit();
  if (g.output == "table" && resp.entries_size() == limit)
    std::cerr << "(more entries may exist: add --before-id " << resp.entries(limit - 1).id()
              << ")\n";
  return kExitOk;
}

}  // namespace finops::cli
