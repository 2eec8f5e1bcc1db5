#include "dataplane/governance/quota.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/money.h"
#include "common/window.h"
#include "finops/v1/usage.pb.h"

namespace finops::dp {
namespace {

namespace v1 = finops::v1;

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kDayStart = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kTtl = 30'000;

LimitDef limit(const std::string& id, LimitKind kind, int64_t amount, const std::string& window = "1d") {
  LimitDef d;
  d.id = id;
  d.name = id;
  d.owner = "key ci-bot";
  d.kind = kind;
  d.amount = amount;
  if (kind != LimitKind::kConcurrency) {
    d.window = window;
    d.spec = *parseWindow(window);
  }
  d.calendar = true;
  return d;
}

std::string header(const Refusal& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "<missing " + std::string(name) + ">";
}

const v1::LimitDemand* findDemand(const std::vector<v1::LimitDemand>& ds, const std::string& id) {
  for (const auto& d : ds)
    if (d.limit_id() == id) return &d;
  return nullptr;
}

void addGrant(v1::UsageReply& reply, const LimitDef& d, int64_t granted, int64_t windowUsed = 0,
              bool exhausted = false, int64_t start = kDayStart, int64_t end = kDayStart + kDay) {
  v1::Grant* g = reply.add_grants();
  g->set_limit_id(d.id);
  if (d.kind != LimitKind::kConcurrency) {
    g->set_window_start_ms(start);
    g->set_window_end_ms(end);
  }
  g->set_granted(granted);
  g->set_ttl_ms(kTtl);
  g->set_window_used(windowUsed);
  g->set_exhausted(exhausted);
}

class QuotaTest : public ::testing::Test {
 protected:
  int64_t wall_ = kDayStart + kHour;
  int64_t steady_ = 1'000'000;
  Quota q_{[this] { return wall_; }, [this] { return steady_; }};

  // Makes the limits known and sends their first demand, as the reporter does.
  void prime(const std::vector<const LimitDef*>& defs) {
    q_.sync(defs);
    q_.demands();
  }

  void grant(const LimitDef& d, int64_t granted, int64_t windowUsed = 0, bool exhausted = false,
             int64_t start = kDayStart, int64_t end = kDayStart + kDay) {
    v1::UsageReply reply;
    addGrant(reply, d, granted, windowUsed, exhausted, start, end);
    q_.applyReply(reply, steady_);
  }

  // Admits one request of a REQUESTS limit (nothing to give back) and finishes it.
  bool admitRequest(const LimitDef& d) {
    Quota::Ticket t;
    bool ok = !q_.admit({&d}, t).has_value();
    q_.complete(t, 0, 0);
    return ok;
  }
};

// --- no allowance yet

TEST_F(QuotaTest, NoLimitsAdmitsWithoutHolding) {
  Quota::Ticket t;
  EXPECT_FALSE(q_.admit({}, t).has_value());
  EXPECT_TRUE(t.empty());
}

TEST_F(QuotaTest, AFreshLimitRefusesWith503AndIsDemanded) {
  LimitDef d = limit("budget-1", LimitKind::kBudget, 5 * kNanoPerDollar);
  Quota::Ticket t;
  auto r = q_.admit({&d}, t);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 503);
  EXPECT_EQ(r->error.type, "service_unavailable");
  EXPECT_EQ(r->error.code, "quota_unavailable");
  EXPECT_EQ(header(*r, "x-should-retry"), "true");
  EXPECT_EQ(header(*r, "retry-after"), "1");
  EXPECT_TRUE(t.empty());
  EXPECT_TRUE(q_.urgent());

