// Admin tokens with scopes (create, list, revoke, last-admin protection, hash-only storage,
// throttled last_used_at) and the audit log (append, filters, paging, retention) in the store.
#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include "common/clock.h"
#include "common/crypto.h"
#include "controlplane/store/store.h"

namespace finops::cp {
namespace {

class AdminAuditStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("finops-audit-" + randomId(""));
    path_ = (dir_ / "finops.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Every byte of the database files (main file, WAL, shared memory).
  std::string dbBytes() const {
    std::string bytes;
    for (const auto& f : std::filesystem::directory_iterator(dir_)) {
      std::ifstream in(f.path(), std::ios::binary);
      bytes.append(std::istreambuf_iterator<char>(in), {});
    }
    return bytes;
  }

  std::filesystem::path dir_;
  std::string path_;
};

StoreError::Code codeOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const StoreError& e) {
    return e.code();
  }
  ADD_FAILURE() << "no StoreError thrown";
  return StoreError::Code::kInvalidArgument;
}

const AdminTokenRow* byName(const std::vector<AdminTokenRow>& rows, const std::string& name) {
  for (const auto& r : rows)
    if (r.name == name) return &r;
  return nullptr;
}

TEST_F(AdminAuditStoreTest, CreateListRevokeTokensWithScopes) {
  Store s(path_);
  auto initial = s.ensureInitialAdminToken();
  ASSERT_TRUE(initial);
  auto admin = s.findAdminToken(*initial);
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->scope, "admin");
  EXPECT_EQ(admin->createdBy, "");

  auto [ci, ciSecret] = s.createAdminToken("ci", "keys:write", admin->id);
  EXPECT_TRUE(ciSecret.starts_with(kAdminTokenPrefix));
  EXPECT_EQ(ciSecret.size(), std::string(kAdminTokenPrefix).size() + 43u);  // 256 bits
  EXPECT_TRUE(ci.id.starts_with("at_"));
  EXPECT_EQ(ci.scope, "keys:write");
  EXPECT_EQ(ci.createdBy, admin->id);
  EXPECT_GT(ci.createdAt, 0);
  auto found = s.findAdminToken(ciSecret);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, ci.id);
  EXPECT_EQ(found->scope, "keys:write");
  auto [ro, roSecret] = s.createAdminToken("auditor", "read", admin->id);
  EXPECT_NE(roSecret, ciSecret);

  // Scopes are exactly these three; names are display names, unique among active tokens.
  for (const char* bad : {"", "Admin", "keys:read", "write", "admin ", "*"})
    EXPECT_EQ(codeOf([&] { s.createAdminToken("x", bad, admin->id); }),
              StoreError::Code::kInvalidArgument)
        << "scope '" << bad << "'";
  EXPECT_EQ(codeOf([&] { s.createAdminToken("", "read", admin->id); }),
            StoreError::Code::kInvalidArgument);
  EXPECT_EQ(codeOf([&] { s.createAdminToken("bad\nname", "read", admin->id); }),
            StoreError::Code::kInvalidArgument);
  EXPECT_EQ(codeOf([&] { s.createAdminToken("ci", "read", admin->id); }),
            StoreError::Code::kAlreadyExists);

  auto active = s.listAdminTokens(false);
  ASSERT_EQ(active.size(), 3u);
  ASSERT_TRUE(byName(active, "ci"));
  EXPECT_EQ(byName(active, "ci")->scope, "keys:write");

  // Revoke by name: the secret stops working, the name is free again, list hides it.
  auto revoked = s.revokeAdminToken("ci");
  EXPECT_EQ(revoked.id, ci.id);
  ASSERT_TRUE(revoked.revokedAt);
  EXPECT_FALSE(s.findAdminToken(ciSecret));
  EXPECT_FALSE(s.authenticateAdminToken(ciSecret, wallNowMs()));
  EXPECT_EQ(s.listAdminTokens(false).size(), 2u);
  auto all = s.listAdminTokens(true);
  ASSERT_EQ(all.size(), 3u);
  ASSERT_TRUE(byName(all, "ci"));
  EXPECT_TRUE(byName(all, "ci")->revokedAt);
  // Revoking again (by id) changes nothing; an unknown ref is not found.
  EXPECT_EQ(*s.revokeAdminToken(ci.id).revokedAt, *revoked.revokedAt);
  EXPECT_EQ(codeOf([&] { s.revokeAdminToken("nope"); }), StoreError::Code::kNotFound);
  EXPECT_EQ(codeOf([&] { s.revokeAdminToken("ci"); }), StoreError::Code::kNotFound)
      << "a revoked token's name no longer names it";
  auto [ci2, ci2Secret] = s.createAdminToken("ci", "keys:write", admin->id);
  EXPECT_NE(ci2.id, ci.id);
  EXPECT_TRUE(s.findAdminToken(ci2Secret));
  // By id.
  s.revokeAdminToken(ro.id);
  EXPECT_FALSE(s.findAdminToken(roSecret));
}

