// finopsctl logs: list, search and follow the request logs; logs show: one request in full.
#include "cli/logs.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/governance.h"
#include "cli/output.h"
#include "cli/spec.h"

namespace finops::cli {

namespace v1 = finops::v1;
using nlohmann::ordered_json;

const char* const kLogsUsage =
    "usage: finopsctl logs [--provider P] [--model M] [--key K] [--team T] [--customer C]\n"
    "                      [--status S] [--error-type E] [--since 15m|2h|7d|TIME]\n"
    "                      [--until 15m|2h|7d|TIME] [--search QUERY] [--limit N] [--cursor C]\n"
    "                      [--follow]\n"
    "       finopsctl logs show REQUEST_ID|ID";
const char* const kLogsShowUsage = "usage: finopsctl logs show REQUEST_ID|ID";

namespace {

constexpr int32_t kMaxLimit = 1000;  // the control plane's cap on one page
constexpr auto kPollInterval = std::chrono::seconds(1);

const std::set<std::string> kValueFlags = {"--provider", "--model",  "--key",        "--team",
                                           "--customer", "--status", "--error-type", "--since",
                                           "--until",    "--search", "--limit",      "--cursor"};

// Usage errors carry the usage text, so a mistyped flag shows what is accepted.
[[noreturn]] void usageError(const std::string& msg, const char* usage) {
  throw CliError(kExitUsage, msg + "\n" + usage);
}

Args parseArgs(const std::vector<std::string>& argv, const std::set<std::string>& values,
               const std::set<std::string>& bools, const char* usage) {
  try {
    return Args(argv, values, bools);
  } catch (const CliError& e) {
    usageError(e.what(), usage);
  }
}

std::string twoDigits(int v) {
  return std::string(1, static_cast<char>('0' + v / 10)) + static_cast<char>('0' + v % 10);
}

// Logged text is the client's: terminal control characters (C0 except newline and tab where
// kept, DEL, C1) are shown as \xHH instead of reaching the terminal.
std::string printable(std::string_view s, bool keepLines) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    unsigned char next = i + 1 < s.size() ? static_cast<unsigned char>(s[i + 1]) : 0;
    bool c1 = c == 0xC2 && next >= 0x80 && next <= 0x9F;  // U+0080..U+009F in UTF-8
    if ((c < 0x20 && !(keepLines && (c == '\n' || c == '\t'))) || c == 0x7F || c1) {
      unsigned char v = c1 ? next : c;
      out += "\\x";
      out += kHex[v >> 4];
      out += kHex[v & 15];
      if (c1) ++i;
      continue;
    }
    out += static_cast<char>(c);
  }
  return out;
}

std::string orDash(const std::string& s) { return s.empty() ? "-" : printable(s, false); }

std::string boolText(bool b) { return b ? "true" : "false"; }

// Header widths for --follow, so rows printed later mostly line up with the first page's.
const std::vector<size_t> kFollowWidths = {25, 36, 6, 10, 24, 12, 8, 7, 11, 10, 0};

class Table {
 public:
  Table(std::vector<std::string> header, bool follow) : header_(std::move(header)) {
    for (size_t i = 0; i < header_.size(); ++i)
      widths_.push_back(std::max(header_[i].size(), follow ? kFollowWidths[i] : 0));
  }
  void fit(const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) widths_[i] = std::max(widths_[i], cells[i].size());
  }
  void print(const std::vector<std::string>& cells) const {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i) {
      s += cells[i];
      if (i + 1 < cells.size())
        s += std::string(std::max(widths_[i], cells[i].size()) - cells[i].size() + 2, ' ');
    }
    std::cout << s << "\n";
  }
  void printHeader() const { print(header_); }

 private:
  std::vector<std::string> header_;
  std::vector<size_t> widths_;
};