  auto ds = q_.demands();
  const v1::LimitDemand* dm = findDemand(ds, "budget-1");
  ASSERT_NE(dm, nullptr);
  EXPECT_EQ(dm->window_start_ms(), 0);
  EXPECT_TRUE(dm->want_more());
  EXPECT_FALSE(q_.urgent());
}

TEST_F(QuotaTest, SyncedLimitsAreDemandedOnceAndAgainWhenTheReportFailed) {
  LimitDef d = limit("req-1", LimitKind::kRequests, 100);
  q_.sync({&d});
  auto first = q_.demands();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].limit_id(), "req-1");
  EXPECT_EQ(first[0].window_start_ms(), 0);
  EXPECT_TRUE(q_.demands().empty());
  q_.unsent(first);
  auto again = q_.demands();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].limit_id(), "req-1");
}

// --- budgets

TEST_F(QuotaTest, AGrantAdmitsUntilTheAllowanceIsUsed) {
  LimitDef d = limit("budget-1", LimitKind::kBudget, 1'000'000);
  prime({&d});
  grant(d, 1000);
  Quota::Ticket t1;
  ASSERT_FALSE(q_.admit({&d}, t1).has_value());
  EXPECT_FALSE(t1.empty());
  q_.complete(t1, 600, 0);
  EXPECT_TRUE(t1.empty());
  Quota::Ticket t2;
  ASSERT_FALSE(q_.admit({&d}, t2).has_value());  // 400 left
  q_.complete(t2, 600, 0);
  Quota::Ticket t3;
  EXPECT_TRUE(q_.admit({&d}, t3).has_value());  // 1200 of 1000 consumed
  EXPECT_TRUE(t3.empty());
}

TEST_F(QuotaTest, ABudgetRequestReservesTheAverageCostWhileInFlight) {
  LimitDef d = limit("budget-1", LimitKind::kBudget, 1'000'000);
  prime({&d});
  grant(d, 1000);
  Quota::Ticket t1;
  ASSERT_FALSE(q_.admit({&d}, t1).has_value());
  q_.complete(t1, 400, 0);  // consumed 400; estimate 400
  Quota::Ticket t2, t3, t4;
  ASSERT_FALSE(q_.admit({&d}, t2).has_value());  // 600 left: reserves 400
  ASSERT_FALSE(q_.admit({&d}, t3).has_value());  // 200 left: reserves 400
  // 1000 - 400 consumed - 800 reserved: nothing left, though nothing more was consumed.
  EXPECT_TRUE(q_.admit({&d}, t4).has_value());
  // Finishing releases the reservations (and charges what was really spent).
  q_.complete(t2, 0, 0);
  q_.complete(t3, 0, 0);
  Quota::Ticket t5;
  EXPECT_FALSE(q_.admit({&d}, t5).has_value());
  q_.complete(t5, 0, 0);
}

TEST_F(QuotaTest, AnExhaustedBudgetIs402WithoutRetry) {
  LimitDef d = limit("daily", LimitKind::kBudget, 5 * kNanoPerDollar);
  prime({&d});
  grant(d, 5 * kNanoPerDollar);
  Quota::Ticket t;
  ASSERT_FALSE(q_.admit({&d}, t).has_value());
  q_.complete(t, 5 * kNanoPerDollar, 0);
  Quota::Ticket t2;
  auto r = q_.admit({&d}, t2);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 402);
  EXPECT_EQ(r->error.type, "insufficient_quota");
  EXPECT_EQ(r->error.code, "budget_exceeded");
  EXPECT_NE(r->error.message.find("'daily'"), std::string::npos) << r->error.message;
  EXPECT_NE(r->error.message.find("$5.00"), std::string::npos) << r->error.message;
  EXPECT_NE(r->error.message.find("resets at 2026-01-02T00:00:00Z"), std::string::npos) << r->error.message;
  // 23 hours to the reset.
  EXPECT_EQ(header(*r, "x-should-retry"), "false");
  EXPECT_EQ(header(*r, "retry-after"), "82800");
  EXPECT_EQ(header(*r, "retry-after-ms"), "82800000");
  EXPECT_EQ(header(*r, "x-ratelimit-limit-budget"), "5000000000");
  EXPECT_EQ(header(*r, "x-ratelimit-remaining-budget"), "0");
  EXPECT_EQ(header(*r, "x-ratelimit-reset-budget"), "23h0m0s");
  EXPECT_TRUE(t2.empty());
}

