// Request logs (migrations/0006_request_logs.sql, docs/observability.md): one row per request
// any data plane served, its content in an FTS5 table for search, running totals for retention.
//
// LogStore works in the control plane's SQLite file on connections of its own: one writer
// (insert, enforceRetention; serialised by a mutex of its own) and a small pool of read-only
// readers (list, get, totals). The file is in WAL mode, so readers never wait for writers and a
// large query or a batch insert never holds the Store's mutex; the SQLite write lock is shared
// with Store, and both sides wait for it with a busy timeout (5 s). Open a LogStore after Store
// has migrated the file.
//
// Thread-safe: every method may be called from any thread at the same time. Errors: bad queries
// throw StoreError(kInvalidArgument) with a message meant for the caller; anything else
// (I/O, a locked database past the busy timeout) throws SQLite::Exception / std::exception.
#pragma once

#include <SQLiteCpp/Database.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/store/store.h"
#include "finops/v1/admin.pb.h"
#include "finops/v1/logs.pb.h"

namespace finops::cp {

struct LogTotals {
  int64_t rows = 0;
  int64_t bytes = 0;  // the sum of the rows' `bytes` estimates (see logRecordBytes)
};

struct RetentionResult {
  int64_t deletedForAge = 0;
  int64_t deletedForSize = 0;
};

struct LogStoreOptions {
  // Rows deleted per transaction by enforceRetention (each transaction holds the write lock).
  int retentionChunkRows = 2000;
  // Pause between two retention transactions, so writers waiting on the lock (Store's own, with
  // SQLite's busy handler, polls at most every 100 ms) get it. 0: none.
  int64_t retentionPauseMs = 100;
  // Read connections kept open when idle (more are opened under load and closed after use).
  int idleReaders = 4;
  // SQLite page cache per connection, in KiB.
  int cacheKib = 16384;
};

// What a record counts for in LogTotals::bytes, an estimate of what its row and content take:
// 200 bytes per row (integers, row and index overhead) + the lengths of its text fields
// + twice the lengths of its stored content (the text itself and the full-text index).
int64_t logRecordBytes(const finops::v1::LogRecord& r, bool withContent);

class LogStore {
 public:
  // Opens connections to an existing, migrated database. Throws on failure (no file, not
  // migrated).
  explicit LogStore(const std::string& dbPath, LogStoreOptions options = {});
  ~LogStore();
  LogStore(const LogStore&) = delete;
  LogStore& operator=(const LogStore&) = delete;

  // Stores each record once (by request_id; records with an empty request_id are skipped);
  // returns how many were new. The whole batch in one transaction. Content is stored only when
  // content_logged is set and there is some.
  int insert(const google::protobuf::RepeatedPtrField<finops::v1::LogRecord>& records);

  // Newest first (ts_ms DESC, id DESC) with the query's filters and cursor; or, when
  // q.after_id() > 0, the entries with id > after_id oldest first (id ASC) with the same filters
  // (following). Records in the answer carry no content. key/team/customer take an id or a
  // name (the name an object has now, or for a deleted one the name it was logged under).
  // status: a code ("429"), a class ("2xx".."5xx") or "error" (>= 400). since is inclusive,
  // until exclusive. search: FTS5 query syntax; a query FTS5 rejects is retried with each
  // whitespace-separated term quoted as a phrase. limit: 0 = 50, at most 1000. next_cursor is
  // set when there may be older entries (never when following).
  // Throws StoreError(kInvalidArgument) for a bad status filter, a bad cursor, a bad limit, a
  // cursor together with after_id, or a search that cannot be run.
  finops::v1::ListLogsResponse list(const finops::v1::LogQuery& q);
  // The plans SQLite chooses for the statements list(q) runs (EXPLAIN QUERY PLAN, a step a
  // line; a search runs several), for tests and the benchmark. Throws like list.
  std::string explain(const finops::v1::LogQuery& q);

  // By request id ("req_...") or entry id (digits); with content. nullopt: none.
  std::optional<finops::v1::LogEntry> get(std::string_view id);

  // O(1): from the totals the triggers keep.
  LogTotals totals();

  // Deletes the entries older than nowMs - maxAgeMs (maxAgeMs 0: no age limit), then the oldest
  // entries while totals().bytes > maxBytes (0: no cap), a chunk of rows per transaction,
  // selected by id in SQL (rows are never loaded into memory).
  // A large backlog takes many transactions (and a pause after each full chunk: see
  // LogStoreOptions); cancelRetention ends it early.
  RetentionResult enforceRetention(int64_t nowMs, int64_t maxAgeMs, int64_t maxBytes);
  // For shutdown: a running enforceRetention returns after its current transaction, and later
  // calls return at once (deleting nothing). Thread-safe.
  void cancelRetention() { retentionCancelled_ = true; }

 private:
  class ReaderLease;
  finops::v1::ListLogsResponse listImpl(const finops::v1::LogQuery& q, std::string* plan);
  std::unique_ptr<SQLite::Database> openConnection(bool readOnly);
  std::unique_ptr<SQLite::Database> acquireReader();
  void releaseReader(std::unique_ptr<SQLite::Database> db);
  // One retention transaction: deletes up to `maxRows` of the oldest rows: those with
  // ts_ms < beforeMs, or as many as bring the total bytes down to maxBytes. Returns how many.
  int deleteOldest(int maxRows, std::optional<int64_t> beforeMs, std::optional<int64_t> maxBytes);

  const std::string path_;
  const LogStoreOptions options_;
  std::atomic<bool> retentionCancelled_{false};

  std::mutex writeMu_;
  std::unique_ptr<SQLite::Database> writer_;  // GUARDED_BY(writeMu_)

  std::mutex poolMu_;
  std::vector<std::unique_ptr<SQLite::Database>> idleReaders_;  // GUARDED_BY(poolMu_)
};

}  // namespace finops::cp
