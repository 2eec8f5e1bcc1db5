#include "dataplane/governance/quota.h"

#include <algorithm>
#include <chrono>

#include "common/money.h"

namespace finops::dp {

namespace v1 = finops::v1;

struct Quota::State {
  std::mutex mu;
  LimitDef def;                    // GUARDED_BY(mu), refreshed by sync()
  bool haveGrant = false;
  bool asked = false;              // the first demand was sent
  bool wantMore = false;
  int64_t windowStart = 0, windowEnd = 0;
  int64_t granted = 0;             // cumulative allowance for this window
  int64_t consumed = 0;            // consumed here in this window
  int64_t reserved = 0;            // estimates held by requests in flight
  int64_t lastIncrement = 0;
  int64_t consumedAtGrant = 0;
  int64_t windowUsed = 0;          // all nodes, as of the last grant
  bool exhausted = false;
  int64_t expiresSteady = 0;
  int64_t ttlMs = 30'000;
  int64_t estimate = -1;           // moving average of one request's consumption
  int64_t slots = 0, inFlight = 0;  // concurrency
  int64_t lastUsedSteady = INT64_MIN / 2;
  int64_t lastAskSteady = INT64_MIN / 2;
};

namespace {
int64_t systemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
int64_t steadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const char* kindWord(LimitKind k) {
  switch (k) {
    case LimitKind::kBudget: return "budget";
    case LimitKind::kRequests: return "requests";
    case LimitKind::kTokens: return "tokens";
    case LimitKind::kConcurrency: return "concurrency";
  }
  return "";
}

std::string amountText(const LimitDef& d, int64_t v) {
  if (d.kind == LimitKind::kBudget) return formatDollars(v);
  return std::to_string(v) + (d.kind == LimitKind::kTokens ? " tokens" : " requests");
}

std::string describe(const LimitDef& d) {
  std::string s = std::string(d.kind == LimitKind::kBudget ? "Budget" : "Rate limit") + " '" +
                  d.name + "' of " + d.owner;
  if (!d.provider.empty()) s += " for provider " + d.provider;
  s += " (" + amountText(d, d.amount);
  if (d.kind == LimitKind::kConcurrency) s += " in flight)";
  else s += " per " + d.window + (d.calendar ? ", calendar" : ", rolling") + ")";
  return s;
}

void addRateHeaders(Refusal& r, const LimitDef& d, int64_t remaining, int64_t resetMs) {
  std::string suffix = d.kind == LimitKind::kTokens ? "tokens" : d.kind == LimitKind::kBudget ? "budget"
                       : d.kind == LimitKind::kConcurrency ? "concurrency" : "requests";
  r.headers.emplace_back("x-ratelimit-limit-" + suffix, std::to_string(d.amount));
  r.headers.emplace_back("x-ratelimit-remaining-" + suffix, std::to_string(std::max<int64_t>(0, remaining)));
  r.headers.emplace_back("x-ratelimit-reset-" + suffix, formatResetDuration(resetMs));
}

void addRetryAfter(Refusal& r, int64_t ms, bool shouldRetry) {
  ms = std::max<int64_t>(ms, 1);
  r.headers.emplace_back("retry-after", std::to_string((ms + 999) / 1000));
  r.headers.emplace_back("retry-after-ms", std::to_string(ms));
  r.headers.emplace_back("x-should-retry", shouldRetry ? "true" : "false");
}
}  // namespace

Quota::Quota(Clock wallMs, Clock steadyMs) : wallMs_(std::move(wallMs)), steadyMs_(std::move(steadyMs)) {}
Quota::Quota() : Quota(systemNowMs, steadyNowMs) {}

void Quota::markUrgent() {
  if (!urgent_.exchange(true, std::memory_order_relaxed) && onUrgent_) onUrgent_();
}

std::shared_ptr<Quota::State> Quota::stateFor(const LimitDef& def) {
  {
    std::shared_lock lock(mu_);
    if (auto it = states_.find(def.id); it != states_.end()) return it->second;
  }
  std::unique_lock lock(mu_);
  auto& slot = states_[def.id];
  if (!slot) {
    slot = std::make_shared<State>();
    slot->def = def;
  }
  return slot;
}

std::optional<Refusal> Quota::take(State& st, const LimitDef& def, int64_t wall, int64_t steady,
                                   int64_t& reserved) {
  bool windowed = def.kind != LimitKind::kConcurrency;
  bool live = st.haveGrant && steady < st.expiresSteady && (!windowed || wall < st.windowEnd);
  if (!live) {
    // No allowance yet (new limit, idle limit, new window, or the control plane unreachable
    // for longer than a grant lasts): retryable, and a report is asked for at once.
    st.wantMore = true;
    markUrgent();
    Refusal r{apiError(503, "service_unavailable", "quota_unavailable",
                       "The gateway has no current allowance for " + describe(def) +
                           " yet; retry in a moment."),
              {}};
    addRetryAfter(r, 1000, true);
    r.pending = true;
    return r;
  }
  if (def.kind == LimitKind::kConcurrency) {
    if (st.inFlight >= st.slots) {
      st.wantMore = true;
      markUrgent();
      Refusal r{apiError(429, "concurrency", "rate_limit_exceeded",
                         describe(def) + " is reached: " + std::to_string(st.inFlight) +
                             " requests in flight on this gateway. Retry when one finishes."),
                {}};
      addRetryAfter(r, 1000, true);
      addRateHeaders(r, def, 0, 1000);
      return r;
    }
    ++st.inFlight;
    st.lastUsedSteady = steady;
    return std::nullopt;
  }
  int64_t left = st.granted - st.consumed - st.reserved;
  bool room = def.kind == LimitKind::kRequests ? left >= 1 : left > 0;
  int64_t resetMs = st.windowEnd - wall;
  if (!room) {
    st.wantMore = true;
    markUrgent();
    int64_t globalLeft = def.amount - st.windowUsed - (st.consumed - st.consumedAtGrant);
    if (st.exhausted || globalLeft <= 0) {
      // Spent: no retry helps before the window resets.
      Refusal r;
      if (def.kind == LimitKind::kBudget)
        r.error = apiError(402, "insufficient_quota", "budget_exceeded",
                           describe(def) + " is exhausted. It resets at " + formatUtc(st.windowEnd) + ".");
      else
        r.error = apiError(429, kindWord(def.kind), "rate_limit_exceeded",
                           describe(def) + " is reached. It resets at " + formatUtc(st.windowEnd) + ".");
      addRetryAfter(r, resetMs, false);
      addRateHeaders(r, def, 0, resetMs);
      return r;
    }
    // This gateway's share is used up but the limit is not: more is on its way.
    Refusal r{apiError(429, kindWord(def.kind), "rate_limit_exceeded",
                       "This gateway's share of " + describe(def) +
                           " is used up for the moment; retry in a second."),
              {}};
    addRetryAfter(r, 1000, true);
    addRateHeaders(r, def, globalLeft, resetMs);
    return r;
  }
  if (def.kind == LimitKind::kRequests) {
    st.consumed += 1;
    reserved = 0;
  } else {
    reserved = std::max<int64_t>(0, st.estimate);
    st.reserved += reserved;
  }
  if (st.granted - st.consumed - st.reserved <= st.lastIncrement / 2) {
    st.wantMore = true;
    markUrgent();
  }
  st.lastUsedSteady = steady;
  return std::nullopt;
}

std::optional<Refusal> Quota::admit(const std::vector<const LimitDef*>& limits, Ticket& ticket) {
  if (limits.empty()) return std::nullopt;
  int64_t wall = wallMs_(), steady = steadyMs_();
  for (const LimitDef* def : limits) {
    auto st = stateFor(*def);
    int64_t reserved = 0;
    std::optional<Refusal> refusal;
    {
      std::lock_guard lock(st->mu);
      refusal = take(*st, *def, wall, steady, reserved);
    }
    if (refusal) {
      // All or nothing: give back what the earlier limits handed out.
      for (auto& h : ticket.holds_) {
        std::lock_guard lock(h.state->mu);
        if (h.state->def.kind == LimitKind::kConcurrency) --h.state->inFlight;
        else if (h.state->def.kind == LimitKind::kRequests) --h.state->consumed;
        else h.state->reserved -= h.reserved;
      }
      ticket.holds_.clear();
      return refusal;
    }
    ticket.holds_.push_back({std::move(st), reserved});
  }
  return std::nullopt;
}

void Quota::complete(Ticket& ticket, int64_t costNano, int64_t tokens) {
  for (auto& h : ticket.holds_) {
    State& st = *h.state;
    std::lock_guard lock(st.mu);
    switch (st.def.kind) {
      case LimitKind::kConcurrency: --st.inFlight; break;
      case LimitKind::kRequests: break;
      case LimitKind::kBudget:
      case LimitKind::kTokens: {
        int64_t used = st.def.kind == LimitKind::kBudget ? costNano : tokens;
        st.reserved -= h.reserved;
        st.consumed += used;
        st.estimate = st.estimate < 0 ? used : (st.estimate * 3 + used) / 4;
        break;
      }
    }
  }
  ticket.holds_.clear();
}

void Quota::sync(const std::vector<const LimitDef*>& limits) {
  std::unordered_map<std::string, const LimitDef*> want;
  for (const LimitDef* d : limits) want[d->id] = d;
  std::unique_lock lock(mu_);
  for (auto it = states_.begin(); it != states_.end();) {
    if (!want.count(it->first)) it = states_.erase(it);
    else ++it;
  }
  for (const auto& [id, def] : want) {
    auto& slot = states_[id];
    if (!slot) slot = std::make_shared<State>();
    std::lock_guard sl(slot->mu);
    bool reshaped = slot->def.kind != def->kind || slot->def.window != def->window ||
                    slot->def.calendar != def->calendar;
    slot->def = *def;
    if (reshaped && slot->haveGrant) {
      slot->haveGrant = false;  // a new window shape: ask again
      slot->asked = false;
    }
  }
}

std::vector<v1::LimitDemand> Quota::demands() {
  urgent_ = false;
  int64_t wall = wallMs_(), steady = steadyMs_();
  std::vector<v1::LimitDemand> out;
  std::shared_lock lock(mu_);
  for (auto& [id, st] : states_) {
    std::lock_guard sl(st->mu);
    bool concurrency = st->def.kind == LimitKind::kConcurrency;
    bool recentlyUsed = steady - st->lastUsedSteady < st->ttlMs;
    bool include = !st->asked || st->wantMore;
    if (st->haveGrant && st->expiresSteady > steady) {
      if (st->expiresSteady - steady < st->ttlMs / 2 && steady - st->lastAskSteady >= 1000)
        include = true;  // renew (at most once a second while a grant lapses)
      if (!concurrency && wall >= st->windowEnd) include = true;       // next window
    }
    // Concurrency limits are split among the nodes that report: report every second.
    if (concurrency && steady - st->lastAskSteady >= 1000) include = true;
    if (!include) continue;
    st->asked = true;
    st->lastAskSteady = steady;
    v1::LimitDemand d;
    d.set_limit_id(id);
    d.set_window_start_ms(st->haveGrant && !concurrency ? st->windowStart : 0);
    d.set_want_more(st->wantMore);
    d.set_in_flight(st->inFlight);
    d.set_honored(st->haveGrant && steady < st->expiresSteady ? st->slots : 0);
    d.set_idle(!recentlyUsed && !st->wantMore);
    out.push_back(std::move(d));
  }
  return out;
}

void Quota::unsent(const std::vector<v1::LimitDemand>& demands) {
  std::shared_lock lock(mu_);
  for (const auto& d : demands) {
    auto it = states_.find(d.limit_id());
    if (it == states_.end()) continue;
    std::lock_guard sl(it->second->mu);
    it->second->asked = false;
    it->second->lastAskSteady = INT64_MIN / 2;
  }
}

void Quota::applyReply(const v1::UsageReply& reply, int64_t sentSteadyMs) {
  std::shared_lock lock(mu_);
  for (const auto& g : reply.grants()) {
    auto it = states_.find(g.limit_id());
    if (it == states_.end()) continue;
    State& st = *it->second;
    std::lock_guard sl(st.mu);
    // ttlMs stays the nominal lifetime (renewal cadence); a lapsing grant comes back with
    // less than that and simply expires.
    int64_t ttl = g.ttl_ms();
    if (st.def.kind == LimitKind::kConcurrency) {
      st.slots = g.granted();
      st.haveGrant = true;
      st.expiresSteady = sentSteadyMs + ttl;
      st.wantMore = false;
      continue;
    }
    bool sameWindow = st.haveGrant && g.window_start_ms() == st.windowStart;
    if (!sameWindow && st.haveGrant && g.window_start_ms() != st.windowStart) st.consumed = 0;
    int64_t before = sameWindow ? st.granted : 0;
    if (g.granted() > before) st.lastIncrement = g.granted() - before;
    st.windowStart = g.window_start_ms();
    st.windowEnd = g.window_end_ms();
    st.granted = g.granted();
    st.windowUsed = g.window_used();
    st.consumedAtGrant = st.consumed;
    st.exhausted = g.exhausted();
    st.haveGrant = true;
    // A grant we let lapse is not renewed again (the control plane said so).
    if (ttl < st.ttlMs && st.expiresSteady > sentSteadyMs) st.expiresSteady = std::min(st.expiresSteady, sentSteadyMs + ttl);
    else st.expiresSteady = sentSteadyMs + ttl;
    st.wantMore = false;
  }
  lock.unlock();
  if (reply.unknown_limits_size() > 0) {
    std::unique_lock wl(mu_);
    for (const auto& id : reply.unknown_limits()) states_.erase(id);
  }
}

}  // namespace finops::dp