TEST_F(QuotaTest, AGrantMarkedExhaustedRefusesWith402) {
  LimitDef d = limit("daily", LimitKind::kBudget, 1000);
  prime({&d});
  grant(d, 0, /*windowUsed=*/1000, /*exhausted=*/true);
  Quota::Ticket t;
  auto r = q_.admit({&d}, t);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 402);
  EXPECT_EQ(r->error.code, "budget_exceeded");
  EXPECT_EQ(header(*r, "x-should-retry"), "false");
}

TEST_F(QuotaTest, ALocalShareUsedUpIs429WithRetry) {
  LimitDef d = limit("daily", LimitKind::kBudget, 10'000);
  prime({&d});
  grant(d, 1000);
  Quota::Ticket t;
  ASSERT_FALSE(q_.admit({&d}, t).has_value());
  q_.complete(t, 1000, 0);
  q_.demands();  // clears the low-allowance flag
  Quota::Ticket t2;
  auto r = q_.admit({&d}, t2);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 429);
  EXPECT_EQ(r->error.type, "budget");
  EXPECT_EQ(r->error.code, "rate_limit_exceeded");
  EXPECT_EQ(header(*r, "x-should-retry"), "true");
  EXPECT_EQ(header(*r, "retry-after"), "1");
  EXPECT_EQ(header(*r, "retry-after-ms"), "1000");
  EXPECT_EQ(header(*r, "x-ratelimit-limit-budget"), "10000");
  EXPECT_EQ(header(*r, "x-ratelimit-remaining-budget"), "9000");
  EXPECT_EQ(header(*r, "x-ratelimit-reset-budget"), "23h0m0s");
  // The refusal asks for more at once.
  EXPECT_TRUE(q_.urgent());
  auto ds = q_.demands();
  const v1::LimitDemand* dm = findDemand(ds, "daily");
  ASSERT_NE(dm, nullptr);
  EXPECT_TRUE(dm->want_more());
  EXPECT_EQ(dm->window_start_ms(), kDayStart);
}

TEST_F(QuotaTest, UsageOfOtherNodesMakesARefusalFinal) {
  LimitDef d = limit("daily", LimitKind::kBudget, 10'000);
  prime({&d});
  grant(d, 1000, /*windowUsed=*/8500);
  Quota::Ticket t;
  ASSERT_FALSE(q_.admit({&d}, t).has_value());
  q_.complete(t, 1000, 0);
  Quota::Ticket t2;
  auto r = q_.admit({&d}, t2);  // 10000 - 8500 - 1000 = 500 left globally
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 429);
  EXPECT_EQ(header(*r, "x-ratelimit-remaining-budget"), "500");

  grant(d, 1000, /*windowUsed=*/9000);  // same window: local consumption counts from here
  Quota::Ticket t3;
  r = q_.admit({&d}, t3);  // nothing left locally; 10000 - 9000 left globally
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 429);
  EXPECT_EQ(header(*r, "x-should-retry"), "true");

  grant(d, 1000, /*windowUsed=*/10'000);
  Quota::Ticket t4;
  r = q_.admit({&d}, t4);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 402);
  EXPECT_EQ(header(*r, "x-should-retry"), "false");
}

// --- tokens

TEST_F(QuotaTest, ATokenLimitReservesTheAverageTokenCount) {
  LimitDef d = limit("tok", LimitKind::kTokens, 1'000'000);
  prime({&d});
  grant(d, 1000);
  Quota::Ticket t1;
  ASSERT_FALSE(q_.admit({&d}, t1).has_value());
  q_.complete(t1, 123'456, 600);  // the cost does not count for tokens
  Quota::Ticket t2;
  ASSERT_FALSE(q_.admit({&d}, t2).has_value());  // 400 left: reserves 600
  Quota::Ticket t3;
  auto r = q_.admit({&d}, t3);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 429);
  EXPECT_EQ(r->error.type, "tokens");
  EXPECT_EQ(r->error.code, "rate_limit_exceeded");
  EXPECT_EQ(header(*r, "x-ratelimit-limit-tokens"), "1000000");
  q_.complete(t2, 0, 0);
}

