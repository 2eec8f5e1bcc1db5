// The control plane's governance state: customers, teams and keys; budgets and rate limits;
// usage records applied exactly once; allowances granted to data planes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "controlplane/store/store.h"
#include "finops/v1/usage.pb.h"

namespace finops::cp {
namespace {

namespace v1 = finops::v1;

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kDayStart = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

#define EXPECT_STORE_ERROR(stmt, expected)                                              \
  do {                                                                                  \
    try {                                                                               \
      stmt;                                                                             \
      ADD_FAILURE() << "expected a StoreError from: " #stmt;                            \
    } catch (const StoreError& e) {                                                     \
      EXPECT_EQ(e.code(), StoreError::Code::expected) << #stmt << ": " << e.what();     \
    }                                                                                   \
  } while (0)

LimitSpec limitSpec(const std::string& ownerKind, const std::string& owner, const std::string& kind,
                    int64_t amount, const std::string& window, const std::string& provider = "",
                    const std::string& name = "") {
  LimitSpec l;
  l.ownerKind = ownerKind;
  l.owner = owner;
  l.provider = provider;
  l.name = name;
  l.kind = kind;
  l.amount = amount;
  l.window = window;
  l.calendar = true;
  return l;
}

v1::UsageRecord record(const std::string& requestId, int64_t tsMs, const std::string& keyId,
                       int64_t costNano, int64_t prompt = 10, int64_t completion = 5,
                       const std::string& provider = "openai",
                       const std::string& model = "openai/gpt-4o-mini") {
  v1::UsageRecord r;
  r.set_request_id(requestId);
  r.set_ts_ms(tsMs);
  r.set_key_id(keyId);
  r.set_provider(provider);
  r.set_model(model);
  r.set_prompt_tokens(prompt);
  r.set_completion_tokens(completion);
  r.set_cost_nano(costNano);
  r.set_priced(true);
  r.set_status(200);
  r.set_outcome("ok");
  return r;
}

class GovernanceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("finops-governance-" + randomId(""));
    store_ = std::make_unique<Store>((dir_ / "finops.db").string());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  Store& s() { return *store_; }

  VirtualKeyRow makeKey(const std::string& name, const std::string& team = "",
                        const std::string& customer = "") {
    KeySpec spec;
    spec.name = name;
    spec.team = team;
    spec.customer = customer;
    return s().createKey(spec).first;
  }

  v1::UsageReply send(const std::string& node, const std::vector<v1::UsageRecord>& records,
                      int64_t nowMs) {
    v1::UsageReport rep;
    rep.set_node_id(node);
    rep.set_node_name(node);
    for (const auto& r : records) *rep.add_records() = r;
    return s().applyReport(rep, nowMs);
  }