TEST_F(AdminAuditStoreTest, TheLastActiveAdminTokenCannotBeRevoked) {
  Store s(path_);
  auto initial = s.ensureInitialAdminToken();
  auto first = s.findAdminToken(*initial);
  ASSERT_TRUE(first);
  auto [ci, ciSecret] = s.createAdminToken("ci", "keys:write", first->id);
  EXPECT_EQ(codeOf([&] { s.revokeAdminToken("initial"); }), StoreError::Code::kFailedPrecondition);
  EXPECT_TRUE(s.findAdminToken(*initial)) << "refused revocation must leave the token working";
  // Non-admin tokens can always be revoked.
  s.revokeAdminToken(ci.id);
  // Rotating the first token: create a new admin, then revoke the old one.
  auto [next, nextSecret] = s.createAdminToken("ops", "admin", first->id);
  auto old = s.revokeAdminToken("initial");
  EXPECT_TRUE(old.revokedAt);
  EXPECT_FALSE(s.findAdminToken(*initial));
  EXPECT_EQ(codeOf([&] { s.revokeAdminToken(next.id); }), StoreError::Code::kFailedPrecondition);
  EXPECT_TRUE(s.findAdminToken(nextSecret));
  // The first-start token is not recreated once tokens exist (even if all others were revoked).
  EXPECT_FALSE(s.ensureInitialAdminToken());
}

TEST_F(AdminAuditStoreTest, OnlyTheHashOfATokenIsStored) {
  std::string secret, initialSecret;
  {
    Store s(path_);
    initialSecret = *s.ensureInitialAdminToken();
    auto admin = s.findAdminToken(initialSecret);
    secret = s.createAdminToken("ci", "keys:write", admin->id).second;
    s.authenticateAdminToken(secret, 1'800'000'000'000);
  }
  std::string bytes = dbBytes();
  EXPECT_NE(bytes.find(sha256Bytes(secret)), std::string::npos) << "test setup: hash stored";
  for (const auto& t : {secret, initialSecret}) {
    EXPECT_EQ(bytes.find(t), std::string::npos);
    EXPECT_EQ(bytes.find(t.substr(std::string(kAdminTokenPrefix).size())), std::string::npos);
  }
  // And it still authenticates after a restart.
  Store reopened(path_);
  EXPECT_TRUE(reopened.findAdminToken(secret));
}