// --- requests

TEST_F(QuotaTest, ARequestsLimitAdmitsExactlyTheGrantedCount) {
  LimitDef d = limit("rpm", LimitKind::kRequests, 100, "1m");
  prime({&d});
  grant(d, 3, 0, false, kDayStart + kHour, kDayStart + kHour + 60'000);
  Quota::Ticket t1, t2, t3, t4;
  EXPECT_FALSE(q_.admit({&d}, t1).has_value());
  EXPECT_FALSE(q_.admit({&d}, t2).has_value());
  EXPECT_FALSE(q_.admit({&d}, t3).has_value());
  auto r = q_.admit({&d}, t4);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 429);
  EXPECT_EQ(r->error.type, "requests");
  EXPECT_EQ(header(*r, "x-should-retry"), "true");  // 97 left for other nodes
  // Requests are consumed at admission: finishing them gives nothing back.
  q_.complete(t1, 0, 0);
  q_.complete(t2, 0, 0);
  q_.complete(t3, 0, 0);
  EXPECT_FALSE(admitRequest(d));
}

TEST_F(QuotaTest, ARequestsLimitReachedEverywhereIs429WithoutRetry) {
  LimitDef d = limit("rpd", LimitKind::kRequests, 3);
  prime({&d});
  grant(d, 3);
  EXPECT_TRUE(admitRequest(d));
  EXPECT_TRUE(admitRequest(d));
  EXPECT_TRUE(admitRequest(d));
  Quota::Ticket t;
  auto r = q_.admit({&d}, t);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 429);
  EXPECT_EQ(r->error.type, "requests");
  EXPECT_EQ(r->error.code, "rate_limit_exceeded");
  EXPECT_NE(r->error.message.find("resets at 2026-01-02T00:00:00Z"), std::string::npos) << r->error.message;
  EXPECT_EQ(header(*r, "x-should-retry"), "false");
  EXPECT_EQ(header(*r, "retry-after"), "82800");
  EXPECT_EQ(header(*r, "x-ratelimit-limit-requests"), "3");
  EXPECT_EQ(header(*r, "x-ratelimit-remaining-requests"), "0");
}

// --- all or nothing

TEST_F(QuotaTest, ARefusalByOneLimitReleasesWhatTheOthersHeld) {
  LimitDef a = limit("a-requests", LimitKind::kRequests, 100);
  LimitDef c = limit("c-concurrency", LimitKind::kConcurrency, 1);
  LimitDef b = limit("b-requests", LimitKind::kRequests, 100);
  prime({&a, &b, &c});
  v1::UsageReply reply;
  addGrant(reply, a, 1);
  addGrant(reply, c, 1);
  q_.applyReply(reply, steady_);

  Quota::Ticket t;
  auto r = q_.admit({&a, &c, &b}, t);  // b has no allowance yet
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 503);
  EXPECT_TRUE(t.empty());

  grant(b, 10);
  // Needs a's single request and c's single slot: neither was kept by the refusal.
  Quota::Ticket t2;
  ASSERT_FALSE(q_.admit({&a, &c, &b}, t2).has_value());
  EXPECT_FALSE(t2.empty());
  q_.complete(t2, 0, 0);
  EXPECT_FALSE(admitRequest(a));  // and it was counted once
}

