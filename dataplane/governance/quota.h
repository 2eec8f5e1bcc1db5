// Local enforcement of budgets and rate limits from allowances the control plane grants.
//
// Every limit (budget, requests, tokens per window; concurrency) has a State here. The
// control plane grants this data plane part of what is left of each limit (UsageService,
// driven by the Reporter); the request path admits against that local allowance only, so it
// never waits on the control plane. docs/governance.md states the resulting bounds.
//
// Thread-safe: the request path (admit/complete) and the reporter thread (demands/
// applyReply/sync) run concurrently; each limit's State has its own mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/window.h"
#include "dataplane/translate/translator.h"
#include "finops/v1/usage.pb.h"

namespace finops::dp {

enum class LimitKind { kBudget, kRequests, kTokens, kConcurrency };

struct LimitDef {
  std::string id;
  std::string name;
  std::string owner;     // "key ci-bot"
  std::string provider;  // empty: all providers
  LimitKind kind = LimitKind::kBudget;
  int64_t amount = 0;  // nano-dollars, requests, tokens or slots
  std::string window;
  WindowSpec spec;
  bool calendar = true;
  int64_t anchorMs = 0;
};

// Why a request was refused, rendered by the caller as an OpenAI-shaped error.
struct Refusal {
  ApiError error;
  std::vector<std::pair<std::string, std::string>> headers;
  // No allowance yet (503 quota_unavailable): one has been asked for and may come in
  // milliseconds.
  bool pending = false;
};

class Quota {
  struct State;

 public:
  using Clock = std::function<int64_t()>;
  // wallMs: ms since the epoch (window boundaries); steadyMs: monotonic (grant expiry).
  Quota(Clock wallMs, Clock steadyMs);
  Quota();

  // What one admitted request holds until complete().
  class Ticket {
   public:
    bool empty() const { return holds_.empty(); }

   private:
    friend class Quota;
    struct Hold {
      std::shared_ptr<State> state;
      int64_t reserved = 0;
    };
    std::vector<Hold> holds_;
  };

  // Admits a request against every limit in `limits` or none: on refusal nothing is held.
  std::optional<Refusal> admit(const std::vector<const LimitDef*>& limits, Ticket& ticket);

  // The request finished having cost `costNano` and used `tokens`; releases its holds.
  void complete(Ticket& ticket, int64_t costNano, int64_t tokens);

  // --- reporter side
  // Makes the set of limits match the config: new ones are asked for at the next report,
  // removed ones are dropped.
  void sync(const std::vector<const LimitDef*>& limits);
  // What to ask the control plane for now (empty: nothing due).
  std::vector<finops::v1::LimitDemand> demands();
  // The report carrying these demands failed: ask again next time.
  void unsent(const std::vector<finops::v1::LimitDemand>& demands);
  // Applies a reply to a report sent at `sentSteadyMs`: grants are valid from then on.
  void applyReply(const finops::v1::UsageReply& reply, int64_t sentSteadyMs);
  // True when a refusal or a low allowance wants a report soon.
  bool urgent() const { return urgent_.load(std::memory_order_relaxed); }
  // Called (from the request path) when a report becomes urgent. Set before use.
  void setOnUrgent(std::function<void()> f) { onUrgent_ = std::move(f); }

 private:
  std::shared_ptr<State> stateFor(const LimitDef& def);
  std::optional<Refusal> take(State& st, const LimitDef& def, int64_t wall, int64_t steady,
                              int64_t& reserved);
  void markUrgent();

  Clock wallMs_, steadyMs_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<State>> states_;  // GUARDED_BY(mu_)
  std::atomic<bool> urgent_{false};
  std::function<void()> onUrgent_;
};

}  // namespace finops::dp
