// Budgets and rate limits, and what each has used in its current window.
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <chrono>
#include <ctime>

#include "common/crypto.h"
#include "common/window.h"
#include "controlplane/store/store.h"

namespace finops::cp {
namespace {
using Code = StoreError::Code;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool validKind(const std::string& k) {
  return k == "budget" || k == "requests" || k == "tokens" || k == "concurrency";
}

void validateWindow(const std::string& kind, const std::string& window) {
  if (kind == "concurrency") {
    if (!window.empty())
      throw StoreError(Code::kInvalidArgument, "a concurrency limit has no window");
    return;
  }
  std::string err;
  if (!parseWindow(window, &err)) throw StoreError(Code::kInvalidArgument, "window: " + err);
}

constexpr const char* kSelectLimits =
    "SELECT l.id, l.name, l.owner_kind, l.owner_id, "
    "coalesce(CASE l.owner_kind WHEN 'key' THEN (SELECT name FROM virtual_keys WHERE id = l.owner_id) "
    " WHEN 'team' THEN (SELECT name FROM teams WHERE id = l.owner_id) "
    " ELSE (SELECT name FROM customers WHERE id = l.owner_id) END, ''), "
    "l.provider, l.kind, l.amount, l.window, l.calendar, l.anchor_ms, l.created_at FROM limits l";

LimitRow readLimit(SQLite::Statement& q) {
  LimitRow r;
  r.id = q.getColumn(0).getString();
  r.name = q.getColumn(1).getString();
  r.ownerKind = q.getColumn(2).getString();
  r.ownerId = q.getColumn(3).getString();
  r.ownerName = q.getColumn(4).getString();
  r.provider = q.getColumn(5).getString();
  r.kind = q.getColumn(6).getString();
  r.amount = q.getColumn(7).getInt64();
  r.window = q.getColumn(8).getString();
  r.calendar = q.getColumn(9).getInt() != 0;
  r.anchorMs = q.getColumn(10).getInt64();
  r.createdAt = q.getColumn(11).getInt64();
  return r;
}
}  // namespace

std::vector<LimitRow> Store::listLimitsLocked(const std::string* only) {
  std::string sql = kSelectLimits;
  if (only) sql += " WHERE l.id = ?";
  sql += " ORDER BY l.owner_kind, l.owner_id, l.provider, l.kind, l.name";
  SQLite::Statement q(db_, sql);
  if (only) q.bind(1, *only);
  std::vector<LimitRow> rows;
  while (q.executeStep()) rows.push_back(readLimit(q));
  return rows;
}

const std::vector<LimitRow>& Store::limitsCacheLocked() {
  uint64_t v = versionLocked();
  if (v != limitsCacheVersion_) {
    limitsCache_ = listLimitsLocked(nullptr);
    limitsById_.clear();
    limitsByOwner_.clear();
    for (const auto& l : limitsCache_) {
      limitsById_[l.id] = &l;
      limitsByOwner_[l.ownerKind + ":" + l.ownerId].push_back(&l);
    }
    limitsCacheVersion_ = v;
  }
  return limitsCache_;
}

int64_t Store::windowUsedLocked(const LimitRow& l, int64_t startMs, int64_t endMs) {
  SQLite::Statement get(db_, "SELECT used FROM limit_usage WHERE limit_id = ? AND window_start_ms = ?");
  get.bind(1, l.id);
  get.bind(2, startMs);
  if (get.executeStep()) return get.getColumn(0).getInt64();
  // First touch of this window: count what the usage records already hold for the owner
  // (usage from before the limit existed counts too), then keep the row in step.
  const char* amount = l.kind == "budget"   ? "coalesce(sum(cost_nano), 0)"
                       : l.kind == "tokens" ? "coalesce(sum(prompt_tokens + completion_tokens), 0)"
                                            : "count(*)";
  const char* column = l.ownerKind == "key" ? "key_id" : l.ownerKind == "team" ? "team_id" : "customer_id";
  std::string sql = std::string("SELECT ") + amount + " FROM usage_records WHERE " + column +
                    " = ? AND ts_ms >= ? AND ts_ms < ?";
  if (!l.provider.empty()) sql += " AND provider = ?";
  SQLite::Statement sum(db_, sql);
  sum.bind(1, l.ownerId);
  sum.bind(2, startMs);
  sum.bind(3, endMs);
  if (!l.provider.empty()) sum.bind(4, l.provider);
  sum.executeStep();
  int64_t used = sum.getColumn(0).getInt64();
  SQLite::Statement ins(db_, "INSERT INTO limit_usage(limit_id, window_start_ms, used) VALUES (?, ?, ?)");
  ins.bind(1, l.id);
  ins.bind(2, startMs);
  ins.bind(3, used);
  ins.exec();
  return used;
}

void Store::fillWindowLocked(LimitRow& row, int64_t now) {
  if (row.kind == "concurrency") {
    int64_t held = 0;
    auto it = slots_.find(row.id);
    if (it != slots_.end())
      for (const auto& [node, h] : it->second)
        if (h.lastSeenMs > now - policy_.ttlMs - policy_.graceMs) held += h.inFlight;
    row.used = held;
    return;
  }
  auto spec = parseWindow(row.window);
  if (!spec) return;
  Period p = periodAt(*spec, row.calendar, row.anchorMs, now);
  row.windowStartMs = p.startMs;
  row.windowEndMs = p.endMs;
  row.used = windowUsedLocked(row, p.startMs, p.endMs);
}

LimitRow Store::createLimit(const LimitSpec& spec) {
  if (!validKind(spec.kind))
    throw StoreError(Code::kInvalidArgument,
                     "limit kind must be budget, requests, tokens or concurrency");
  if (spec.ownerKind != "key" && spec.ownerKind != "team" && spec.ownerKind != "customer")
    throw StoreError(Code::kInvalidArgument, "a limit belongs to a key, a team or a customer");
  if (spec.amount < 0) throw StoreError(Code::kInvalidArgument, "a limit's amount cannot be negative");
  if (spec.kind == "concurrency" && spec.amount < 1)
    throw StoreError(Code::kInvalidArgument, "a concurrency limit must allow at least 1 request");
  validateWindow(spec.kind, spec.window);
  if (!spec.provider.empty() && spec.ownerKind != "key")
    throw StoreError(Code::kInvalidArgument, "per-provider limits are set on keys");
  std::string name = spec.name;
  if (name.empty()) name = spec.kind == "concurrency" ? "concurrency" : spec.kind + "-" + spec.window;
  if (name.size() > 128) throw StoreError(Code::kInvalidArgument, "limit name is too long");
  std::string id = randomId("lim_");
  int64_t now = nowMs();
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  std::string ownerId = spec.ownerKind == "key"    ? resolveKeyLocked(spec.owner)
                        : spec.ownerKind == "team" ? resolveTeamLocked(spec.owner)
                                                   : resolveCustomerLocked(spec.owner);
  SQLite::Statement ins(db_,
                        "INSERT INTO limits(id, name, owner_kind, owner_id, provider, kind, amount, "
                        "window, calendar, anchor_ms, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
  ins.bind(1, id);
  ins.bind(2, name);
  ins.bind(3, spec.ownerKind);
  ins.bind(4, ownerId);
  ins.bind(5, spec.provider);
  ins.bind(6, spec.kind);
  ins.bind(7, spec.amount);
  ins.bind(8, spec.window);
  ins.bind(9, spec.calendar ? 1 : 0);
  ins.bind(10, now);
  ins.bind(11, now / 1000);
  try {
    ins.exec();
  } catch (const SQLite::Exception& e) {
    if (isUniqueViolation(e))
      throw StoreError(Code::kAlreadyExists, "the " + spec.ownerKind + " already has a limit named '" +
                                                 name + "'" +
                                                 (spec.provider.empty() ? "" : " for " + spec.provider));
    throw;
  }
  bumpVersionLocked();
  auto out = listLimitsLocked(&id).at(0);
  fillWindowLocked(out, now);
  tx.commit();
  return out;
}

LimitRow Store::updateLimit(const std::string& id, const LimitPatch& patch) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  auto rows = listLimitsLocked(&id);
  if (rows.empty()) throw StoreError(Code::kNotFound, "limit '" + id + "' not found");
  auto cur = rows[0];
  int64_t amount = patch.amount.value_or(cur.amount);
  if (amount < 0 || (cur.kind == "concurrency" && amount < 1))
    throw StoreError(Code::kInvalidArgument, "invalid amount");
  std::string window = patch.window.value_or(cur.window);
  validateWindow(cur.kind, window);
  bool calendar = patch.calendar.value_or(cur.calendar);
  SQLite::Statement up(db_, "UPDATE limits SET amount = ?, window = ?, calendar = ? WHERE id = ?");
  up.bind(1, amount);
  up.bind(2, window);
  up.bind(3, calendar ? 1 : 0);
  up.bind(4, id);
  up.exec();
  if (window != cur.window || calendar != cur.calendar) {
    // New window boundaries: the per-window counters are recomputed from the records.
    SQLite::Statement clear(db_, "DELETE FROM limit_usage WHERE limit_id = ?");
    clear.bind(1, id);
    clear.exec();
  }
  bumpVersionLocked();
  auto out = listLimitsLocked(&id).at(0);
  fillWindowLocked(out, nowMs());
  tx.commit();
  return out;
}

LimitRow Store::getLimit(const std::string& id) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  auto rows = listLimitsLocked(&id);
  if (rows.empty()) throw StoreError(Code::kNotFound, "limit '" + id + "' not found");
  fillWindowLocked(rows[0], nowMs());
  tx.commit();
  return rows[0];
}