TEST_F(QuotaTest, ARefusalByOneLimitReleasesBudgetReservations) {
  LimitDef d = limit("budget", LimitKind::kBudget, 1'000'000);
  LimitDef b = limit("b-requests", LimitKind::kRequests, 100);
  prime({&d, &b});
  grant(d, 1000);
  Quota::Ticket t1;
  ASSERT_FALSE(q_.admit({&d}, t1).has_value());
  q_.complete(t1, 400, 0);  // estimate 400; 600 left

  Quota::Ticket refused;
  ASSERT_TRUE(q_.admit({&d, &b}, refused).has_value());  // b has no allowance

  // 600 left: two requests each reserving 400 fit only if the refused one reserved nothing.
  Quota::Ticket t2, t3;
  EXPECT_FALSE(q_.admit({&d}, t2).has_value());
  EXPECT_FALSE(q_.admit({&d}, t3).has_value());
  q_.complete(t2, 0, 0);
  q_.complete(t3, 0, 0);
}

// --- concurrency

TEST_F(QuotaTest, ConcurrencyAdmitsUpToTheSlotsAndReleasesOnComplete) {
  LimitDef d = limit("conc", LimitKind::kConcurrency, 2);
  prime({&d});
  grant(d, 2);
  Quota::Ticket t1, t2, t3;
  ASSERT_FALSE(q_.admit({&d}, t1).has_value());
  ASSERT_FALSE(q_.admit({&d}, t2).has_value());
  auto r = q_.admit({&d}, t3);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 429);
  EXPECT_EQ(r->error.type, "concurrency");
  EXPECT_EQ(r->error.code, "rate_limit_exceeded");
  EXPECT_EQ(header(*r, "x-should-retry"), "true");
  EXPECT_EQ(header(*r, "x-ratelimit-limit-concurrency"), "2");
  EXPECT_EQ(header(*r, "x-ratelimit-remaining-concurrency"), "0");
  q_.complete(t1, 0, 0);
  ASSERT_FALSE(q_.admit({&d}, t3).has_value());
  Quota::Ticket t4;
  EXPECT_TRUE(q_.admit({&d}, t4).has_value());
  q_.complete(t2, 0, 0);
  q_.complete(t3, 0, 0);
}

TEST_F(QuotaTest, ConcurrencyIsReportedEverySecondWithInFlightAndHonoredSlots) {
  LimitDef d = limit("conc", LimitKind::kConcurrency, 4);
  prime({&d});
  grant(d, 2);
  Quota::Ticket t;
  ASSERT_FALSE(q_.admit({&d}, t).has_value());
  EXPECT_TRUE(q_.demands().empty());  // asked less than a second ago
  steady_ += 1000;
  auto ds = q_.demands();
  const v1::LimitDemand* dm = findDemand(ds, "conc");
  ASSERT_NE(dm, nullptr);
  EXPECT_EQ(dm->in_flight(), 1);
  EXPECT_EQ(dm->honored(), 2);
  EXPECT_EQ(dm->window_start_ms(), 0);
  q_.complete(t, 0, 0);
}

// --- grant lifetime and windows

TEST_F(QuotaTest, AGrantExpiresAfterItsTtl) {
  LimitDef d = limit("rpd", LimitKind::kRequests, 100);
  prime({&d});
  int64_t sent = steady_;
  grant(d, 50);
  EXPECT_TRUE(admitRequest(d));
  steady_ = sent + kTtl - 1;
  EXPECT_TRUE(admitRequest(d));
  steady_ = sent + kTtl;
  Quota::Ticket t;
  auto r = q_.admit({&d}, t);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 503);
  EXPECT_EQ(r->error.code, "quota_unavailable");
  auto ds = q_.demands();
  const v1::LimitDemand* dm = findDemand(ds, "rpd");
  ASSERT_NE(dm, nullptr);
  EXPECT_TRUE(dm->want_more());
}