// SIGINT and SIGTERM while following: blocked in every thread (the gRPC threads are started
// after this, so they inherit the mask) and taken by a thread of their own, which cancels the
// call in flight and wakes the poll loop. Never destroyed: the waiting thread may outlive
// runLogs.
class StopSignal {
 public:
  static StopSignal& install() {
    static StopSignal* s = new StopSignal();
    return *s;
  }
  bool stopped() {
    std::lock_guard<std::mutex> l(mu_);
    return stopped_;
  }
  // Waits up to `d`; true when a signal came.
  bool waitFor(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, d, [&] { return stopped_; });
  }
  // The call in flight, cancelled by a signal (nullptr: none).
  void setCall(grpc::ClientContext* ctx) {
    std::lock_guard<std::mutex> l(mu_);
    call_ = ctx;
    if (stopped_ && call_) call_->TryCancel();
  }

 private:
  StopSignal() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    std::thread([this] {
      int sig = 0;
      sigwait(&set_, &sig);
      std::lock_guard<std::mutex> l(mu_);
      stopped_ = true;
      if (call_) call_->TryCancel();
      cv_.notify_all();
    }).detach();
  }
  sigset_t set_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  grpc::ClientContext* call_ = nullptr;
};

bool transient(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

// One entry while following, as -o says: a table row, a compact JSON line, a YAML document.
void printFollowed(const GlobalOptions& g, Table& table, const v1::LogEntry& e) {
  if (g.output == "json") {
    std::cout << logEntryJson(e, false).dump() << "\n";
  } else if (g.output == "yaml") {
    std::cout << "---\n" << toYaml(logEntryJson(e, false));
  } else {
    auto cells = logTableCells(e, true);
    table.fit(cells);
    table.print(cells);
  }
}

// One poll while following: the entries that match `base` and were stored after `after`, with
// the last_id of the query (`more`: a full page, there may be more). Polls wait for the
// connection (up to the deadline) rather than fail at once while the channel backs off, so a
// poll goes through as soon as the control plane is back.
//
// after_id 0 is not "following" to the control plane (it lists newest first), so while nothing
// had been stored, this pages back with the cursor until it has every match up to last_id of
// the first page (entries past it come with the next poll).
grpc::Status pollOnce(Client& client, StopSignal& stop, const v1::LogQuery& base, int64_t after,
                      std::vector<v1::LogEntry>& got, int64_t& lastId, bool& more) {
  v1::LogQuery q = base;
  if (after > 0) q.set_after_id(after);
  more = false;
  for (bool first = true;; first = false) {
    v1::ListLogsResponse resp;
    auto ctx = client.context();
    ctx->set_wait_for_ready(true);
    stop.setCall(ctx.get());
    grpc::Status s = client.stub().ListLogs(ctx.get(), q, &resp);
    stop.setCall(nullptr);
    if (!s.ok() || stop.stopped()) return s;
    if (first) lastId = resp.last_id();
    for (auto& e : *resp.mutable_entries()) got.push_back(std::move(e));
    if (after > 0) {
      more = resp.entries_size() >= q.limit();
      return s;
    }
    if (resp.next_cursor().empty() || lastId == 0) return s;
    q.set_cursor(resp.next_cursor());
  }
}

int follow(const GlobalOptions& g, const LogsListOptions& opts) {
  StopSignal& stop = StopSignal::install();
  Client client(g);
  Table table(logTableHeader(true), true);

  // The first page: the newest entries, printed oldest first so the newest ends at the bottom.
  v1::ListLogsResponse first;
  {
    auto ctx = client.context();
    stop.setCall(ctx.get());
    grpc::Status s = client.stub().ListLogs(ctx.get(), opts.query, &first);
    stop.setCall(nullptr);
    if (stop.stopped()) return kExitOk;
    client.check(s);
  }
  int64_t after = first.last_id();
  if (g.output == "table") {
    for (const auto& e : first.entries()) table.fit(logTableCells(e, true));
    table.printHeader();
  }
  for (int i = first.entries_size() - 1; i >= 0; --i) {
    printFollowed(g, table, first.entries(i));
    after = std::max(after, first.entries(i).id());
  }
  std::cout << std::flush;

  // Then whatever is stored after the last id seen, every second (at once after a full page).
  v1::LogQuery base = opts.query;
  base.clear_cursor();
  base.set_limit(kMaxLimit);
  bool full = false, down = false;
  while (!stop.stopped()) {
    if (!full && stop.waitFor(kPollInterval)) break;
    std::vector<v1::LogEntry> got;
    int64_t lastId = 0;
    grpc::Status s = pollOnce(client, stop, base, after, got, lastId, full);
    if (stop.stopped()) break;
    if (!s.ok()) {
      full = false;
      if (!transient(s)) client.check(s);  // throws: auth, permission, bad query...
      if (!down)
        std::cerr << "finopsctl: control plane at " << g.addr
                  << " is unavailable; retrying every second: " << s.error_message() << "\n";
      down = true;
      continue;
    }
    if (down) std::cerr << "finopsctl: control plane reachable again; following\n";
    down = false;
    std::sort(got.begin(), got.end(),
              [](const v1::LogEntry& a, const v1::LogEntry& b) { return a.id() < b.id(); });
    for (const auto& e : got) {
      if (e.id() <= after || (after == 0 && e.id() > lastId)) continue;
      printFollowed(g, table, e);
      if (after > 0) after = e.id();
    }
    std::cout << std::flush;
    // A page that is not full held every match up to last_id (the largest id stored when the
    // query ran, in the same snapshot): skip past it, so that a filter matching nothing does
    // not make the next poll look at those rows again.
    if (!full) after = std::max(after, lastId);
  }
  std::cout << std::flush;
  return kExitOk;
}

int list(const GlobalOptions& g, const std::vector<std::string>& argv) {
  LogsListOptions opts = parseLogsArgs(argv, nowMs());
  if (opts.follow) return follow(g, opts);
  Client client(g);
  v1::ListLogsResponse resp;
  client.check(client.stub().ListLogs(client.context().get(), opts.query, &resp));
  if (g.output != "table") {
    ordered_json entries = ordered_json::array();
    for (const auto& e : resp.entries()) entries.push_back(logEntryJson(e, false));
    print(ordered_json{{"entries", std::move(entries)},
                       {"next_cursor", resp.next_cursor()},
                       {"last_id", resp.last_id()}},
          g.output, {});
    return kExitOk;
  }
  bool withError =
      std::any_of(resp.entries().begin(), resp.entries().end(),
                  [](const v1::LogEntry& e) { return !e.record().error_type().empty(); });
  Table table(logTableHeader(withError), false);
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : resp.entries()) {
    rows.push_back(logTableCells(e, withError));
    table.fit(rows.back());
  }
  table.printHeader();
  for (const auto& r : rows) table.print(r);
  if (!resp.next_cursor().empty())
    std::cerr << "(more entries: add --cursor " << resp.next_cursor() << ")\n";
  return kExitOk;
}

