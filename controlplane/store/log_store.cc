#include "controlplane/store/log_store.h"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <variant>

namespace finops::cp {
namespace {
using Code = StoreError::Code;
namespace v1 = finops::v1;

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 1000;
constexpr size_t kMaxSearchBytes = 2000;
constexpr int64_t kRowOverheadBytes = 200;
constexpr int kBusyTimeoutMs = 5000;

// The columns of a list answer (no content), read by readEntry.
constexpr const char* kColumns =
    "r.id, r.request_id, r.ts_ms, r.node, r.key_id, r.key_name, r.team_id, r.team_name, "
    "r.customer_id, r.customer_name, r.method, r.route, r.provider, r.model, r.status, "
    "r.error_type, r.latency_us, r.ttft_us, r.overhead_us, r.prompt_tokens, "
    "r.completion_tokens, r.cached_tokens, r.cost_nano, r.streamed, r.content_logged, "
    "r.content_truncated, r.dialect";
constexpr int kColumnCount = 27;

v1::LogEntry readEntry(SQLite::Statement& q) {
  v1::LogEntry e;
  e.set_id(q.getColumn(0).getInt64());
  auto& r = *e.mutable_record();
  r.set_request_id(q.getColumn(1).getString());
  r.set_ts_ms(q.getColumn(2).getInt64());
  r.set_node(q.getColumn(3).getString());
  r.set_key_id(q.getColumn(4).getString());
  r.set_key_name(q.getColumn(5).getString());
  r.set_team_id(q.getColumn(6).getString());
  r.set_team_name(q.getColumn(7).getString());
  r.set_customer_id(q.getColumn(8).getString());
  r.set_customer_name(q.getColumn(9).getString());
  r.set_method(q.getColumn(10).getString());
  r.set_route(q.getColumn(11).getString());
  r.set_provider(q.getColumn(12).getString());
  r.set_model(q.getColumn(13).getString());
  r.set_status(q.getColumn(14).getInt());
  r.set_error_type(q.getColumn(15).getString());
  r.set_latency_us(q.getColumn(16).getInt64());
  r.set_ttft_us(q.getColumn(17).getInt64());
  r.set_overhead_us(q.getColumn(18).getInt64());
  r.set_prompt_tokens(q.getColumn(19).getInt64());
  r.set_completion_tokens(q.getColumn(20).getInt64());
  r.set_cached_tokens(q.getColumn(21).getInt64());
  r.set_cost_nano(q.getColumn(22).getInt64());
  r.set_streamed(q.getColumn(23).getInt() != 0);
  r.set_content_logged(q.getColumn(24).getInt() != 0);
  r.set_content_truncated(q.getColumn(25).getInt() != 0);
  r.set_dialect(q.getColumn(26).getString());
  return e;
}

// SQL conditions on `r` (request_logs) and their bound values, in order.
using Value = std::variant<int64_t, std::string>;
struct Conditions {
  std::vector<std::string> terms;
  std::vector<Value> values;