TEST_F(QuotaTest, AGrantInUseIsRenewedBeforeItExpires) {
  LimitDef d = limit("rpd", LimitKind::kRequests, 100);
  prime({&d});
  int64_t sent = steady_;
  grant(d, 50);
  EXPECT_TRUE(admitRequest(d));
  steady_ = sent + kTtl / 2 - 1000;
  EXPECT_TRUE(q_.demands().empty());  // more than half the ttl left
  steady_ = sent + kTtl / 2 + 1;
  auto ds = q_.demands();
  const v1::LimitDemand* dm = findDemand(ds, "rpd");
  ASSERT_NE(dm, nullptr);
  EXPECT_FALSE(dm->want_more());
  EXPECT_FALSE(dm->idle());
  EXPECT_EQ(dm->window_start_ms(), kDayStart);
}

TEST_F(QuotaTest, AnUnusedGrantIsRenewedAsIdle) {
  LimitDef d = limit("rpd", LimitKind::kRequests, 100);
  prime({&d});
  int64_t sent = steady_;
  grant(d, 50);
  steady_ = sent + kTtl / 2 + 1;
  auto ds = q_.demands();
  const v1::LimitDemand* dm = findDemand(ds, "rpd");
  ASSERT_NE(dm, nullptr);
  EXPECT_TRUE(dm->idle());
  EXPECT_FALSE(dm->want_more());
}

TEST_F(QuotaTest, AShortenedGrantIsNeverExtended) {
  LimitDef d = limit("rpd", LimitKind::kRequests, 100);
  prime({&d});
  int64_t sent = steady_;
  grant(d, 50);  // valid until sent + kTtl
  // The control plane lets the grant lapse: a renewal comes back with less than a full ttl.
  steady_ = sent + 20'000;
  v1::UsageReply reply;
  addGrant(reply, d, 50);
  reply.mutable_grants(0)->set_ttl_ms(20'000);
  q_.applyReply(reply, steady_);
  steady_ = sent + kTtl - 1;
  EXPECT_TRUE(admitRequest(d));
  steady_ = sent + kTtl;
  Quota::Ticket t;
  auto r = q_.admit({&d}, t);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 503);
}

TEST_F(QuotaTest, TheEndOfTheWindowEndsTheGrantAndAsksForTheNext) {
  LimitDef d = limit("rpd", LimitKind::kRequests, 100);
  prime({&d});
  grant(d, 50);
  EXPECT_TRUE(admitRequest(d));
  EXPECT_TRUE(q_.demands().empty());
  wall_ = kDayStart + kDay;
  auto ds = q_.demands();
  const v1::LimitDemand* dm = findDemand(ds, "rpd");
  ASSERT_NE(dm, nullptr);
  EXPECT_EQ(dm->window_start_ms(), kDayStart);
  Quota::Ticket t;
  auto r = q_.admit({&d}, t);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 503);
  EXPECT_EQ(r->error.code, "quota_unavailable");
  ds = q_.demands();
  dm = findDemand(ds, "rpd");
  ASSERT_NE(dm, nullptr);
  EXPECT_TRUE(dm->want_more());
}

TEST_F(QuotaTest, AGrantForANewWindowStartsLocalConsumptionAfresh) {
  LimitDef d = limit("rpd", LimitKind::kRequests, 100);
  prime({&d});
  grant(d, 2);
  EXPECT_TRUE(admitRequest(d));
  EXPECT_TRUE(admitRequest(d));
  EXPECT_FALSE(admitRequest(d));
  wall_ = kDayStart + kDay + kHour;
  grant(d, 2, 0, false, kDayStart + kDay, kDayStart + 2 * kDay);
  EXPECT_TRUE(admitRequest(d));
  EXPECT_TRUE(admitRequest(d));
  EXPECT_FALSE(admitRequest(d));
}

TEST_F(QuotaTest, ALargerGrantInTheSameWindowAddsOnlyTheDifference) {
  LimitDef d = limit("rpd", LimitKind::kRequests, 100);
  prime({&d});
  grant(d, 2);
  EXPECT_TRUE(admitRequest(d));
  EXPECT_TRUE(admitRequest(d));
  EXPECT_FALSE(admitRequest(d));
  grant(d, 4);  // cumulative for the window
  EXPECT_TRUE(admitRequest(d));
  EXPECT_TRUE(admitRequest(d));
  EXPECT_FALSE(admitRequest(d));
}