TEST_F(AdminAuditStoreTest, LastUsedIsWrittenAtMostOncePerInterval) {
  Store s(path_);
  auto initial = s.ensureInitialAdminToken();
  const int64_t t0 = 1'800'000'000'000;  // ms
  auto lastUsed = [&]() -> std::optional<int64_t> {
    return byName(s.listAdminTokens(false), "initial")->lastUsedAt;
  };
  EXPECT_FALSE(lastUsed());
  auto row = s.authenticateAdminToken(*initial, t0);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->lastUsedAt, t0 / 1000);
  EXPECT_EQ(lastUsed(), t0 / 1000);
  // Within a minute: no write.
  s.authenticateAdminToken(*initial, t0 + 30'000);
  s.authenticateAdminToken(*initial, t0 + 59'999);
  EXPECT_EQ(lastUsed(), t0 / 1000);
  // A minute later: written again.
  s.authenticateAdminToken(*initial, t0 + 60'000);
  EXPECT_EQ(lastUsed(), (t0 + 60'000) / 1000);
  EXPECT_FALSE(s.authenticateAdminToken("fo-admin-wrong", t0));
}

AuditRow entry(int64_t atMs, const std::string& tokenId, const std::string& name,
               const std::string& method, const std::string& code = "OK") {
  AuditRow r;
  r.atMs = atMs;
  r.tokenId = tokenId;
  r.tokenName = name;
  r.scope = tokenId.empty() ? "" : "admin";
  r.method = method;
  r.target = "vk_1";
  r.code = code;
  r.message = code == "OK" ? "" : "refused";
  r.peer = "ipv4:127.0.0.1:1234";
  return r;
}

std::vector<int64_t> ids(const std::vector<AuditRow>& rows) {
  std::vector<int64_t> out;
  for (const auto& r : rows) out.push_back(r.id);
  return out;
}

TEST_F(AdminAuditStoreTest, AuditListIsNewestFirstWithFiltersAndPaging) {
  Store s(path_);
  const int64_t t = 1'800'000'000'000;
  int64_t a = s.appendAudit(entry(t + 1000, "at_a", "ci", "CreateKey"));
  int64_t b = s.appendAudit(entry(t + 2000, "at_b", "ops", "CreateProvider"));
  int64_t c = s.appendAudit(entry(t + 3000, "at_a", "ci", "CreateProvider", "PERMISSION_DENIED"));
  int64_t d = s.appendAudit(entry(t + 4000, "", "", "ListKeys", "UNAUTHENTICATED"));
  int64_t e = s.appendAudit(entry(t + 5000, "at_a", "ci", "createkey"));
  EXPECT_LT(a, b);

  AuditFilter all;
  auto rows = s.listAudit(all);
  EXPECT_EQ(ids(rows), (std::vector<int64_t>{e, d, c, b, a}));
  EXPECT_EQ(rows[2].code, "PERMISSION_DENIED");
  EXPECT_EQ(rows[2].message, "refused");
  EXPECT_EQ(rows[2].tokenName, "ci");
  EXPECT_EQ(rows[2].scope, "admin");
  EXPECT_EQ(rows[2].target, "vk_1");
  EXPECT_EQ(rows[2].peer, "ipv4:127.0.0.1:1234");
  EXPECT_EQ(rows[2].atMs, t + 3000);
  EXPECT_EQ(rows[1].tokenId, "");

  AuditFilter byToken;
  byToken.token = "at_a";
  EXPECT_EQ(ids(s.listAudit(byToken)), (std::vector<int64_t>{e, c, a}));
  byToken.token = "ops";  // a name works too
  EXPECT_EQ(ids(s.listAudit(byToken)), (std::vector<int64_t>{b}));

  AuditFilter byMethod;
  byMethod.method = "CreateKey";  // case-insensitive
  EXPECT_EQ(ids(s.listAudit(byMethod)), (std::vector<int64_t>{e, a}));
  byMethod.method = "CreateProv";  // exact, not a prefix
  EXPECT_TRUE(s.listAudit(byMethod).empty());

  AuditFilter window;
  window.sinceMs = t + 2000;  // inclusive
  window.untilMs = t + 4000;  // exclusive
  EXPECT_EQ(ids(s.listAudit(window)), (std::vector<int64_t>{c, b}));
  window.sinceMs = t + 5000;
  window.untilMs = t + 1000;
  EXPECT_EQ(codeOf([&] { s.listAudit(window); }), StoreError::Code::kInvalidArgument);

  // Paging: limit 2, then before the last id seen, until nothing is left.
  std::vector<int64_t> paged;
  AuditFilter page;
  page.limit = 2;
  for (int i = 0; i < 10; ++i) {
    auto got = s.listAudit(page);
    if (got.empty()) break;
    EXPECT_LE(got.size(), 2u);
    for (const auto& r : got) paged.push_back(r.id);
    page.beforeId = got.back().id;
  }
  EXPECT_EQ(paged, (std::vector<int64_t>{e, d, c, b, a}));

  for (int bad : {0, -1, 10001}) {
    AuditFilter f;
    f.limit = bad;
    EXPECT_EQ(codeOf([&] { s.listAudit(f); }), StoreError::Code::kInvalidArgument) << bad;
  }
  AuditFilter max;
  max.limit = 10000;
  EXPECT_EQ(s.listAudit(max).size(), 5u);
}

TEST_F(AdminAuditStoreTest, AuditRetentionDeletesOldEntriesAtMostOncePerInterval) {
  Store s(path_);
  AuditPolicy p;
  p.retentionMs = 10'000;
  p.pruneIntervalMs = 60'000;
  s.setAuditPolicy(p);
  const int64_t t = 1'800'000'000'000;
  s.appendAudit(entry(t, "at_a", "ci", "A"));           // first append: prune check (nothing old)
  s.appendAudit(entry(t + 5'000, "at_a", "ci", "B"));   // no check
  s.appendAudit(entry(t + 20'000, "at_a", "ci", "C"));  // A is past retention, but no check yet
  EXPECT_EQ(s.listAudit({}).size(), 3u) << "retention must not cost a DELETE on every call";
  s.appendAudit(entry(t + 60'000, "at_a", "ci", "D"));  // check: deletes entries before t+50s
  auto rows = s.listAudit({});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].method, "D");
  // Survives a restart.
  s.appendAudit(entry(t + 61'000, "", "", "E", "UNAUTHENTICATED"));
  Store reopened(path_);
  EXPECT_EQ(reopened.listAudit({}).size(), 2u);
}

}  // namespace
}  // namespace finops::cp