  void add(std::string sql, std::vector<Value> vals = {}) {
    terms.push_back(std::move(sql));
    for (auto& v : vals) values.push_back(std::move(v));
  }
  std::string sql() const {
    if (terms.empty()) return "1";
    std::string out;
    for (const auto& t : terms) {
      if (!out.empty()) out += " AND ";
      out += "(" + t + ")";
    }
    return out;
  }
};

// Binds `values` from position `first`; returns the next position.
int bindAll(SQLite::Statement& q, const std::vector<Value>& values, int first) {
  for (const auto& v : values) {
    if (const auto* i = std::get_if<int64_t>(&v)) {
      q.bind(first++, *i);
    } else {
      q.bind(first++, std::get<std::string>(v));
    }
  }
  return first;
}

bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

std::optional<int64_t> parseInt64(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// For error messages: the text with control characters shown as '?', cut to 200 bytes.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200))
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (s.size() > 200) out += "...";
  return out;
}

void addStatus(Conditions& c, const std::string& raw) {
  std::string s;
  for (char ch : raw) s += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  if (s == "error") {
    c.add("r.status >= 400");
    return;
  }
  if (s.size() == 3 && s[0] >= '2' && s[0] <= '5' && s[1] == 'x' && s[2] == 'x') {
    int64_t from = (s[0] - '0') * 100;
    c.add("r.status >= ? AND r.status < ?", {from, from + 100});
    return;
  }
  if (allDigits(s) && s.size() <= 3) {
    int64_t code = *parseInt64(s);
    if (code >= 100 && code <= 599) {
      c.add("r.status = ?", {code});
      return;
    }
  }
  throw StoreError(Code::kInvalidArgument,
                   "bad status filter \"" + printable(raw) +
                       "\": use a status code (e.g. 429), a class (2xx, 3xx, 4xx, 5xx) or error");
}

// key / team / customer: an id or a name. The objects that exist now are looked up by id or
// current name and matched by id (so a renamed key's older entries are found too); a ref that
// names no current object matches the id or the name as logged (a deleted object).
void addOwner(SQLite::Database& db, Conditions& c, const char* table, const char* idCol,
              const char* nameCol, const std::string& ref) {
  std::vector<std::string> ids;
  SQLite::Statement q(db, std::string("SELECT id FROM ") + table + " WHERE id = ?1 OR name = ?1");
  q.bind(1, ref);
  while (q.executeStep()) ids.push_back(q.getColumn(0).getString());
  const std::string col = std::string("r.") + idCol;
  if (ids.empty()) {
    c.add(col + " = ? OR r." + nameCol + " = ?", {ref, ref});
  } else if (ids.size() == 1) {
    c.add(col + " = ?", {ids[0]});
  } else {
    std::string in;
    std::vector<Value> vals;
    for (auto& id : ids) {
      in += in.empty() ? "?" : ", ?";
      vals.emplace_back(std::move(id));
    }
    c.add(col + " IN (" + in + ")", std::move(vals));
  }
}

int64_t timestampMs(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1'000'000;
}

// "<ts_ms>.<id>" of the last entry of a page.
std::string encodeCursor(int64_t tsMs, int64_t id) {
  return std::to_string(tsMs) + "." + std::to_string(id);
}

std::pair<int64_t, int64_t> decodeCursor(const std::string& cursor) {
  auto dot = cursor.find('.');
  if (dot != std::string::npos) {
    auto ts = parseInt64(std::string_view(cursor).substr(0, dot));
    auto id = parseInt64(std::string_view(cursor).substr(dot + 1));
    if (ts && id && *id > 0 && cursor.find_first_not_of("-0123456789.") == std::string::npos)
      return {*ts, *id};
  }
  throw StoreError(Code::kInvalidArgument, "bad cursor \"" + printable(cursor) +
                                               "\": pass the next_cursor of a previous answer");
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Each whitespace-separated term as an FTS5 string (a phrase): gpt-4o -> "gpt-4o".
std::string quoteTerms(std::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && isSpace(s[i])) ++i;
    if (i == s.size()) break;
    if (!out.empty()) out += ' ';
    out += '"';
    for (; i < s.size() && !isSpace(s[i]); ++i) {
      if (s[i] == '"') out += '"';
      out += s[i];
    }
    out += '"';
  }
  return out;
}

// FTS5 parses the expression when the query starts: a probe finds a bad one.
void probeSearch(SQLite::Database& db, const std::string& expr) {
  SQLite::Statement q(db,
                      "SELECT rowid FROM request_log_content WHERE request_log_content MATCH ? "
                      "LIMIT 1");
  q.bind(1, expr);
  q.executeStep();
}

// The FTS5 expression to run for what the user typed: as typed when FTS5 accepts it, else each
// term quoted; kInvalidArgument when neither parses (quoted terms always parse unless they hold
// a NUL, which list() refuses before).
std::string searchExpression(SQLite::Database& db, const std::string& search) {
  try {
    probeSearch(db, search);
    return search;
  } catch (const SQLite::Exception& e) {
    if (e.getErrorCode() != SQLITE_ERROR) throw;
    std::string firstError = e.what();
    std::string quoted = quoteTerms(search);
    try {
      probeSearch(db, quoted);
      return quoted;
    } catch (const SQLite::Exception& e2) {
      if (e2.getErrorCode() != SQLITE_ERROR) throw;
      throw StoreError(Code::kInvalidArgument,
                       "bad search \"" + printable(search) + "\": " + firstError);
    }
  }
}

std::string trimmed(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && isSpace(s[b])) ++b;
  while (e > b && isSpace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

struct Key {  // an entry's place in newest-first order
  int64_t ts, id;
  bool operator<(const Key& o) const { return ts != o.ts ? ts > o.ts : id > o.id; }  // newer first
};
}  // namespace

int64_t logRecordBytes(const v1::LogRecord& r, bool withContent) {
  int64_t n = kRowOverheadBytes;
  for (const std::string* s :
       {&r.request_id(), &r.node(), &r.key_id(), &r.key_name(), &r.team_id(), &r.team_name(),
        &r.customer_id(), &r.customer_name(), &r.method(), &r.route(), &r.provider(), &r.model(),
        &r.error_type(), &r.dialect()})
    n += static_cast<int64_t>(s->size());
  if (withContent)
    n += 2 * static_cast<int64_t>(r.request_content().size() + r.response_content().size());
  return n;
}

// A read connection taken from the pool for one call.
class LogStore::ReaderLease {
 public:
  explicit ReaderLease(LogStore& s) : store_(s), db_(s.acquireReader()) {}
  ~ReaderLease() { store_.releaseReader(std::move(db_)); }
  SQLite::Database& operator*() { return *db_; }