int show(const GlobalOptions& g, const std::vector<std::string>& argv) {
  Args a = parseArgs(argv, {}, {}, kLogsShowUsage);
  if (a.positional().size() != 1)
    usageError("logs show takes one request id or entry id", kLogsShowUsage);
  if (a.positional()[0].empty()) usageError("the request id is empty", kLogsShowUsage);
  v1::GetLogRequest req;
  req.set_id(a.positional()[0]);
  Client client(g);
  v1::LogEntry resp;
  client.check(client.stub().GetLog(client.context().get(), req, &resp));
  if (g.output == "table")
    std::cout << logDetailText(resp);
  else
    print(logEntryJson(resp, true), g.output, {});
  return kExitOk;
}

}  // namespace

int64_t parseLogTime(const std::string& text, const std::string& flag, int64_t now) {
  if (auto d = parseDurationMs(text)) return now - *d;
  if (auto t = parseTime(text)) return *t;
  if (!text.empty() && text.size() <= 15 &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::stoll(text);
  usageError(flag +
                 " takes a duration ago (15m, 2h, 7d, 2w), an RFC 3339 time "
                 "(2026-11-22T10:00:00Z), a date (2026-11-22) or unix milliseconds, not '" +
                 text + "'",
             kLogsUsage);
}

LogsListOptions parseLogsArgs(const std::vector<std::string>& argv, int64_t now) {
  Args a = parseArgs(argv, kValueFlags, {"--follow", "-f"}, kLogsUsage);
  if (!a.positional().empty())
    usageError("unexpected argument '" + a.positional()[0] + "'", kLogsUsage);
  LogsListOptions o;
  v1::LogQuery& q = o.query;
  q.set_provider(a.value("--provider"));
  q.set_model(a.value("--model"));
  q.set_key(a.value("--key"));
  q.set_team(a.value("--team"));
  q.set_customer(a.value("--customer"));
  q.set_status(a.value("--status"));
  q.set_error_type(a.value("--error-type"));
  q.set_search(a.value("--search"));
  q.set_cursor(a.value("--cursor"));
  if (a.has("--since"))
    *q.mutable_since() = timestampFromMs(parseLogTime(a.value("--since"), "--since", now));
  if (a.has("--until"))
    *q.mutable_until() = timestampFromMs(parseLogTime(a.value("--until"), "--until", now));
  if (q.has_since() && q.has_until() && timestampMs(q.since()) > timestampMs(q.until()))
    usageError("--since is after --until", kLogsUsage);
  if (a.has("--limit")) {
    std::string v = a.value("--limit");
    int64_t n = 0;
    bool ok = !v.empty() && v.size() <= 6 &&
              std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (ok) n = std::stoll(v);
    if (!ok || n < 1 || n > kMaxLimit)
      usageError("--limit takes a number from 1 to " + std::to_string(kMaxLimit), kLogsUsage);
    q.set_limit(static_cast<int32_t>(n));
  }
  o.follow = a.has("--follow") || a.has("-f");
  if (o.follow && a.has("--cursor"))
    usageError("--follow starts from the newest entries: it takes no --cursor", kLogsUsage);
  if (o.follow && a.has("--until"))
    usageError("--follow shows entries as they arrive: it takes no --until", kLogsUsage);
  return o;
}

ordered_json logEntryJson(const v1::LogEntry& e, bool content) {
  const v1::LogRecord& r = e.record();
  ordered_json j = {{"id", e.id()},
                    {"request_id", r.request_id()},
                    {"ts_ms", r.ts_ms()},
                    {"node", r.node()},
                    {"key_id", r.key_id()},
                    {"key_name", r.key_name()},
                    {"team_id", r.team_id()},
                    {"team_name", r.team_name()},
                    {"customer_id", r.customer_id()},
                    {"customer_name", r.customer_name()},
                    {"method", r.method()},
                    {"route", r.route()},
                    {"provider", r.provider()},
                    {"model", r.model()},
                    {"status", r.status()},
                    {"error_type", r.error_type()},
                    {"latency_us", r.latency_us()},
                    {"ttft_us", r.ttft_us()},
                    {"overhead_us", r.overhead_us()},
                    {"prompt_tokens", r.prompt_tokens()},
                    {"completion_tokens", r.completion_tokens()},
                    {"cached_tokens", r.cached_tokens()},
                    {"cost_nano", r.cost_nano()},
                    {"cost_usd", static_cast<double>(r.cost_nano()) / 1e9},
                    {"streamed", r.streamed()},
                    {"content_logged", r.content_logged()},
                    {"content_truncated", r.content_truncated()},
                    {"dialect", r.dialect()}};
  if (content) {
    j["request_content"] = r.request_content();
    j["response_content"] = r.response_content();
  }
  return j;
}

std::vector<std::string> logTableHeader(bool withError) {
  std::vector<std::string> h = {"TIME", "REQUEST ID", "STATUS", "PROVIDER", "MODEL",
                                "KEY",  "LATENCY",    "TTFT",   "TOKENS",   "COST"};
  if (withError) h.push_back("ERROR");
  return h;
}

std::vector<std::string> logTableCells(const v1::LogEntry& e, bool withError) {
  const v1::LogRecord& r = e.record();
  std::string key = r.key_name().empty() ? r.key_id() : r.key_name();
  std::vector<std::string> c = {
      localTime(r.ts_ms(), false),
      orDash(r.request_id()),
      std::to_string(r.status()),
      orDash(r.provider()),
      orDash(r.model()),
      orDash(key),
      formatMicros(r.latency_us()),
      formatMicros(r.ttft_us()),
      std::to_string(r.prompt_tokens()) + "/" + std::to_string(r.completion_tokens()),
      formatLogCost(r.cost_nano())};
  if (withError) c.push_back(orDash(r.error_type()));
  return c;
}

std::string formatMicros(int64_t us) {
  if (us <= 0) return "-";
  if (us < 1000) return std::to_string(us) + "us";
  if (us < 10'000) {
    int64_t tenths = (us + 50) / 100;  // 1000..9999 us -> 10..100 tenths of a ms
    return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + "ms";
  }
  if (us < 10'000'000) return std::to_string((us + 500) / 1000) + "ms";
  int64_t tenths = (us + 50'000) / 100'000;
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + "s";
}

std::string formatLogCost(int64_t nano) {
  std::string sign = nano < 0 ? "-" : "";
  uint64_t n = nano < 0 ? static_cast<uint64_t>(-(nano + 1)) + 1 : static_cast<uint64_t>(nano);
  uint64_t micros = (n + 500) / 1000;
  if (n > 0 && micros == 0) return sign.empty() ? "<$0.000001" : "-<$0.000001";
  std::string frac = std::to_string(micros % 1'000'000);
  frac.insert(0, 6 - frac.size(), '0');
  while (frac.size() > 2 && frac.back() == '0') frac.pop_back();
  return sign + "$" + std::to_string(micros / 1'000'000) + "." + frac;
}

std::string localTime(int64_t ms, bool millis) {
  int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  int64_t rest = ms - secs * 1000;
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  if (!localtime_r(&t, &tm)) return std::to_string(ms);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string s = buf;
  if (millis) {
    std::string m = std::to_string(rest);
    s += "." + std::string(3 - m.size(), '0') + m;
  }
  long off = tm.tm_gmtoff / 60;  // minutes east of UTC
  if (off == 0) return s + "Z";
  s += off < 0 ? "-" : "+";
  off = off < 0 ? -off : off;
  return s + twoDigits(static_cast<int>(off / 60)) + ":" + twoDigits(static_cast<int>(off % 60));
}

std::string logDetailText(const v1::LogEntry& e) {
  const v1::LogRecord& r = e.record();
  std::vector<std::pair<std::string, std::string>> f = {
      {"id", std::to_string(e.id())},
      {"request_id", orDash(r.request_id())},
      {"time", localTime(r.ts_ms(), true)},
      {"node", orDash(r.node())},
      {"key_name", orDash(r.key_name())},
      {"key_id", orDash(r.key_id())},
      {"team_name", orDash(r.team_name())},
      {"team_id", orDash(r.team_id())},
      {"customer_name", orDash(r.customer_name())},
      {"customer_id", orDash(r.customer_id())},
      {"method", orDash(r.method())},
      {"route", orDash(r.route())},
      {"dialect", orDash(r.dialect())},
      {"provider", orDash(r.provider())},
      {"model", orDash(r.model())},
      {"status", std::to_string(r.status())},
      {"error_type", orDash(r.error_type())},
      {"streamed", boolText(r.streamed())},
      {"latency", formatMicros(r.latency_us())},
      {"ttft", formatMicros(r.ttft_us())},
      {"overhead", formatMicros(r.overhead_us())},
      {"prompt_tokens", std::to_string(r.prompt_tokens())},
      {"completion_tokens", std::to_string(r.completion_tokens())},
      {"cached_tokens", std::to_string(r.cached_tokens())},
      {"cost", formatLogCost(r.cost_nano())},
      {"cost_nano", std::to_string(r.cost_nano())},
      {"content_logged", boolText(r.content_logged())},
      {"content_truncated", boolText(r.content_truncated())}};
  std::string s;
  for (const auto& [name, value] : f) s += name + ": " + printable(value, false) + "\n";
  auto block = [&](const char* title, const std::string& content) {
    s += std::string("--- ") + title + " ---\n";
    if (!r.content_logged())
      s += "(content not logged)\n";
    else if (content.empty())
      s += "(empty)\n";
    else
      s += printable(content, true) + (content.back() == '\n' ? "" : "\n");
  };
  block("request", r.request_content());
  block("response", r.response_content());
  if (r.content_logged() && r.content_truncated())
    s += "(content cut to the data plane's --log-content-max-bytes)\n";
  return s;
}

int runLogs(const GlobalOptions& g, const std::vector<std::string>& argv) {
  if (!argv.empty() && argv[0] == "show")
    return show(g, std::vector<std::string>(argv.begin() + 1, argv.end()));
  return list(g, argv);
}

}  // namespace finops::cli