std::vector<LimitRow> Store::listLimits(const std::string& ownerKind, const std::string& owner,
                                        const std::vector<std::string>& kinds) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  std::string ownerId;
  if (!ownerKind.empty() && !owner.empty())
    ownerId = ownerKind == "key"    ? resolveKeyLocked(owner)
              : ownerKind == "team" ? resolveTeamLocked(owner)
                                    : resolveCustomerLocked(owner);
  auto all = listLimitsLocked(nullptr);
  std::vector<LimitRow> out;
  int64_t now = nowMs();
  for (auto& l : all) {
    if (!ownerKind.empty() && l.ownerKind != ownerKind) continue;
    if (!ownerId.empty() && l.ownerId != ownerId) continue;
    if (!kinds.empty() && std::find(kinds.begin(), kinds.end(), l.kind) == kinds.end()) continue;
    fillWindowLocked(l, now);
    out.push_back(std::move(l));
  }
  tx.commit();
  return out;
}

LimitRow Store::deleteLimit(const std::string& id) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  auto rows = listLimitsLocked(&id);
  if (rows.empty()) throw StoreError(Code::kNotFound, "limit '" + id + "' not found");
  for (const char* sql : {"DELETE FROM limits WHERE id = ?", "DELETE FROM limit_usage WHERE limit_id = ?",
                          "DELETE FROM limit_grants WHERE limit_id = ?"}) {
    SQLite::Statement del(db_, sql);
    del.bind(1, id);
    del.exec();
  }
  bumpVersionLocked();
  tx.commit();
  slots_.erase(id);
  return rows[0];
}

}  // namespace finops::cp