 private:
  LogStore& store_;
  std::unique_ptr<SQLite::Database> db_;
};

std::unique_ptr<SQLite::Database> LogStore::openConnection(bool readOnly) {
  // No OPEN_CREATE: the file must exist (Store creates and migrates it).
  auto db =
      std::make_unique<SQLite::Database>(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_FULLMUTEX);
  db->setBusyTimeout(kBusyTimeoutMs);
  db->exec("PRAGMA synchronous=NORMAL");
  db->exec("PRAGMA cache_size=-" + std::to_string(options_.cacheKib));
  if (readOnly) db->exec("PRAGMA query_only=ON");
  try {
    db->execAndGet("SELECT rows FROM request_log_totals WHERE one = 1");
  } catch (const SQLite::Exception& e) {
    throw std::runtime_error("the request log tables are missing in " + path_ +
                             " (open the log store after the store has migrated it): " + e.what());
  }
  return db;
}

LogStore::LogStore(const std::string& dbPath, LogStoreOptions options)
    : path_(dbPath), options_(options) {
  writer_ = openConnection(false);
  // Store sets WAL already (it is persistent); readers must never wait for the writer.
  writer_->exec("PRAGMA journal_mode=WAL");
  idleReaders_.push_back(openConnection(true));
}

LogStore::~LogStore() = default;

std::unique_ptr<SQLite::Database> LogStore::acquireReader() {
  {
    std::lock_guard lock(poolMu_);
    if (!idleReaders_.empty()) {
      auto db = std::move(idleReaders_.back());
      idleReaders_.pop_back();
      return db;
    }
  }
  return openConnection(true);
}

void LogStore::releaseReader(std::unique_ptr<SQLite::Database> db) {
  std::lock_guard lock(poolMu_);
  if (static_cast<int>(idleReaders_.size()) < options_.idleReaders)
    idleReaders_.push_back(std::move(db));
}

int LogStore::insert(const google::protobuf::RepeatedPtrField<v1::LogRecord>& records) {
  std::lock_guard lock(writeMu_);
  SQLite::Database& db = *writer_;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement ins(
      db,
      "INSERT INTO request_logs(request_id, ts_ms, node, key_id, key_name, team_id, team_name, "
      "customer_id, customer_name, method, route, provider, model, status, error_type, latency_us, "
      "ttft_us, overhead_us, prompt_tokens, completion_tokens, cached_tokens, cost_nano, streamed, "
      "content_logged, content_truncated, dialect, bytes) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
      "ON CONFLICT(request_id) DO NOTHING");
  SQLite::Statement content(
      db, "INSERT INTO request_log_content(rowid, request, response) VALUES (?,?,?)");
  int stored = 0;
  for (const auto& r : records) {
    if (r.request_id().empty()) continue;
    const bool withContent =
        r.content_logged() && (!r.request_content().empty() || !r.response_content().empty());
    ins.reset();
    int i = 1;
    ins.bindNoCopy(i++, r.request_id());
    ins.bind(i++, r.ts_ms());
    ins.bindNoCopy(i++, r.node());
    ins.bindNoCopy(i++, r.key_id());
    ins.bindNoCopy(i++, r.key_name());
    ins.bindNoCopy(i++, r.team_id());
    ins.bindNoCopy(i++, r.team_name());
    ins.bindNoCopy(i++, r.customer_id());
    ins.bindNoCopy(i++, r.customer_name());
    ins.bindNoCopy(i++, r.method());
    ins.bindNoCopy(i++, r.route());
    ins.bindNoCopy(i++, r.provider());
    ins.bindNoCopy(i++, r.model());
    ins.bind(i++, r.status());
    ins.bindNoCopy(i++, r.error_type());
    ins.bind(i++, r.latency_us());
    ins.bind(i++, r.ttft_us());
    ins.bind(i++, r.overhead_us());
    ins.bind(i++, r.prompt_tokens());
    ins.bind(i++, r.completion_tokens());
    ins.bind(i++, r.cached_tokens());
    ins.bind(i++, r.cost_nano());
    ins.bind(i++, r.streamed() ? 1 : 0);
    ins.bind(i++, r.content_logged() ? 1 : 0);
    ins.bind(i++, r.content_truncated() ? 1 : 0);
    ins.bindNoCopy(i++, r.dialect());
    ins.bind(i++, logRecordBytes(r, withContent));
    if (ins.exec() == 0) continue;  // stored before
    ++stored;
    if (!withContent) continue;
    content.reset();
    content.bind(1, db.getLastInsertRowid());
    content.bindNoCopy(2, r.request_content());
    content.bindNoCopy(3, r.response_content());
    content.exec();
  }
  tx.commit();
  return stored;
}

v1::ListLogsResponse LogStore::list(const v1::LogQuery& q) { return listImpl(q, nullptr); }

std::string LogStore::explain(const v1::LogQuery& q) {
  std::string plan;
  listImpl(q, &plan);
  return plan;
}

v1::ListLogsResponse LogStore::listImpl(const v1::LogQuery& q, std::string* plan) {
  if (q.limit() < 0 || q.limit() > kMaxLimit)
    throw StoreError(Code::kInvalidArgument, "limit must be between 1 and " +
                                                 std::to_string(kMaxLimit) +
                                                 " (0: " + std::to_string(kDefaultLimit) + ")");
  const int limit = q.limit() == 0 ? kDefaultLimit : q.limit();
  const bool following = q.after_id() > 0;
  if (following && !q.cursor().empty())
    throw StoreError(Code::kInvalidArgument, "cursor and after_id cannot be used together");
  if (q.after_id() < 0) throw StoreError(Code::kInvalidArgument, "after_id must not be negative");
  const std::string search = trimmed(q.search());
  if (search.size() > kMaxSearchBytes)
    throw StoreError(Code::kInvalidArgument,
                     "search is longer than " + std::to_string(kMaxSearchBytes) + " bytes");
  // FTS5 reads a NUL as the end of the expression: refused rather than half searched.
  if (search.find('\0') != std::string::npos)
    throw StoreError(Code::kInvalidArgument, "search must not contain a NUL character");

  Conditions c;
  if (!q.provider().empty()) c.add("r.provider = ?", {q.provider()});
  if (!q.model().empty()) c.add("r.model = ?", {q.model()});
  if (!q.status().empty()) addStatus(c, q.status());
  if (!q.error_type().empty()) c.add("r.error_type = ? AND r.error_type != ''", {q.error_type()});
  if (q.has_since()) c.add("r.ts_ms >= ?", {timestampMs(q.since())});
  if (q.has_until()) c.add("r.ts_ms < ?", {timestampMs(q.until())});
  std::optional<std::pair<int64_t, int64_t>> cursor;
  if (!q.cursor().empty()) cursor = decodeCursor(q.cursor());

  ReaderLease lease(*this);
  SQLite::Database& db = *lease;
  SQLite::Transaction tx(db);  // one snapshot: last_id and the entries agree
  if (!q.key().empty()) addOwner(db, c, "virtual_keys", "key_id", "key_name", q.key());
  if (!q.team().empty()) addOwner(db, c, "teams", "team_id", "team_name", q.team());
  if (!q.customer().empty())
    addOwner(db, c, "customers", "customer_id", "customer_name", q.customer());
  const std::string expr = search.empty() ? "" : searchExpression(db, search);

  v1::ListLogsResponse out;
  {
    SQLite::Statement last(db, "SELECT seq FROM sqlite_sequence WHERE name = 'request_logs'");
    out.set_last_id(last.executeStep() ? last.getColumn(0).getInt64() : 0);
  }
  // Prepares `sql` with `values`; with `plan`, appends its query plan instead and returns null.
  auto prepare = [&](const std::string& sql,
                     const std::vector<Value>& values) -> std::unique_ptr<SQLite::Statement> {
    auto s = std::make_unique<SQLite::Statement>(db, plan ? "EXPLAIN QUERY PLAN " + sql : sql);
    bindAll(*s, values, 1);
    if (!plan) return s;
    while (s->executeStep()) *plan += s->getColumn(3).getString() + "\n";
    return nullptr;
  };
  auto done = [&] {
    tx.commit();
    return std::move(out);
  };

  if (following) {
    std::vector<Value> values;
    std::string sql;
    if (expr.empty()) {
      // NOT INDEXED: walk the ids after after_id (few, when following) rather than a filter's
      // index (all of a provider's entries, then a sort).
      sql = std::string("SELECT ") + kColumns +
            " FROM request_logs r NOT INDEXED WHERE r.id > ? AND " + c.sql() +
            " ORDER BY r.id LIMIT ?";
    } else {
      sql = std::string("SELECT ") + kColumns +
            " FROM request_log_content c CROSS JOIN request_logs r NOT INDEXED ON r.id = c.rowid "
            "WHERE request_log_content MATCH ? AND c.rowid > ? AND " +
            c.sql() + " ORDER BY c.rowid LIMIT ?";
      values.emplace_back(expr);
    }
    values.emplace_back(q.after_id());
    values.insert(values.end(), c.values.begin(), c.values.end());
    values.emplace_back(int64_t{limit});
    auto s = prepare(sql, values);
    if (!s) return done();
    while (s->executeStep()) *out.add_entries() = readEntry(*s);
    return done();
  }

  if (cursor) c.add("(r.ts_ms, r.id) < (?, ?)", {cursor->first, cursor->second});

  if (expr.empty()) {
    std::vector<Value> values = c.values;
    values.emplace_back(int64_t{limit} + 1);
    auto s = prepare(std::string("SELECT ") + kColumns + " FROM request_logs r WHERE " + c.sql() +
                         " ORDER BY r.ts_ms DESC, r.id DESC LIMIT ?",
                     values);
    if (!s) return done();
    while (s->executeStep()) {
      if (out.entries_size() == limit) {
        const auto& lastEntry = out.entries(limit - 1);
        out.set_next_cursor(encodeCursor(lastEntry.record().ts_ms(), lastEntry.id()));
        break;
      }
      *out.add_entries() = readEntry(*s);
    }
    return done();
  }

  // Search, newest first: the first limit+1 matches in (ts_ms DESC, id DESC) order. Two ways
  // to find them, run in turns until one is done (so the cost is at most about twice that of
  // the better one for this query):
  //  A. Walk the matches newest id first (FTS5 yields rowids in order) keeping the best limit+1.
  //     Ids follow arrival, which follows ts_ms closely, so the walk stops as soon as no row
  //     with a smaller id could still make the answer (none is newer than the worst one kept,
  //     or than `since` while the answer is not full: an index probe on ts_ms), or when the
  //     matches run out. Good for rare terms and for filters common among the matches.
  //  B. Walk the rows the filters select in answer order (on the filter's index, as without a
  //     search) a chunk at a time, and ask FTS5 which of the chunk are matches, by rowid range
  //     over runs of nearby ids. Good for common terms under a rare filter or an old time range.
  std::vector<int64_t> answer;  // ids, in answer order
  {
    std::vector<Value> values = c.values;
    values.emplace_back(expr);
    auto walk = prepare("SELECT c.rowid, r.ts_ms, " + c.sql() +
                            " FROM request_log_content c CROSS JOIN request_logs r ON r.id = "
                            "c.rowid WHERE request_log_content MATCH ? ORDER BY c.rowid DESC",
                        values);
    auto newer = prepare("SELECT 1 FROM request_logs WHERE ts_ms > ? AND +id < ? LIMIT 1",
                         {int64_t{0}, int64_t{0}});
    auto rows = prepare(std::string("SELECT r.id FROM request_logs r WHERE ") + c.sql() +
                            " ORDER BY r.ts_ms DESC, r.id DESC",
                        c.values);
    auto inRange = prepare(
        "SELECT rowid FROM request_log_content WHERE request_log_content MATCH ? AND rowid >= ? "
        "AND rowid <= ?",
        {expr, int64_t{0}, int64_t{0}});
    if (!walk) return done();
    const size_t keep = static_cast<size_t>(limit) + 1;

    // A's state.
    std::set<Key> best;
    int64_t walked = 0, nextCheck = 64;
    const int64_t sinceMs = q.has_since() ? timestampMs(q.since()) : 0;
    // One turn of A: up to `n` matches. True when A has its answer.
    auto stepA = [&](int n) {
      for (int i = 0; i < n; ++i) {
        if (!walk->executeStep()) return true;
        ++walked;
        const int64_t id = walk->getColumn(0).getInt64();
        if (walk->getColumn(2).getInt() != 0) {
          best.insert(Key{walk->getColumn(1).getInt64(), id});
          if (best.size() > keep) best.erase(std::prev(best.end()));
        }
        if (walked < nextCheck) continue;
        nextCheck = walked * 2;
        std::optional<int64_t> threshold;  // rows no newer than this cannot make the answer
        if (best.size() == keep) {
          threshold = std::prev(best.end())->ts;
        } else if (q.has_since()) {
          threshold = sinceMs - 1;
        }
        if (threshold) {
          newer->reset();
          newer->bind(1, *threshold);
          newer->bind(2, id);
          if (!newer->executeStep()) return true;
        }
      }
      return false;
    };

    // B's state.
    std::vector<int64_t> found;  // matches in answer order
    bool rowsLeft = true;
    // One turn of B: up to `n` rows. True when B has its answer.
    auto stepB = [&](int n) {
      std::vector<int64_t> chunk;
      while (static_cast<int>(chunk.size()) < n && (rowsLeft = rows->executeStep()))
        chunk.push_back(rows->getColumn(0).getInt64());
      std::vector<int64_t> sorted = chunk;
      std::sort(sorted.begin(), sorted.end());
      std::vector<int64_t> matches;  // ascending
      for (size_t i = 0; i < sorted.size();) {
        // A run of ids with gaps of at most 512: one FTS5 query for its range.
        size_t j = i + 1;
        while (j < sorted.size() && sorted[j] - sorted[j - 1] <= 512) ++j;
        inRange->reset();
        inRange->bind(2, sorted[i]);
        inRange->bind(3, sorted[j - 1]);
        while (inRange->executeStep()) matches.push_back(inRange->getColumn(0).getInt64());
        i = j;
      }
      std::sort(matches.begin(), matches.end());
      for (int64_t id : chunk) {
        if (!std::binary_search(matches.begin(), matches.end(), id)) continue;
        found.push_back(id);
        if (found.size() == keep) return true;
      }
      return !rowsLeft;
    };

    for (int turn = 0;; ++turn) {
      // Turns grow (A: 256, 512, ... matches; B: 128, 256, ... rows, at most 4096) so a quick
      // answer stays quick and a long one pays little for the switching.
      const int grow = 1 << std::min(turn, 5);
      if (stepA(256 * grow)) {
        for (const auto& k : best) answer.push_back(k.id);
        break;
      }
      if (stepB(128 * grow)) {
        answer = std::move(found);
        break;
      }
    }
  }
  SQLite::Statement one(db,
                        std::string("SELECT ") + kColumns + " FROM request_logs r WHERE r.id = ?");
  for (int64_t id : answer) {
    if (out.entries_size() == limit) {
      const auto& lastEntry = out.entries(limit - 1);
      out.set_next_cursor(encodeCursor(lastEntry.record().ts_ms(), lastEntry.id()));
      break;
    }
    one.reset();
    one.bind(1, id);
    if (one.executeStep()) *out.add_entries() = readEntry(one);
  }
  return done();
}

std::optional<v1::LogEntry> LogStore::get(std::string_view id) {
  if (id.empty()) return std::nullopt;
  ReaderLease lease(*this);
  SQLite::Database& db = *lease;
  SQLite::Transaction tx(db);
  const std::string sql = std::string("SELECT ") + kColumns +
                          ", c.request, c.response FROM request_logs r LEFT JOIN "
                          "request_log_content c ON c.rowid = r.id WHERE ";
  auto fetch = [&](SQLite::Statement& s) -> std::optional<v1::LogEntry> {
    if (!s.executeStep()) return std::nullopt;
    auto e = readEntry(s);
    if (!s.getColumn(kColumnCount).isNull()) {
      e.mutable_record()->set_request_content(s.getColumn(kColumnCount).getString());
      e.mutable_record()->set_response_content(s.getColumn(kColumnCount + 1).getString());
    }
    return e;
  };
  std::optional<v1::LogEntry> found;
  if (allDigits(id)) {
    if (auto n = parseInt64(id)) {
      SQLite::Statement s(db, sql + "r.id = ?");
      s.bind(1, *n);
      found = fetch(s);
    }
  }
  if (!found) {  // a request id (digits too, when a client sent its own x-request-id)
    SQLite::Statement s(db, sql + "r.request_id = ?");
    s.bind(1, std::string(id));
    found = fetch(s);
  }
  tx.commit();
  return found;
}

LogTotals LogStore::totals() {
  ReaderLease lease(*this);
  SQLite::Statement q(*lease, "SELECT rows, bytes FROM request_log_totals WHERE one = 1");
  LogTotals t;
  if (q.executeStep()) {
    t.rows = q.getColumn(0).getInt64();
    t.bytes = q.getColumn(1).getInt64();
  }
  return t;
}

int LogStore::deleteOldest(int maxRows, std::optional<int64_t> beforeMs,
                           std::optional<int64_t> maxBytes) {
  std::lock_guard lock(writeMu_);
  SQLite::Database& db = *writer_;
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  int n = maxRows;
  if (maxBytes) {
    // Just enough of the oldest rows to bring the total down to the cap (their bytes read in
    // time order, at most a chunk).
    int64_t excess =
        db.execAndGet("SELECT bytes FROM request_log_totals WHERE one = 1").getInt64() - *maxBytes;
    SQLite::Statement oldest(db, "SELECT bytes FROM request_logs ORDER BY ts_ms, id LIMIT ?");
    oldest.bind(1, maxRows);
    n = 0;
    while (excess > 0 && oldest.executeStep()) {
      excess -= oldest.getColumn(0).getInt64();
      ++n;
    }
    if (n == 0) return 0;
  }
  // The delete trigger keeps the totals and removes the content (and its index entries).
  SQLite::Statement del(db, beforeMs ? "DELETE FROM request_logs WHERE id IN (SELECT id FROM "
                                       "request_logs WHERE ts_ms < ? ORDER BY ts_ms, id LIMIT ?)"
                                     : "DELETE FROM request_logs WHERE id IN (SELECT id FROM "
                                       "request_logs ORDER BY ts_ms, id LIMIT ?)");
  int i = 1;
  if (beforeMs) del.bind(i++, *beforeMs);
  del.bind(i, n);
  int deleted = del.exec();
  tx.commit();
  return deleted;
}

RetentionResult LogStore::enforceRetention(int64_t nowMs, int64_t maxAgeMs, int64_t maxBytes) {
  RetentionResult res;
  const int chunk = std::max(1, options_.retentionChunkRows);
  auto pause = [&] {
    if (options_.retentionPauseMs > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.retentionPauseMs));
  };
  if (maxAgeMs > 0) {
    const int64_t cutoff = nowMs - maxAgeMs;
    while (!retentionCancelled_) {
      int n = deleteOldest(chunk, cutoff, std::nullopt);
      res.deletedForAge += n;
      if (n < chunk) break;
      pause();
    }
  }
  if (maxBytes > 0) {
    while (!retentionCancelled_) {
      int n = deleteOldest(chunk, std::nullopt, maxBytes);
      res.deletedForSize += n;
      if (n < chunk) break;
      pause();
    }
  }
  return res;
}

}  // namespace finops::cp