TEST_F(QuotaTest, WantMoreIsSetWhenTheAllowanceFallsToHalfTheLastIncrement) {
  LimitDef d = limit("rpd", LimitKind::kRequests, 100);
  int wakeups = 0;
  q_.setOnUrgent([&wakeups] { ++wakeups; });
  prime({&d});
  grant(d, 4);
  EXPECT_TRUE(q_.demands().empty());
  EXPECT_TRUE(admitRequest(d));  // 3 left
  EXPECT_FALSE(q_.urgent());
  EXPECT_TRUE(q_.demands().empty());
  EXPECT_EQ(wakeups, 0);
  EXPECT_TRUE(admitRequest(d));  // 2 left: half of 4
  EXPECT_TRUE(q_.urgent());
  EXPECT_EQ(wakeups, 1);
  auto ds = q_.demands();
  const v1::LimitDemand* dm = findDemand(ds, "rpd");
  ASSERT_NE(dm, nullptr);
  EXPECT_TRUE(dm->want_more());
  EXPECT_EQ(dm->window_start_ms(), kDayStart);
  EXPECT_FALSE(q_.urgent());
}

// --- config changes

TEST_F(QuotaTest, UnknownLimitsInAReplyAreDropped) {
  LimitDef d = limit("gone", LimitKind::kRequests, 100);
  prime({&d});
  grant(d, 10);
  EXPECT_TRUE(admitRequest(d));
  v1::UsageReply reply;
  reply.add_unknown_limits("gone");
  q_.applyReply(reply, steady_);
  auto ds = q_.demands();
  EXPECT_EQ(findDemand(ds, "gone"), nullptr);
  Quota::Ticket t;
  auto r = q_.admit({&d}, t);  // its grant went with it
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 503);
}

TEST_F(QuotaTest, SyncDropsLimitsNoLongerConfigured) {
  LimitDef a = limit("a", LimitKind::kRequests, 100);
  LimitDef b = limit("b", LimitKind::kBudget, 1000);
  q_.sync({&a, &b});
  auto ds = q_.demands();
  EXPECT_NE(findDemand(ds, "a"), nullptr);
  EXPECT_NE(findDemand(ds, "b"), nullptr);
  v1::UsageReply reply;
  addGrant(reply, a, 10);
  addGrant(reply, b, 500);
  q_.applyReply(reply, steady_);
  Quota::Ticket inFlight;
  ASSERT_FALSE(q_.admit({&b}, inFlight).has_value());

  q_.sync({&a});
  q_.complete(inFlight, 100, 0);  // a request admitted before the change finishes safely
  q_.unsent(ds);
  auto after = q_.demands();
  EXPECT_NE(findDemand(after, "a"), nullptr);
  EXPECT_EQ(findDemand(after, "b"), nullptr);
  EXPECT_TRUE(admitRequest(a));  // a keeps its grant
  Quota::Ticket t;
  auto r = q_.admit({&b}, t);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 503);
}

TEST_F(QuotaTest, SyncKeepsTheGrantUnlessTheWindowChanges) {
  LimitDef d = limit("rl", LimitKind::kRequests, 100);
  prime({&d});
  grant(d, 10);
  EXPECT_TRUE(admitRequest(d));
  LimitDef raised = d;
  raised.amount = 200;
  q_.sync({&raised});
  EXPECT_TRUE(admitRequest(raised));
  LimitDef hourly = limit("rl", LimitKind::kRequests, 200, "1h");
  q_.sync({&hourly});
  Quota::Ticket t;
  auto r = q_.admit({&hourly}, t);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error.status, 503);
  auto ds = q_.demands();
  const v1::LimitDemand* dm = findDemand(ds, "rl");
  ASSERT_NE(dm, nullptr);
  EXPECT_EQ(dm->window_start_ms(), 0);
}

}  // namespace
}  // namespace finops::dp