  // One demand for `limitId` from `node` at `nowMs`; returns its grant.
  v1::Grant demand(const std::string& node, const std::string& limitId, int64_t nowMs,
                   bool wantMore = false, int64_t windowStartMs = 0, int64_t inFlight = 0,
                   int64_t honored = 0) {
    v1::UsageReport rep;
    rep.set_node_id(node);
    rep.set_node_name(node);
    v1::LimitDemand* d = rep.add_demands();
    d->set_limit_id(limitId);
    d->set_window_start_ms(windowStartMs);
    d->set_want_more(wantMore);
    d->set_in_flight(inFlight);
    d->set_honored(honored);
    v1::UsageReply reply = s().applyReport(rep, nowMs);
    for (const auto& g : reply.grants())
      if (g.limit_id() == limitId) return g;
    ADD_FAILURE() << "no grant for " << limitId;
    return v1::Grant();
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

const UsageAgg* findRow(const std::vector<UsageAgg>& rows, const std::string& dim, const std::string& value) {
  for (const auto& r : rows) {
    auto it = r.group.find(dim);
    if (it != r.group.end() && it->second == value) return &r;
  }
  return nullptr;
}

// --- customers, teams, keys

TEST_F(GovernanceStoreTest, CustomersCreateGetRenameAndDelete) {
  CustomerRow c = s().createCustomer("acme");
  EXPECT_TRUE(c.id.starts_with("cus_"));
  EXPECT_EQ(c.name, "acme");
  EXPECT_EQ(s().getCustomer("acme").id, c.id);
  EXPECT_EQ(s().getCustomer(c.id).name, "acme");
  s().createCustomer("globex");
  EXPECT_EQ(s().listCustomers().size(), 2u);

  CustomerRow renamed = s().renameCustomer("acme", "acme-corp");
  EXPECT_EQ(renamed.id, c.id);
  EXPECT_EQ(s().getCustomer("acme-corp").id, c.id);
  EXPECT_STORE_ERROR(s().getCustomer("acme"), kNotFound);

  s().deleteCustomer(c.id);
  EXPECT_STORE_ERROR(s().getCustomer(c.id), kNotFound);
  EXPECT_EQ(s().listCustomers().size(), 1u);
}

TEST_F(GovernanceStoreTest, CustomerErrors) {
  s().createCustomer("acme");
  s().createCustomer("globex");
  EXPECT_STORE_ERROR(s().createCustomer("acme"), kAlreadyExists);
  EXPECT_STORE_ERROR(s().renameCustomer("globex", "acme"), kAlreadyExists);
  EXPECT_STORE_ERROR(s().createCustomer(""), kInvalidArgument);
  EXPECT_STORE_ERROR(s().createCustomer(std::string(129, 'x')), kInvalidArgument);
  EXPECT_STORE_ERROR(s().createCustomer("bad\nname"), kInvalidArgument);
  EXPECT_STORE_ERROR(s().getCustomer("nobody"), kNotFound);
  EXPECT_STORE_ERROR(s().deleteCustomer("nobody"), kNotFound);
}

TEST_F(GovernanceStoreTest, TeamsBelongToAtMostOneCustomer) {
  CustomerRow acme = s().createCustomer("acme");
  TeamRow platform = s().createTeam("platform", "acme");
  EXPECT_TRUE(platform.id.starts_with("team_"));
  EXPECT_EQ(platform.customerId, acme.id);
  EXPECT_EQ(platform.customerName, "acme");
  TeamRow solo = s().createTeam("solo", "");
  EXPECT_EQ(solo.customerId, "");

  auto acmeTeams = s().listTeams("acme");
  ASSERT_EQ(acmeTeams.size(), 1u);
  EXPECT_EQ(acmeTeams[0].id, platform.id);
  EXPECT_EQ(s().listTeams("").size(), 2u);
  EXPECT_EQ(s().getCustomer("acme").teams, 1);

  TeamRow moved = s().updateTeam("solo", std::nullopt, std::string("acme"));
  EXPECT_EQ(moved.customerId, acme.id);
  TeamRow detached = s().updateTeam("solo", std::string("solo-2"), std::string(""));
  EXPECT_EQ(detached.customerId, "");
  EXPECT_EQ(detached.name, "solo-2");
  EXPECT_EQ(s().getTeam(solo.id).name, "solo-2");
}

TEST_F(GovernanceStoreTest, TeamErrors) {
  s().createCustomer("acme");
  s().createTeam("platform", "acme");
  s().createTeam("data", "");
  EXPECT_STORE_ERROR(s().createTeam("platform", ""), kAlreadyExists);
  EXPECT_STORE_ERROR(s().updateTeam("data", std::string("platform"), std::nullopt), kAlreadyExists);
  EXPECT_STORE_ERROR(s().createTeam("new", "nobody"), kNotFound);
  EXPECT_STORE_ERROR(s().createTeam("", ""), kInvalidArgument);
  EXPECT_STORE_ERROR(s().getTeam("nobody"), kNotFound);
  EXPECT_STORE_ERROR(s().listTeams("nobody"), kNotFound);
}

TEST_F(GovernanceStoreTest, AKeyBelongsToATeamOrACustomerNotBoth) {
  CustomerRow acme = s().createCustomer("acme");
  TeamRow platform = s().createTeam("platform", "acme");

  VirtualKeyRow k1 = makeKey("k1", "platform");
  EXPECT_EQ(k1.teamId, platform.id);
  EXPECT_EQ(k1.teamName, "platform");
  EXPECT_EQ(k1.customerId, "");
  EXPECT_EQ(k1.effectiveCustomerId, acme.id);
  EXPECT_EQ(k1.effectiveCustomerName, "acme");

  VirtualKeyRow k2 = makeKey("k2", "", "acme");
  EXPECT_EQ(k2.teamId, "");
  EXPECT_EQ(k2.customerId, acme.id);
  EXPECT_EQ(k2.effectiveCustomerId, acme.id);

  KeySpec both;
  both.name = "k3";
  both.team = "platform";
  both.customer = "acme";
  EXPECT_STORE_ERROR(s().createKey(both), kInvalidArgument);
  KeySpec unknownTeam;
  unknownTeam.name = "k4";
  unknownTeam.team = "nobody";
  EXPECT_STORE_ERROR(s().createKey(unknownTeam), kNotFound);

  EXPECT_EQ(s().getTeam("platform").keys, 1);
  EXPECT_EQ(s().getCustomer("acme").keys, 2);  // its own key and its team's
}

TEST_F(GovernanceStoreTest, KeyNamesAreUniqueAmongLiveKeys) {
  VirtualKeyRow k = makeKey("ci");
  KeySpec again;
  again.name = "ci";
  EXPECT_STORE_ERROR(s().createKey(again), kAlreadyExists);
  s().revokeKey(k.id);
  VirtualKeyRow k2 = makeKey("ci");
  EXPECT_NE(k2.id, k.id);
  EXPECT_EQ(s().getKey("ci").id, k2.id);  // a name finds the live key
  EXPECT_EQ(s().getKey(k.id).status, "revoked");
}

TEST_F(GovernanceStoreTest, UpdatingAKeysOwnerMovesIt) {
  CustomerRow acme = s().createCustomer("acme");
  TeamRow platform = s().createTeam("platform", "");
  makeKey("k1", "platform");

  KeyPatch toCustomer;
  toCustomer.customer = "acme";
  VirtualKeyRow moved = s().updateKey("k1", toCustomer);
  EXPECT_EQ(moved.customerId, acme.id);
  EXPECT_EQ(moved.teamId, "");  // attaching to a customer detaches from the team

  KeyPatch both;
  both.team = "platform";
  both.customer = "acme";
  EXPECT_STORE_ERROR(s().updateKey("k1", both), kInvalidArgument);

  KeyPatch toTeam;
  toTeam.team = "platform";
  VirtualKeyRow back = s().updateKey("k1", toTeam);
  EXPECT_EQ(back.teamId, platform.id);
  EXPECT_EQ(back.customerId, "");

  KeyPatch detach;
  detach.team = "";
  VirtualKeyRow alone = s().updateKey("k1", detach);
  EXPECT_EQ(alone.teamId, "");
  EXPECT_EQ(alone.customerId, "");
}

TEST_F(GovernanceStoreTest, KeyRulesAndExpiryAreStored) {
  KeySpec spec;
  spec.name = "ruled";
  spec.expiresAt = 1'800'000'000;
  spec.allowedProviders = {"openai"};
  spec.allowedModels = {"anthropic/claude-*", "gpt-4o*"};
  VirtualKeyRow k = s().createKey(spec).first;
  ASSERT_TRUE(k.expiresAt.has_value());
  EXPECT_EQ(*k.expiresAt, 1'800'000'000);
  EXPECT_EQ(k.allowedProviders, std::vector<std::string>{"openai"});
  EXPECT_EQ(k.allowedModels, (std::vector<std::string>{"anthropic/claude-*", "gpt-4o*"}));

  KeyPatch clear;
  clear.expiresAt.emplace();  // set to "never"
  clear.allowedModels = std::vector<std::string>{};
  VirtualKeyRow cleared = s().updateKey("ruled", clear);
  EXPECT_FALSE(cleared.expiresAt.has_value());
  EXPECT_TRUE(cleared.allowedModels.empty());
  EXPECT_EQ(cleared.allowedProviders, std::vector<std::string>{"openai"});
}

TEST_F(GovernanceStoreTest, KeyRulesAreValidated) {
  KeySpec glob;
  glob.name = "g";
  glob.allowedProviders = {"open*"};
  EXPECT_STORE_ERROR(s().createKey(glob), kInvalidArgument);
  KeySpec slash;
  slash.name = "s";
  slash.allowedProviders = {"openai/gpt-4o"};
  EXPECT_STORE_ERROR(s().createKey(slash), kInvalidArgument);
  KeySpec emptyModel;
  emptyModel.name = "e";
  emptyModel.allowedModels = {""};
  EXPECT_STORE_ERROR(s().createKey(emptyModel), kInvalidArgument);
}

TEST_F(GovernanceStoreTest, KeysCanBeCreatedDisabledAndDisabledAndEnabledAgain) {
  KeySpec off;
  off.name = "off";
  off.disabled = true;
  EXPECT_EQ(s().createKey(off).first.status, "disabled");

  makeKey("k1");
  KeyPatch disable;
  disable.status = "disabled";
  EXPECT_EQ(s().updateKey("k1", disable).status, "disabled");
  KeyPatch enable;
  enable.status = "active";
  EXPECT_EQ(s().updateKey("k1", enable).status, "active");

  KeyPatch revoke;
  revoke.status = "revoked";  // revocation has its own call
  EXPECT_STORE_ERROR(s().updateKey("k1", revoke), kInvalidArgument);
}

TEST_F(GovernanceStoreTest, ATeamWithKeysCannotBeDeleted) {
  TeamRow t = s().createTeam("platform", "");
  VirtualKeyRow k = makeKey("k1", "platform");
  EXPECT_STORE_ERROR(s().deleteTeam("platform"), kInvalidArgument);
  s().revokeKey(k.id);
  s().deleteTeam("platform");
  EXPECT_STORE_ERROR(s().getTeam(t.id), kNotFound);
}

TEST_F(GovernanceStoreTest, ACustomerWithTeamsOrKeysCannotBeDeleted) {
  s().createCustomer("acme");
  s().createTeam("platform", "acme");
  EXPECT_STORE_ERROR(s().deleteCustomer("acme"), kInvalidArgument);
  s().deleteTeam("platform");
  VirtualKeyRow k = makeKey("k1", "", "acme");
  EXPECT_STORE_ERROR(s().deleteCustomer("acme"), kInvalidArgument);
  s().deleteKey(k.id);
  s().deleteCustomer("acme");
  EXPECT_TRUE(s().listCustomers().empty());
}

// --- limits

TEST_F(GovernanceStoreTest, CreateLimitStoresTheSpec) {
  makeKey("k1");
  LimitRow budget = s().createLimit(limitSpec("key", "k1", "budget", 5'000'000'000, "1d"));
  EXPECT_TRUE(budget.id.starts_with("lim_"));
  EXPECT_EQ(budget.name, "budget-1d");  // default name
  EXPECT_EQ(budget.ownerKind, "key");
  EXPECT_EQ(budget.ownerName, "k1");
  EXPECT_EQ(budget.kind, "budget");
  EXPECT_EQ(budget.amount, 5'000'000'000);
  EXPECT_EQ(budget.window, "1d");
  EXPECT_TRUE(budget.calendar);
  EXPECT_EQ(budget.provider, "");

  // The same name for one provider is another limit.
  LimitRow openai = s().createLimit(limitSpec("key", "k1", "budget", 1'000'000'000, "1d", "openai"));
  EXPECT_EQ(openai.provider, "openai");
  EXPECT_EQ(openai.name, "budget-1d");

  LimitRow conc = s().createLimit(limitSpec("key", "k1", "concurrency", 4, ""));
  EXPECT_EQ(conc.name, "concurrency");
  EXPECT_EQ(conc.window, "");
  EXPECT_EQ(s().listLimits("key", "k1", {}).size(), 3u);
  EXPECT_EQ(s().listLimits("key", "k1", {"budget"}).size(), 2u);
}

TEST_F(GovernanceStoreTest, CreateLimitRefusesInvalidSpecs) {
  makeKey("k1");
  s().createTeam("platform", "");
  EXPECT_STORE_ERROR(s().createLimit(limitSpec("key", "k1", "budget", 1000, "1x")), kInvalidArgument);
  EXPECT_STORE_ERROR(s().createLimit(limitSpec("key", "k1", "budget", 1000, "")), kInvalidArgument);
  EXPECT_STORE_ERROR(s().createLimit(limitSpec("key", "k1", "requests", 10, "0d")), kInvalidArgument);
  EXPECT_STORE_ERROR(s().createLimit(limitSpec("key", "k1", "concurrency", 4, "1m")), kInvalidArgument);
  EXPECT_STORE_ERROR(s().createLimit(limitSpec("key", "k1", "concurrency", 0, "")), kInvalidArgument);
  EXPECT_STORE_ERROR(s().createLimit(limitSpec("key", "k1", "budget", -1, "1d")), kInvalidArgument);
  EXPECT_STORE_ERROR(s().createLimit(limitSpec("key", "k1", "dollars", 1000, "1d")), kInvalidArgument);
  EXPECT_STORE_ERROR(s().createLimit(limitSpec("org", "k1", "budget", 1000, "1d")), kInvalidArgument);
  EXPECT_STORE_ERROR(s().createLimit(limitSpec("team", "platform", "budget", 1000, "1d", "openai")),
                     kInvalidArgument);
  EXPECT_STORE_ERROR(s().createLimit(limitSpec("key", "nobody", "budget", 1000, "1d")), kNotFound);
  EXPECT_STORE_ERROR(s().createLimit(limitSpec("team", "nobody", "budget", 1000, "1d")), kNotFound);
  s().createLimit(limitSpec("key", "k1", "budget", 1000, "1d", "", "daily"));
  EXPECT_STORE_ERROR(s().createLimit(limitSpec("key", "k1", "budget", 2000, "1w", "", "daily")),
                     kAlreadyExists);
  EXPECT_EQ(s().listLimits("", "", {}).size(), 1u);
}

// --- usage records

TEST_F(GovernanceStoreTest, ARecordIsAppliedOnceEvenIfSentTwice) {
  VirtualKeyRow k = makeKey("k1");
  LimitRow l = s().createLimit(limitSpec("key", "k1", "budget", 1'000'000'000, "1d"));
  int64_t now = kDayStart + kHour;
  auto r1 = record("req-1", now - 1000, k.id, 1000);

  v1::UsageReply first = send("n1", {r1}, now);
  EXPECT_EQ(first.accepted(), 1);
  EXPECT_EQ(first.applied(), 1);
  v1::UsageReply again = send("n1", {r1}, now + 100);
  EXPECT_EQ(again.accepted(), 1);
  EXPECT_EQ(again.applied(), 0);
  v1::UsageReply otherNode = send("n2", {r1}, now + 200);
  EXPECT_EQ(otherNode.applied(), 0);
  v1::UsageReply twiceInOne = send("n1", {record("req-2", now, k.id, 500), record("req-2", now, k.id, 500)}, now + 300);
  EXPECT_EQ(twiceInOne.accepted(), 2);
  EXPECT_EQ(twiceInOne.applied(), 1);

  UsageAgg total;
  s().queryUsage(UsageFilter{.fromMs = kDayStart, .toMs = kDayStart + kDay}, &total);
  EXPECT_EQ(total.requests, 2);
  EXPECT_EQ(total.costNano, 1500);
  EXPECT_EQ(demand("n1", l.id, now + 400).window_used(), 1500);
}

TEST_F(GovernanceStoreTest, AReportNeedsANodeId) {
  v1::UsageReport rep;
  EXPECT_STORE_ERROR(s().applyReport(rep, kDayStart), kInvalidArgument);
}

TEST_F(GovernanceStoreTest, LimitUsageCountsEachRecordInItsWindow) {
  VirtualKeyRow k = makeKey("k1");
  LimitRow daily = s().createLimit(limitSpec("key", "k1", "budget", 1'000'000'000, "1d"));
  LimitRow hourly = s().createLimit(limitSpec("key", "k1", "budget", 1'000'000'000, "1h"));
  LimitRow tokens = s().createLimit(limitSpec("key", "k1", "tokens", 1'000'000, "1d"));
  LimitRow requests = s().createLimit(limitSpec("key", "k1", "requests", 1000, "1d"));
  LimitRow conc = s().createLimit(limitSpec("key", "k1", "concurrency", 4, ""));
  send("n1",
       {record("r1", kDayStart + kHour + 600'000, k.id, 1000, 10, 5),
        record("r2", kDayStart + 2 * kHour + 300'000, k.id, 2000, 20, 10),
        record("r3", kDayStart - kHour, k.id, 5000, 1, 1)},  // the day before
       kDayStart + 2 * kHour + 1'800'000);

  int64_t now = kDayStart + 2 * kHour + 1'800'000;
  v1::Grant g = demand("n1", daily.id, now);
  EXPECT_EQ(g.window_start_ms(), kDayStart);
  EXPECT_EQ(g.window_end_ms(), kDayStart + kDay);
  EXPECT_EQ(g.window_used(), 3000);
  g = demand("n1", hourly.id, now);
  EXPECT_EQ(g.window_start_ms(), kDayStart + 2 * kHour);
  EXPECT_EQ(g.window_used(), 2000);
  EXPECT_EQ(demand("n1", tokens.id, now).window_used(), 45);
  EXPECT_EQ(demand("n1", requests.id, now).window_used(), 2);
  EXPECT_EQ(demand("n1", conc.id, now).window_used(), 0);  // in flight, not a sum of records

  g = demand("n1", daily.id, kDayStart - 1'800'000);
  EXPECT_EQ(g.window_start_ms(), kDayStart - kDay);
  EXPECT_EQ(g.window_used(), 5000);
}

TEST_F(GovernanceStoreTest, AProviderLimitCountsOnlyThatProvider) {
  VirtualKeyRow k = makeKey("k1");
  LimitRow all = s().createLimit(limitSpec("key", "k1", "budget", 1'000'000'000, "1d"));
  LimitRow anthropic = s().createLimit(limitSpec("key", "k1", "budget", 1'000'000'000, "1d", "anthropic"));
  int64_t now = kDayStart + kHour;
  send("n1",
       {record("r1", now, k.id, 1000, 10, 5, "openai", "openai/gpt-4o"),
        record("r2", now, k.id, 700, 10, 5, "anthropic", "anthropic/claude-sonnet-4")},
       now);
  EXPECT_EQ(demand("n1", all.id, now).window_used(), 1700);
  EXPECT_EQ(demand("n1", anthropic.id, now).window_used(), 700);
}

TEST_F(GovernanceStoreTest, TeamAndCustomerBudgetsCountTheirKeys) {
  CustomerRow acme = s().createCustomer("acme");
  TeamRow platform = s().createTeam("platform", "acme");
  VirtualKeyRow k1 = makeKey("k1", "platform");
  VirtualKeyRow k2 = makeKey("k2", "", "acme");
  VirtualKeyRow k3 = makeKey("k3");
  LimitRow team = s().createLimit(limitSpec("team", "platform", "budget", 1'000'000'000, "1d"));
  LimitRow customer = s().createLimit(limitSpec("customer", "acme", "budget", 1'000'000'000, "1d"));
  int64_t now = kDayStart + kHour;
  auto r1 = record("r1", now, k1.id, 1000);
  r1.set_team_id(platform.id);
  r1.set_customer_id(acme.id);
  auto r2 = record("r2", now, k2.id, 500);
  r2.set_customer_id(acme.id);
  auto r3 = record("r3", now, k3.id, 9000);
  send("n1", {r1, r2, r3}, now);
  EXPECT_EQ(demand("n1", team.id, now).window_used(), 1000);
  EXPECT_EQ(demand("n1", customer.id, now).window_used(), 1500);
}

TEST_F(GovernanceStoreTest, ALimitCreatedAfterRecordsCountsThem) {
  VirtualKeyRow k = makeKey("k1");
  int64_t now = kDayStart + kHour;
  send("n1", {record("r1", now - 2000, k.id, 1000), record("r2", now - 1000, k.id, 2500)}, now);
  LimitRow budget = s().createLimit(limitSpec("key", "k1", "budget", 1'000'000'000, "1d"));
  LimitRow requests = s().createLimit(limitSpec("key", "k1", "requests", 100, "1d"));
  EXPECT_EQ(demand("n1", budget.id, now).window_used(), 3500);
  EXPECT_EQ(demand("n1", requests.id, now).window_used(), 2);
  // And later records add to it.
  send("n1", {record("r3", now + 1000, k.id, 500)}, now + 1000);
  EXPECT_EQ(demand("n1", budget.id, now + 1000).window_used(), 4000);
}

// --- grants

TEST_F(GovernanceStoreTest, ASingleNodesFirstDemandGetsHalfOfWhatIsLeft) {
  VirtualKeyRow k = makeKey("k1");
  LimitRow l = s().createLimit(limitSpec("key", "k1", "budget", 1'000'000, "1d"));
  int64_t now = kDayStart + 2 * kHour;
  send("n1", {record("r1", kDayStart + kHour, k.id, 150'000), record("r2", kDayStart + kHour, k.id, 50'000)},
       now);
  v1::Grant g = demand("n1", l.id, now);
  EXPECT_EQ(g.limit_id(), l.id);
  EXPECT_EQ(g.granted(), 400'000);  // (1'000'000 - 200'000) / 2
  EXPECT_EQ(g.window_used(), 200'000);
  EXPECT_EQ(g.window_start_ms(), kDayStart);
  EXPECT_EQ(g.window_end_ms(), kDayStart + kDay);
  EXPECT_EQ(g.ttl_ms(), GrantPolicy().ttlMs);
  EXPECT_FALSE(g.exhausted());
}

TEST_F(GovernanceStoreTest, TheFirstChunkIsSplitAmongActiveNodes) {
  makeKey("k1");
  LimitRow l = s().createLimit(limitSpec("key", "k1", "budget", 1'000'000, "1d"));
  int64_t now = kDayStart + kHour;
  send("n2", {}, now);  // another data plane is reporting
  EXPECT_EQ(demand("n1", l.id, now).granted(), 250'000);  // 1'000'000 / (2 * 2)
}

TEST_F(GovernanceStoreTest, WantMoreGrantsAnotherChunk) {
  makeKey("k1");
  LimitRow l = s().createLimit(limitSpec("key", "k1", "budget", 1'000'000, "1d"));
  int64_t now = kDayStart + kHour;
  v1::Grant g = demand("n1", l.id, now);
  EXPECT_EQ(g.granted(), 500'000);
  // A renewal without want_more keeps the allowance as it is.
  g = demand("n1", l.id, now + 100, false, g.window_start_ms());
  EXPECT_EQ(g.granted(), 500'000);
  // want_more: half of the 500'000 not yet granted is added (grants are cumulative).
  g = demand("n1", l.id, now + 200, true, g.window_start_ms());
  EXPECT_EQ(g.granted(), 750'000);
}

TEST_F(GovernanceStoreTest, ASpentBudgetIsGrantedNothingAndMarkedExhausted) {
  VirtualKeyRow k = makeKey("k1");
  LimitRow l = s().createLimit(limitSpec("key", "k1", "budget", 1000, "1d"));
  int64_t now = kDayStart + kHour;
  send("n1", {record("r1", now, k.id, 1000)}, now);
  v1::Grant g = demand("n1", l.id, now, true);
  EXPECT_EQ(g.granted(), 0);
  EXPECT_EQ(g.window_used(), 1000);
  EXPECT_TRUE(g.exhausted());
}

TEST_F(GovernanceStoreTest, OutstandingGrantsNeverExceedWhatIsLeft) {
  VirtualKeyRow k = makeKey("k1");
  const int64_t amount = 10'000'000;
  LimitRow l = s().createLimit(limitSpec("key", "k1", "budget", amount, "1d"));
  struct Node {
    std::string id;
    int64_t granted = 0, consumed = 0, windowStart = 0;
  };
  std::vector<Node> nodes(2);
  nodes[0].id = "n1";
  nodes[1].id = "n2";
  std::mt19937_64 rng(20260101);
  int64_t now = kDayStart + kHour, used = 0;
  int seq = 0;
  for (int step = 0; step < 400; ++step) {
    now += static_cast<int64_t>(rng() % 100);
    Node& n = nodes[rng() % 2];
    v1::UsageReport rep;
    rep.set_node_id(n.id);
    int added = 0;
    int wanted = static_cast<int>(rng() % 4);
    for (int i = 0; i < wanted; ++i) {
      int64_t left = n.granted - n.consumed;  // the data plane spends only its allowance
      if (left <= 0) break;
      int64_t cost = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(left));
      *rep.add_records() = record("r" + std::to_string(seq++), now, k.id, cost);
      n.consumed += cost;
      used += cost;
      ++added;
    }
    bool ask = rng() % 3 != 0;
    if (ask) {
      v1::LimitDemand* d = rep.add_demands();
      d->set_limit_id(l.id);
      d->set_window_start_ms(n.windowStart);
      d->set_want_more(rng() % 2 == 0);
    }
    v1::UsageReply reply = s().applyReport(rep, now);
    ASSERT_EQ(reply.applied(), added) << "step " << step;
    if (ask) {
      ASSERT_EQ(reply.grants_size(), 1) << "step " << step;
      const v1::Grant& g = reply.grants(0);
      EXPECT_EQ(g.window_used(), used) << "step " << step;
      EXPECT_GE(g.granted(), n.granted) << "step " << step;
      n.granted = g.granted();
      n.windowStart = g.window_start_ms();
    }
    int64_t outstanding = 0;
    for (const auto& m : nodes) outstanding += std::max<int64_t>(0, m.granted - m.consumed);
    ASSERT_LE(outstanding, amount - used) << "step " << step << " at " << now;
  }
  EXPECT_LE(used, amount);
  EXPECT_GT(used, 0);
  UsageAgg total;
  s().queryUsage(UsageFilter{.fromMs = kDayStart, .toMs = kDayStart + kDay}, &total);
  EXPECT_EQ(total.costNano, used);
}

TEST_F(GovernanceStoreTest, ExpiredGrantsAreReleased) {
  s().setGrantPolicy(GrantPolicy{.ttlMs = 1000, .graceMs = 1000, .activeMs = 500});
  makeKey("k1");
  LimitRow l = s().createLimit(limitSpec("key", "k1", "budget", 1'000'000, "1d"));
  int64_t t0 = kDayStart + kHour;
  v1::Grant g1 = demand("n1", l.id, t0);
  EXPECT_EQ(g1.granted(), 500'000);
  EXPECT_EQ(g1.ttl_ms(), 1000);

  // n1's grant lapsed at t0 + ttl + grace: all of the budget is free again.
  int64_t t1 = t0 + 2001;
  EXPECT_EQ(demand("n2", l.id, t1).granted(), 500'000);  // 1'000'000 / 2, not 500'000 / 2
  // n1 starts again from what it consumed (nothing): half of the 500'000 left, split by two
  // active nodes.
  EXPECT_EQ(demand("n1", l.id, t1, false, g1.window_start_ms()).granted(), 125'000);
}

TEST_F(GovernanceStoreTest, AnIdleGrantLapsesWhenNothingIsLeftToHandOut) {
  makeKey("k1");
  LimitRow l = s().createLimit(limitSpec("key", "k1", "requests", 1, "1d"));
  int64_t t0 = kDayStart + kHour;
  v1::Grant g = demand("n1", l.id, t0);
  ASSERT_EQ(g.granted(), 1);
  ASSERT_EQ(g.ttl_ms(), 30'000);
  // n1 has not used it lately and everything is granted: the renewal keeps the grant's
  // original expiry (t0 + ttl + grace) instead of extending it.
  v1::UsageReport rep;
  rep.set_node_id("n1");
  v1::LimitDemand* d = rep.add_demands();
  d->set_limit_id(l.id);
  d->set_window_start_ms(g.window_start_ms());
  d->set_idle(true);
  v1::UsageReply reply = s().applyReport(rep, t0 + 20'000);
  ASSERT_EQ(reply.grants_size(), 1);
  EXPECT_EQ(reply.grants(0).granted(), 1);
  EXPECT_EQ(reply.grants(0).ttl_ms(), 10'000);
  // Once it lapsed, another node gets the request.
  EXPECT_EQ(demand("n2", l.id, t0 + 60'001).granted(), 1);
}

TEST_F(GovernanceStoreTest, AnIdleGrantIsRenewedWhileThereIsRoom) {
  makeKey("k1");
  LimitRow l = s().createLimit(limitSpec("key", "k1", "requests", 10, "1d"));
  int64_t t0 = kDayStart + kHour;
  v1::Grant g = demand("n1", l.id, t0);
  ASSERT_EQ(g.granted(), 5);
  v1::UsageReport rep;
  rep.set_node_id("n1");
  v1::LimitDemand* d = rep.add_demands();
  d->set_limit_id(l.id);
  d->set_window_start_ms(g.window_start_ms());
  d->set_idle(true);
  v1::UsageReply reply = s().applyReport(rep, t0 + 20'000);
  ASSERT_EQ(reply.grants_size(), 1);
  EXPECT_EQ(reply.grants(0).granted(), 5);
  EXPECT_EQ(reply.grants(0).ttl_ms(), 30'000);
  // Renewed until t0 + 20'000 + ttl + grace: n1 still holds 5, so n2 (the only active node)
  // gets half of the other 5, rounded down.
  EXPECT_EQ(demand("n2", l.id, t0 + 60'001).granted(), 2);
}

TEST_F(GovernanceStoreTest, ConcurrencySlotsMoveOnlyOnceTheHolderHonorsALowerGrant) {
  makeKey("k1");
  LimitRow l = s().createLimit(limitSpec("key", "k1", "concurrency", 4, ""));
  int64_t t = kDayStart + kHour;
  // Alone, n1 gets every slot.
  EXPECT_EQ(demand("n1", l.id, t).granted(), 4);
  // n2 arrives: its half is still held by n1.
  EXPECT_EQ(demand("n2", l.id, t + 10).granted(), 0);
  // n1 is lowered to its half, but still applies 4 slots with 3 in flight.
  v1::Grant g = demand("n1", l.id, t + 20, false, 0, /*inFlight=*/3, /*honored=*/4);
  EXPECT_EQ(g.granted(), 2);
  EXPECT_EQ(g.window_used(), 3);
  EXPECT_EQ(demand("n2", l.id, t + 30).granted(), 0);  // n1 honors 4
  // n1 honors 2 but has 3 in flight: one slot is free.
  EXPECT_EQ(demand("n1", l.id, t + 40, false, 0, 3, 2).granted(), 2);
  EXPECT_EQ(demand("n2", l.id, t + 50).granted(), 1);
  // n1 down to 1 in flight: n2 gets its half.
  EXPECT_EQ(demand("n1", l.id, t + 60, false, 0, 1, 2).granted(), 2);
  EXPECT_EQ(demand("n2", l.id, t + 70, false, 0, 0, 1).granted(), 2);
}

TEST_F(GovernanceStoreTest, ConcurrencySlotsOfASilentNodeAreReassignedAfterTtlAndGrace) {
  s().setGrantPolicy(GrantPolicy{.ttlMs = 1000, .graceMs = 1000, .activeMs = 500});
  makeKey("k1");
  LimitRow l = s().createLimit(limitSpec("key", "k1", "concurrency", 4, ""));
  int64_t t0 = kDayStart + kHour;
  EXPECT_EQ(demand("n1", l.id, t0).granted(), 4);
  EXPECT_EQ(demand("n2", l.id, t0 + 100).granted(), 0);
  EXPECT_EQ(demand("n2", l.id, t0 + 2001).granted(), 4);
}

// --- usage queries

class UsageQueryTest : public GovernanceStoreTest {
 protected:
  void SetUp() override {
    GovernanceStoreTest::SetUp();
    k1_ = makeKey("k1");
    k2_ = makeKey("k2");
    auto a = record("a", kDayStart + kHour, k1_.id, 100, 10, 5, "openai", "openai/gpt-4o-mini");
    auto b = record("b", kDayStart + kDay + kHour, k1_.id, 1000, 20, 10, "openai", "openai/gpt-4o");
    auto c = record("c", kDayStart + 2 * kHour, k2_.id, 500, 30, 15, "anthropic", "anthropic/claude-sonnet-4");
    auto d = record("d", kDayStart + 3 * kHour, k2_.id, 0, 40, 0, "openai", "openai/gpt-4o-mini");
    d.set_priced(false);
    d.set_estimated(true);
    d.set_status(502);
    d.set_outcome("upstream_failed");
    send("n1", {a, b, c, d}, kDayStart + kDay + 2 * kHour);
  }

  UsageFilter range(std::vector<std::string> groupBy = {}) {
    UsageFilter f;
    f.fromMs = kDayStart;
    f.toMs = kDayStart + 2 * kDay;
    f.groupBy = std::move(groupBy);
    return f;
  }

  VirtualKeyRow k1_, k2_;
};

TEST_F(UsageQueryTest, GroupsByKey) {
  UsageAgg total;
  auto rows = s().queryUsage(range({"key"}), &total);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].group.at("key"), "k1");  // highest cost first
  EXPECT_EQ(rows[0].group.at("key_id"), k1_.id);
  EXPECT_EQ(rows[0].requests, 2);
  EXPECT_EQ(rows[0].costNano, 1100);
  EXPECT_EQ(rows[0].promptTokens, 30);
  EXPECT_EQ(rows[0].completionTokens, 15);
  EXPECT_EQ(rows[0].unpriced, 0);
  EXPECT_EQ(rows[0].failed, 0);
  EXPECT_EQ(rows[1].group.at("key"), "k2");
  EXPECT_EQ(rows[1].requests, 2);
  EXPECT_EQ(rows[1].costNano, 500);
  EXPECT_EQ(rows[1].unpriced, 1);
  EXPECT_EQ(rows[1].estimated, 1);
  EXPECT_EQ(rows[1].failed, 1);
  EXPECT_EQ(total.requests, 4);
  EXPECT_EQ(total.costNano, 1600);
  EXPECT_EQ(total.promptTokens, 100);
}

TEST_F(UsageQueryTest, GroupsByModel) {
  auto rows = s().queryUsage(range({"model"}), nullptr);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].group.at("model"), "openai/gpt-4o");
  const UsageAgg* mini = findRow(rows, "model", "openai/gpt-4o-mini");
  ASSERT_NE(mini, nullptr);
  EXPECT_EQ(mini->requests, 2);
  EXPECT_EQ(mini->costNano, 100);
  const UsageAgg* claude = findRow(rows, "model", "anthropic/claude-sonnet-4");
  ASSERT_NE(claude, nullptr);
  EXPECT_EQ(claude->costNano, 500);
}

TEST_F(UsageQueryTest, GroupsByDayInUtc) {
  auto rows = s().queryUsage(range({"day"}), nullptr);
  ASSERT_EQ(rows.size(), 2u);
  const UsageAgg* first = findRow(rows, "day", "2026-01-01");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->requests, 3);
  EXPECT_EQ(first->costNano, 600);
  const UsageAgg* second = findRow(rows, "day", "2026-01-02");
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->requests, 1);
  EXPECT_EQ(second->costNano, 1000);
}

TEST_F(UsageQueryTest, GroupsBySeveralDimensions) {
  auto rows = s().queryUsage(range({"key", "model"}), nullptr);
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& r : rows) {
    EXPECT_EQ(r.requests, 1);
    EXPECT_TRUE(r.group.count("key"));
    EXPECT_TRUE(r.group.count("model"));
  }
}

TEST_F(UsageQueryTest, FiltersByKeyProviderModelAndTime) {
  UsageAgg t;
  UsageFilter byKey = range();
  byKey.key = "k1";  // a name
  s().queryUsage(byKey, &t);
  EXPECT_EQ(t.requests, 2);
  EXPECT_EQ(t.costNano, 1100);

  byKey.key = k2_.id;  // or an id
  s().queryUsage(byKey, &t);
  EXPECT_EQ(t.requests, 2);
  EXPECT_EQ(t.costNano, 500);

  UsageFilter byProvider = range();
  byProvider.provider = "anthropic";
  s().queryUsage(byProvider, &t);
  EXPECT_EQ(t.requests, 1);
  EXPECT_EQ(t.costNano, 500);

  UsageFilter byModel = range();
  byModel.model = "openai/gpt-4o-mini";
  s().queryUsage(byModel, &t);
  EXPECT_EQ(t.requests, 2);
  EXPECT_EQ(t.costNano, 100);

  UsageFilter firstDay = range();
  firstDay.toMs = kDayStart + kDay;
  s().queryUsage(firstDay, &t);
  EXPECT_EQ(t.requests, 3);

  UsageFilter endExclusive = range();
  endExclusive.toMs = kDayStart + kDay + kHour;  // b's timestamp
  s().queryUsage(endExclusive, &t);
  EXPECT_EQ(t.requests, 3);

  UsageFilter none = range();
  none.fromMs = kDayStart + 2 * kDay;
  none.toMs = kDayStart + 3 * kDay;
  s().queryUsage(none, &t);
  EXPECT_EQ(t.requests, 0);
  EXPECT_EQ(t.costNano, 0);
}

TEST_F(UsageQueryTest, RefusesUnknownGroupsAndOwners) {
  EXPECT_STORE_ERROR(s().queryUsage(range({"week"}), nullptr), kInvalidArgument);
  UsageFilter f = range();
  f.key = "nobody";
  EXPECT_STORE_ERROR(s().queryUsage(f, nullptr), kNotFound);
  f = range();
  f.team = "nobody";
  EXPECT_STORE_ERROR(s().queryUsage(f, nullptr), kNotFound);
}

}  // namespace
}  // namespace finops::cp
