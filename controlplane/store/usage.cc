// Usage records and allowances. A data plane's report is applied in one transaction:
// each record once (request_id is the primary key, so a resent record changes nothing),
// added to the per-window usage of every limit it falls under and to the consuming node's
// grant row; then each demand gets a grant. docs/governance.md explains the scheme.
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <algorithm>
#include <chrono>

#include "common/window.h"
#include "controlplane/store/store.h"

namespace finops::cp {
namespace {
using Code = StoreError::Code;
namespace v1 = finops::v1;

int64_t amountOf(const LimitRow& l, const v1::UsageRecord& r) {
  if (l.kind == "budget") return r.cost_nano();
  if (l.kind == "tokens") return r.prompt_tokens() + r.completion_tokens();
  if (l.kind == "requests") return 1;
  return 0;
}
}  // namespace

void Store::setGrantPolicy(const GrantPolicy& p) {
  std::lock_guard lock(mu_);
  policy_ = p;
}

v1::UsageReply Store::applyReport(const v1::UsageReport& report, int64_t now) {
  v1::UsageReply reply;
  const std::string& node = report.node_id();
  if (node.empty()) throw StoreError(Code::kInvalidArgument, "a usage report needs a node_id");
  std::lock_guard lock(mu_);
  if (startedMs_ == 0) {
    // After a restart, the concurrency slots data planes still hold count until they
    // report again or their grants lapse.
    startedMs_ = now;
    SQLite::Statement held(db_,
                           "SELECT limit_id, node, granted, expires_ms FROM limit_grants "
                           "WHERE window_start_ms = 0 AND expires_ms > ?");
    held.bind(1, now);
    while (held.executeStep()) {
      SlotHolder h;
      h.granted = held.getColumn(2).getInt64();
      h.lastSeenMs = held.getColumn(3).getInt64() - policy_.ttlMs - policy_.graceMs;
      slots_[held.getColumn(0).getString()][held.getColumn(1).getString()] = h;
    }
  }
  nodesLastSeen_[node] = now;
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  limitsCacheLocked();
  SQLite::Statement ins(
      db_,
      "INSERT OR IGNORE INTO usage_records(request_id, ts_ms, node, key_id, team_id, customer_id, "
      "provider, model, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, "
      "cost_nano, priced, estimated, streamed, status, outcome, latency_ms) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  SQLite::Statement addUsage(db_,
                             "UPDATE limit_usage SET used = used + ? WHERE limit_id = ? AND "
                             "window_start_ms = ?");
  SQLite::Statement addConsumed(db_,
                                "UPDATE limit_grants SET consumed = consumed + ? WHERE limit_id = ? "
                                "AND window_start_ms = ? AND node = ?");
  int applied = 0;
  // (limit, window start) -> (window end, amount consumed by this batch's new records)
  std::map<std::pair<const LimitRow*, int64_t>, std::pair<int64_t, int64_t>> perWindow;
  for (const auto& r : report.records()) {
    if (r.request_id().empty()) continue;
    ins.reset();
    ins.clearBindings();
    ins.bind(1, r.request_id());
    ins.bind(2, r.ts_ms());
    ins.bind(3, r.node().empty() ? report.node_name() : r.node());
    ins.bind(4, r.key_id());
    ins.bind(5, r.team_id());
    ins.bind(6, r.customer_id());
    ins.bind(7, r.provider());
    ins.bind(8, r.model());
    ins.bind(9, r.prompt_tokens());
    ins.bind(10, r.completion_tokens());
    ins.bind(11, r.cached_tokens());
    ins.bind(12, r.cache_write_tokens());
    ins.bind(13, r.cost_nano());
    ins.bind(14, r.priced() ? 1 : 0);
    ins.bind(15, r.estimated() ? 1 : 0);
    ins.bind(16, r.streamed() ? 1 : 0);
    ins.bind(17, r.status());
    ins.bind(18, r.outcome());
    ins.bind(19, r.latency_ms());
    if (ins.exec() == 0) continue;  // seen before: exactly once
    ++applied;
    for (const auto& owner : {"key:" + r.key_id(), "team:" + r.team_id(), "customer:" + r.customer_id()}) {
      if (owner.back() == ':') continue;
      auto it = limitsByOwner_.find(owner);
      if (it == limitsByOwner_.end()) continue;
      for (const LimitRow* l : it->second) {
        if (l->kind == "concurrency") continue;
        if (!l->provider.empty() && l->provider != r.provider()) continue;
        auto spec = parseWindow(l->window);
        if (!spec) continue;
        Period p = periodAt(*spec, l->calendar, l->anchorMs, r.ts_ms());
        int64_t amount = amountOf(*l, r);
        auto& sum = perWindow[{l, p.startMs}];
        sum.first = p.endMs;
        sum.second += amount;
      }
    }
  }
  // One update per limit and window for the whole batch. A window seen for the first time
  // is initialised from the records, which already include this batch.
  for (const auto& [key, value] : perWindow) {
    const auto& [l, startMs] = key;
    const auto& [endMs, amount] = value;
    addUsage.reset();
    addUsage.bind(1, amount);
    addUsage.bind(2, l->id);
    addUsage.bind(3, startMs);
    if (addUsage.exec() == 0) windowUsedLocked(*l, startMs, endMs);
    addConsumed.reset();
    addConsumed.bind(1, amount);
    addConsumed.bind(2, l->id);
    addConsumed.bind(3, startMs);
    addConsumed.bind(4, node);
    addConsumed.exec();
  }
  for (const auto& d : report.demands()) grantLocked(node, d, now, reply);
  SQLite::Statement sweep(db_, "DELETE FROM limit_grants WHERE expires_ms < ?");
  sweep.bind(1, now - 3'600'000);
  sweep.exec();
  tx.commit();
  reply.set_accepted(report.records_size());
  reply.set_applied(applied);
  return reply;
}

void Store::grantLocked(const std::string& node, const v1::LimitDemand& d, int64_t now,
                        v1::UsageReply& reply) {
  auto found = limitsById_.find(d.limit_id());
  if (found == limitsById_.end()) {
    reply.add_unknown_limits(d.limit_id());
    return;
  }
  const LimitRow& l = *found->second;
  v1::Grant* g = reply.add_grants();
  g->set_limit_id(l.id);
  g->set_ttl_ms(policy_.ttlMs);

  if (l.kind == "concurrency") {
    // Slots are split evenly among the nodes reporting for this limit. A node's slots are
    // reassigned only once it reports honouring a lower grant and having no more in flight
    // (or after its grant could have expired), so the sum in use never exceeds the limit.
    auto& holders = slots_[l.id];
    SQLite::Statement save(db_,
                           "INSERT INTO limit_grants(limit_id, window_start_ms, node, granted, consumed, "
                           "expires_ms) VALUES (?, 0, ?, ?, 0, ?) ON CONFLICT(limit_id, window_start_ms, "
                           "node) DO UPDATE SET granted = excluded.granted, expires_ms = excluded.expires_ms");
    save.bind(1, l.id);
    save.bind(2, node);
    SlotHolder& me = holders[node];
    me.honored = d.honored();
    me.inFlight = d.in_flight();
    me.lastSeenMs = now;
    std::vector<std::string> active;
    int64_t heldByOthers = 0, inFlight = 0;
    for (auto it = holders.begin(); it != holders.end();) {
      const auto& [n, h] = *it;
      if (h.lastSeenMs <= now - policy_.ttlMs - policy_.graceMs) {
        it = holders.erase(it);
        continue;
      }
      if (h.lastSeenMs > now - policy_.activeMs) active.push_back(n);
      if (n != node) heldByOthers += std::max({h.granted, h.honored, h.inFlight});
      inFlight += h.inFlight;
      ++it;
    }
    auto rank = std::find(active.begin(), active.end(), node) - active.begin();
    int64_t count = static_cast<int64_t>(active.size());
    int64_t target = l.amount / count + (rank < l.amount % count ? 1 : 0);
    int64_t next = std::min(target, std::max<int64_t>(0, l.amount - heldByOthers));
    me.granted = next;
    save.bind(3, next);
    save.bind(4, now + policy_.ttlMs + policy_.graceMs);
    save.exec();
    g->set_granted(next);
    g->set_window_used(inFlight);
    return;
  }

  auto spec = parseWindow(l.window);
  if (!spec) return;
  Period p = periodAt(*spec, l.calendar, l.anchorMs, now);
  int64_t used = windowUsedLocked(l, p.startMs, p.endMs);
  SQLite::Statement rows(db_,
                         "SELECT node, granted, consumed, expires_ms FROM limit_grants "
                         "WHERE limit_id = ? AND window_start_ms = ?");
  rows.bind(1, l.id);
  rows.bind(2, p.startMs);
  int64_t outstanding = 0;
  bool haveRow = false, expired = false;
  int64_t granted = 0, consumed = 0, currentExpires = 0;
  while (rows.executeStep()) {
    std::string n = rows.getColumn(0).getString();
    int64_t gr = rows.getColumn(1).getInt64(), co = rows.getColumn(2).getInt64();
    int64_t ex = rows.getColumn(3).getInt64();
    bool live = ex > now;
    if (live) outstanding += std::max<int64_t>(0, gr - co);
    if (n == node) {
      haveRow = true;
      expired = !live;
      granted = gr;
      consumed = co;
      currentExpires = ex;
    }
  }
  // An expired grant was released; the node starts again from what it consumed.
  if (expired) granted = consumed;
  int64_t free = l.amount - used - outstanding;
  if ((!haveRow || expired || d.want_more() || d.window_start_ms() != p.startMs) && free > 0) {
    int64_t nodes = 0;
    for (const auto& [n, seen] : nodesLastSeen_)
      if (seen > now - policy_.activeMs) ++nodes;
    int64_t chunk = std::max<int64_t>(1, free / (2 * std::max<int64_t>(1, nodes)));
    granted += std::min(chunk, free);
  }
  // An idle node's grant is renewed only while nothing is left to hand out; otherwise it
  // lapses and what it holds goes to the nodes that ask.
  int64_t expires = now + policy_.ttlMs + policy_.graceMs;
  int64_t ttl = policy_.ttlMs;
  if (haveRow && !expired && d.idle() && !d.want_more() && d.window_start_ms() == p.startMs && free <= 0) {
    expires = currentExpires;
    ttl = std::max<int64_t>(0, currentExpires - policy_.graceMs - now);
  }
  g->set_ttl_ms(ttl);
  SQLite::Statement up(db_,
                       "INSERT INTO limit_grants(limit_id, window_start_ms, node, granted, consumed, "
                       "expires_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(limit_id, window_start_ms, "
                       "node) DO UPDATE SET granted = excluded.granted, expires_ms = excluded.expires_ms");
  up.bind(1, l.id);
  up.bind(2, p.startMs);
  up.bind(3, node);
  up.bind(4, granted);
  up.bind(5, consumed);
  up.bind(6, expires);
  up.exec();
  g->set_window_start_ms(p.startMs);
  g->set_window_end_ms(p.endMs);
  g->set_granted(granted);
  g->set_window_used(used);
  g->set_exhausted(l.amount - used <= 0);
}

std::vector<UsageAgg> Store::queryUsage(const UsageFilter& f, UsageAgg* total) {
  struct Dim {
    const char* name;
    std::string expr;
  };
  std::vector<Dim> dims;
  for (const auto& g : f.groupBy) {
    if (g == "key") dims.push_back({"key", "u.key_id"});
    else if (g == "team") dims.push_back({"team", "u.team_id"});
    else if (g == "customer") dims.push_back({"customer", "u.customer_id"});
    else if (g == "provider") dims.push_back({"provider", "u.provider"});
    else if (g == "model") dims.push_back({"model", "u.model"});
    else if (g == "day") dims.push_back({"day", "strftime('%Y-%m-%d', u.ts_ms / 1000, 'unixepoch')"});
    else if (g == "hour") dims.push_back({"hour", "strftime('%Y-%m-%dT%H:00Z', u.ts_ms / 1000, 'unixepoch')"});
    else
      throw StoreError(Code::kInvalidArgument,
                       "cannot group usage by '" + g + "' (key, team, customer, provider, model, day, hour)");
  }
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  std::string where = " WHERE u.ts_ms >= ? AND u.ts_ms < ?";
  std::vector<std::string> binds;
  if (!f.key.empty()) {
    where += " AND u.key_id = ?";
    binds.push_back(resolveKeyLocked(f.key));
  }
  if (!f.team.empty()) {
    where += " AND u.team_id = ?";
    binds.push_back(resolveTeamLocked(f.team));
  }
  if (!f.customer.empty()) {
    where += " AND u.customer_id = ?";
    binds.push_back(resolveCustomerLocked(f.customer));
  }
  if (!f.provider.empty()) {
    where += " AND u.provider = ?";
    binds.push_back(f.provider);
  }
  if (!f.model.empty()) {
    where += " AND u.model = ?";
    binds.push_back(f.model);
  }
  const std::string aggs =
      "count(*), coalesce(sum(u.prompt_tokens), 0), coalesce(sum(u.completion_tokens), 0), "
      "coalesce(sum(u.cached_tokens), 0), coalesce(sum(u.cost_nano), 0), "
      "coalesce(sum(u.priced = 0), 0), coalesce(sum(u.estimated), 0), "
      "coalesce(sum(u.status >= 400 OR u.status = 0), 0)";
  auto run = [&](const std::string& sql, auto&& onRow) {
    SQLite::Statement q(db_, sql);
    int i = 1;
    q.bind(i++, f.fromMs);
    q.bind(i++, f.toMs);
    for (const auto& b : binds) q.bind(i++, b);
    while (q.executeStep()) onRow(q);
  };
  auto readAgg = [](SQLite::Statement& q, int base, UsageAgg& a) {
    a.requests = q.getColumn(base).getInt64();
    a.promptTokens = q.getColumn(base + 1).getInt64();
    a.completionTokens = q.getColumn(base + 2).getInt64();
    a.cachedTokens = q.getColumn(base + 3).getInt64();
    a.costNano = q.getColumn(base + 4).getInt64();
    a.unpriced = q.getColumn(base + 5).getInt64();
    a.estimated = q.getColumn(base + 6).getInt64();
    a.failed = q.getColumn(base + 7).getInt64();
  };
  std::vector<UsageAgg> out;
  if (!dims.empty()) {
    std::string select = "SELECT ", group = " GROUP BY ";
    for (size_t i = 0; i < dims.size(); ++i) {
      select += dims[i].expr + ", ";
      group += (i ? ", " : "") + std::to_string(i + 1);
    }
    run(select + aggs + " FROM usage_records u" + where + group + " ORDER BY " +
            std::to_string(dims.size() + 5) + " DESC",
        [&](SQLite::Statement& q) {
          UsageAgg a;
          for (size_t i = 0; i < dims.size(); ++i) a.group[dims[i].name] = q.getColumn(static_cast<int>(i)).getString();
          readAgg(q, static_cast<int>(dims.size()), a);
          out.push_back(std::move(a));
        });
    // Names for ids (deleted owners keep their id).
    for (auto& a : out) {
      for (const auto& [dim, table] : {std::pair{"key", "virtual_keys"}, {"team", "teams"}, {"customer", "customers"}}) {
        auto it = a.group.find(dim);
        if (it == a.group.end()) continue;
        a.group[std::string(dim) + "_id"] = it->second;
        if (it->second.empty()) continue;
        SQLite::Statement n(db_, std::string("SELECT name FROM ") + table + " WHERE id = ?");
        n.bind(1, it->second);
        if (n.executeStep()) it->second = n.getColumn(0).getString();
      }
    }
  }
  if (total)
    run("SELECT " + aggs + " FROM usage_records u" + where, [&](SQLite::Statement& q) { readAgg(q, 0, *total); });
  tx.commit();
  return out;
}

}  // namespace finops::cp
