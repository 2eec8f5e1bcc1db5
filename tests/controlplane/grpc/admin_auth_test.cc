// Admin API authorization over a real in-process gRPC server: every AdminService method has a
// decided scope (a new RPC without one fails here), tokens of each scope are allowed or refused
// as documented, and every call, allowed or refused, leaves one audit entry without secrets.
#include <SQLiteCpp/Database.h>
#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "common/crypto.h"
#include "controlplane/grpc/admin_scopes.h"
#include "controlplane/grpc/admin_service.h"
#include "finops/v1/admin.grpc.pb.h"

namespace finops::cp {
namespace {

namespace v1 = finops::v1;

const google::protobuf::ServiceDescriptor* adminServiceDescriptor() {
  return google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
      "finops.v1.AdminService");
}

bool startsWithAny(const std::string& s, std::initializer_list<const char*> prefixes) {
  for (const char* p : prefixes)
    if (s.rfind(p, 0) == 0) return true;
  return false;
}

TEST(AdminScopesTest, EveryAdminServiceMethodHasADecidedScope) {
  const auto* svc = adminServiceDescriptor();
  ASSERT_NE(svc, nullptr);
  std::set<std::string> inProto;
  for (int i = 0; i < svc->method_count(); ++i) inProto.insert(std::string(svc->method(i)->name()));
  std::set<std::string> inTable;
  for (const auto& m : adminMethodAccess()) {
    EXPECT_TRUE(inTable.insert(std::string(m.method)).second) << "duplicate entry " << m.method;
    EXPECT_TRUE(inProto.count(std::string(m.method)))
        << m.method << " is in the scope table but not in AdminService";
  }
  for (const auto& name : inProto)
    EXPECT_TRUE(inTable.count(name))
        << "AdminService." << name
        << " has no scope decision: add it to adminMethodAccess() in admin_scopes.cc (and to the "
           "scopes table in docs/security.md)";
}

TEST(AdminScopesTest, ReadTokensNeverMutateAndAdminMayDoEverything) {
  for (const auto& m : adminMethodAccess()) {
    std::string name(m.method);
    EXPECT_TRUE(scopeAllows("admin", name)) << name;
    bool mutation = startsWithAny(name, {"Create", "Update", "Delete", "Revoke", "Rotate", "Set"});
    if (mutation) {
      EXPECT_FALSE(scopeAllows("read", name)) << name;
    }
    bool read = startsWithAny(name, {"Get", "List", "WhoAmI"});
    EXPECT_TRUE(mutation != read) << name << " is neither a read nor a mutation: decide it by hand";
    if (read) {
      EXPECT_TRUE(scopeAllows("read", name)) << name;
    }
    EXPECT_FALSE(scopeAllows("", name)) << name;
    EXPECT_FALSE(scopeAllows("Admin", name)) << name;
    EXPECT_FALSE(scopeAllows("superuser", name)) << name;
  }
  EXPECT_FALSE(scopeAllows("read", "SomeFutureMethod"));
  EXPECT_FALSE(scopeAllows("keys:write", "SomeFutureMethod"));
  EXPECT_TRUE(scopeAllows("admin", "SomeFutureMethod"));
}

TEST(AdminScopesTest, KeysWriteIsForProvisioningOnly) {
  for (const char* m :
       {"WhoAmI",      "CreateKey",     "GetKey",         "ListKeys",       "UpdateKey",
        "RevokeKey",   "RotateKey",     "DeleteKey",      "CreateCustomer", "UpdateCustomer",
        "GetCustomer", "ListCustomers", "DeleteCustomer", "CreateTeam",     "UpdateTeam",
        "GetTeam",     "ListTeams",     "DeleteTeam",     "CreateLimit",    "UpdateLimit",
        "GetLimit",    "ListLimits",    "DeleteLimit",    "ListPrices"})
    EXPECT_TRUE(scopeAllows("keys:write", m)) << m;
  for (const char* m :
       {"CreateProvider", "UpdateProvider", "GetProvider", "ListProviders", "DeleteProvider",
        "SetPrice", "DeletePrice", "GetUsage", "GetSettings", "UpdateSettings", "ListDataPlanes",
        "CreateAdminToken", "ListAdminTokens", "RevokeAdminToken", "ListAudit", "ListLogs",
        "GetLog"})
    EXPECT_FALSE(scopeAllows("keys:write", m)) << m;
  for (const char* m : {"GetUsage", "GetSettings", "ListDataPlanes", "ListAudit", "ListAdminTokens",
                        "ListProviders", "GetProvider", "ListLogs", "GetLog"})
    EXPECT_TRUE(scopeAllows("read", m)) << m;
  EXPECT_EQ(scopesAllowing("GetLog"), "admin or read");
  EXPECT_EQ(scopesAllowing("CreateProvider"), "admin");
  EXPECT_EQ(scopesAllowing("CreateKey"), "admin or keys:write");
  EXPECT_EQ(scopesAllowing("ListKeys"), "admin, keys:write or read");
  EXPECT_EQ(scopesAllowing("GetUsage"), "admin or read");
}

class AdminAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("finops-auth-" + randomId(""));
    dbPath_ = (dir_ / "finops.db").string();
    store_ = std::make_unique<Store>(dbPath_);
    // Provider keys are sealed at rest: without a keyring, storing one fails (as it should).
    if (withKeyring())
      store_->installKeyring(
          std::make_shared<const Keyring>(parseMasterKey(generateMasterKeyText(), "test")));
    adminSecret_ = *store_->ensureInitialAdminToken();
    adminId_ = store_->findAdminToken(adminSecret_)->id;
    std::tie(ci_, ciSecret_) = store_->createAdminToken("ci", "keys:write", adminId_);
    std::tie(ro_, roSecret_) = store_->createAdminToken("auditor", "read", adminId_);
    service_ = std::make_unique<AdminServiceImpl>(*store_, publisher_);
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_);
    stub_ = v1::AdminService::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                                          grpc::InsecureChannelCredentials()));
  }
  virtual bool withKeyring() const { return true; }

  void TearDown() override {
    server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<grpc::ClientContext> as(const std::string& secret) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!secret.empty()) ctx->AddMetadata("authorization", "Bearer " + secret);
    return ctx;
  }

  std::vector<v1::AuditEntry> audit(v1::ListAuditRequest req = {}) {
    v1::ListAuditResponse resp;
    auto s = stub_->ListAudit(as(adminSecret_).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.entries().begin(), resp.entries().end()};
  }

  std::filesystem::path dir_;
  std::string dbPath_;
  std::unique_ptr<Store> store_;
  std::string adminSecret_, adminId_;
  AdminTokenRow ci_, ro_;
  std::string ciSecret_, roSecret_;
  Publisher publisher_;
  std::unique_ptr<AdminServiceImpl> service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::AdminService::Stub> stub_;
};

TEST_F(AdminAuthTest, KeysWriteTokenProvisionsKeysButCannotTouchProviders) {
  v1::CreateKeyRequest ck;
  ck.set_name("app");
  v1::CreateKeyResponse key;
  auto s = stub_->CreateKey(as(ciSecret_).get(), ck, &key);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(key.secret().starts_with("sk-fo-"));

  v1::CreateLimitRequest cl;
  cl.set_owner_kind("key");
  cl.set_owner("app");
  cl.set_kind(v1::LIMIT_KIND_BUDGET);
  cl.set_amount(5'000'000'000);
  cl.set_window("1d");
  cl.set_calendar(true);
  v1::LimitInfo limit;
  s = stub_->CreateLimit(as(ciSecret_).get(), cl, &limit);
  EXPECT_TRUE(s.ok()) << s.error_message();

  v1::CreateProviderRequest cp;
  cp.set_name("openai");
  cp.set_base_url("https://api.openai.com/v1");
  v1::ProviderInfo provider;
  s = stub_->CreateProvider(as(ciSecret_).get(), cp, &provider);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(
      s.error_message(),
      "admin token 'ci' (scope keys:write) may not call CreateProvider; it needs scope admin");
  EXPECT_TRUE(store_->listProviders().empty()) << "a refused call must not run";

  v1::ListProvidersResponse providers;
  s = stub_->ListProviders(as(ciSecret_).get(), {}, &providers);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  v1::CreateAdminTokenRequest ct;
  ct.set_name("escalate");
  ct.set_scope("admin");
  v1::CreateAdminTokenResponse created;
  s = stub_->CreateAdminToken(as(ciSecret_).get(), ct, &created);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(created.secret().empty());
  v1::UsageResponse usage;
  EXPECT_EQ(stub_->GetUsage(as(ciSecret_).get(), {}, &usage).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::ListAuditResponse entries;
  EXPECT_EQ(stub_->ListAudit(as(ciSecret_).get(), {}, &entries).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  v1::WhoAmIResponse who;
  ASSERT_TRUE(stub_->WhoAmI(as(ciSecret_).get(), {}, &who).ok());
  EXPECT_EQ(who.scope(), "keys:write");
  EXPECT_EQ(who.token_name(), "ci");
}

TEST_F(AdminAuthTest, ReadTokenReadsButNeverWrites) {
  v1::CreateProviderRequest cp;
  cp.set_name("openai");
  cp.set_base_url("https://api.openai.com/v1");
  v1::ProviderInfo provider;
  ASSERT_TRUE(stub_->CreateProvider(as(adminSecret_).get(), cp, &provider).ok());

  v1::ListProvidersResponse providers;
  auto s = stub_->ListProviders(as(roSecret_).get(), {}, &providers);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(providers.providers_size(), 1);
  v1::UsageResponse usage;
  EXPECT_TRUE(stub_->GetUsage(as(roSecret_).get(), {}, &usage).ok());
  v1::ListAdminTokensResponse tokens;
  ASSERT_TRUE(stub_->ListAdminTokens(as(roSecret_).get(), {}, &tokens).ok());
  EXPECT_EQ(tokens.tokens_size(), 3);
  v1::ListAuditResponse entries;
  EXPECT_TRUE(stub_->ListAudit(as(roSecret_).get(), {}, &entries).ok());

  v1::CreateKeyRequest ck;
  ck.set_name("app");
  v1::CreateKeyResponse key;
  s = stub_->CreateKey(as(roSecret_).get(), ck, &key);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(),
            "admin token 'auditor' (scope read) may not call CreateKey; it needs scope admin or "
            "keys:write");
  EXPECT_TRUE(store_->listKeys().empty());
  v1::KeyId id;
  id.set_id("ci");
  v1::AdminTokenInfo info;
  EXPECT_EQ(stub_->RevokeAdminToken(as(roSecret_).get(), id, &info).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(store_->findAdminToken(ciSecret_));
}

TEST_F(AdminAuthTest, UpdateSettingsOnAStaleRevisionIsAborted) {
  v1::SettingsInfo read;
  ASSERT_TRUE(stub_->GetSettings(as(adminSecret_).get(), {}, &read).ok());
  v1::UpdateSettingsRequest first;
  first.set_replace_allowed_origins(true);
  first.add_allowed_origins("https://first.example.com");
  first.set_if_revision(read.revision());
  v1::SettingsInfo after;
  ASSERT_TRUE(stub_->UpdateSettings(as(adminSecret_).get(), first, &after).ok());
  EXPECT_EQ(after.revision(), read.revision() + 1);
  // A second edit computed from the same read: ABORTED, and the first one stands.
  v1::UpdateSettingsRequest second = first;
  second.set_allowed_origins(0, "https://second.example.com");
  v1::SettingsInfo ignored;
  auto s = stub_->UpdateSettings(as(adminSecret_).get(), second, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  v1::SettingsInfo now;
  ASSERT_TRUE(stub_->GetSettings(as(adminSecret_).get(), {}, &now).ok());
  ASSERT_EQ(now.settings().allowed_origins_size(), 1);
  EXPECT_EQ(now.settings().allowed_origins(0), "https://first.example.com");
  EXPECT_EQ(now.config_version(), after.config_version());
}

TEST_F(AdminAuthTest, MissingInvalidAndRevokedTokensAreUnauthenticated) {
  v1::WhoAmIResponse who;
  EXPECT_EQ(stub_->WhoAmI(as("").get(), {}, &who).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(stub_->WhoAmI(as("fo-admin-nope").get(), {}, &who).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(stub_->WhoAmI(as(ciSecret_).get(), {}, &who).ok());

  v1::KeyId id;
  id.set_id("ci");
  v1::AdminTokenInfo revoked;
  ASSERT_TRUE(stub_->RevokeAdminToken(as(adminSecret_).get(), id, &revoked).ok());
  EXPECT_TRUE(revoked.has_revoked_at());
  auto s = stub_->WhoAmI(as(ciSecret_).get(), {}, &who);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "invalid or revoked admin token");

  // The last admin token cannot be revoked (nobody would be left to administer).
  id.set_id("initial");
  s = stub_->RevokeAdminToken(as(adminSecret_).get(), id, &revoked);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(stub_->WhoAmI(as(adminSecret_).get(), {}, &who).ok());
}

TEST_F(AdminAuthTest, AdminCreatesTokensThatWorkWithTheirScope) {
  v1::CreateAdminTokenRequest ct;
  ct.set_name("deploy");
  ct.set_scope("keys:write");
  v1::CreateAdminTokenResponse created;
  ASSERT_TRUE(stub_->CreateAdminToken(as(adminSecret_).get(), ct, &created).ok());
  EXPECT_TRUE(created.secret().starts_with("fo-admin-"));
  EXPECT_EQ(created.token().scope(), "keys:write");
  EXPECT_EQ(created.token().created_by(), adminId_);
  EXPECT_FALSE(created.token().has_revoked_at());
  v1::WhoAmIResponse who;
  ASSERT_TRUE(stub_->WhoAmI(as(created.secret()).get(), {}, &who).ok());
  EXPECT_EQ(who.token_id(), created.token().id());
  EXPECT_EQ(who.scope(), "keys:write");

  ct.set_scope("root");
  ct.set_name("other");
  EXPECT_EQ(stub_->CreateAdminToken(as(adminSecret_).get(), ct, &created).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ct.set_scope("read");
  ct.set_name("deploy");
  EXPECT_EQ(stub_->CreateAdminToken(as(adminSecret_).get(), ct, &created).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);

  v1::ListAdminTokensRequest lr;
  v1::ListAdminTokensResponse list;
  ASSERT_TRUE(stub_->ListAdminTokens(as(adminSecret_).get(), lr, &list).ok());
  EXPECT_EQ(list.tokens_size(), 4);
  for (const auto& t : list.tokens()) {
    std::string bytes = t.SerializeAsString();
    EXPECT_EQ(bytes.find("fo-admin-"), std::string::npos) << "a token listing carries a secret";
  }
}

TEST_F(AdminAuthTest, EveryCallLeavesOneAuditEntryWithoutSecrets) {
  v1::CreateKeyRequest ck;
  ck.set_name("app");
  v1::CreateKeyResponse key;
  ASSERT_TRUE(stub_->CreateKey(as(ciSecret_).get(), ck, &key).ok());
  v1::CreateProviderRequest cp;
  cp.set_name("openai");
  cp.set_base_url("https://api.openai.com/v1");
  cp.add_api_keys("sk-upstream-secret-0123456789abcdef");
  v1::ProviderInfo provider;
  EXPECT_EQ(stub_->CreateProvider(as(ciSecret_).get(), cp, &provider).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  auto created = stub_->CreateProvider(as(adminSecret_).get(), cp, &provider);
  ASSERT_TRUE(created.ok()) << created.error_message();
  ASSERT_EQ(provider.keys_size(), 1);
  EXPECT_EQ(provider.keys(0).redacted(), "sk-...cdef");
  v1::WhoAmIResponse who;
  stub_->WhoAmI(as("fo-admin-guessed-token-value").get(), {}, &who);
  // A secret typed where an id was expected is not recorded.
  v1::KeyId byMistake;
  byMistake.set_id(key.secret());
  v1::VirtualKeyInfo got;
  EXPECT_EQ(stub_->GetKey(as(roSecret_).get(), byMistake, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);

  auto entries = audit();
  ASSERT_EQ(entries.size(), 5u);
  // Newest first.
  EXPECT_EQ(entries[0].method(), "GetKey");
  EXPECT_EQ(entries[0].token_name(), "auditor");
  EXPECT_EQ(entries[0].code(), "NOT_FOUND");
  EXPECT_EQ(entries[0].target(), "sk-***");
  EXPECT_EQ(entries[1].method(), "WhoAmI");
  EXPECT_EQ(entries[1].token_id(), "");
  EXPECT_EQ(entries[1].token_name(), "");
  EXPECT_EQ(entries[1].code(), "UNAUTHENTICATED");
  EXPECT_EQ(entries[2].method(), "CreateProvider");
  EXPECT_EQ(entries[2].token_id(), adminId_);
  EXPECT_EQ(entries[2].target(), "openai");
  EXPECT_EQ(entries[2].code(), "OK");
  EXPECT_EQ(entries[3].method(), "CreateProvider");
  EXPECT_EQ(entries[3].token_id(), ci_.id);
  EXPECT_EQ(entries[3].scope(), "keys:write");
  EXPECT_EQ(entries[3].code(), "PERMISSION_DENIED");
  EXPECT_EQ(
      entries[3].message(),
      "admin token 'ci' (scope keys:write) may not call CreateProvider; it needs scope admin");
  EXPECT_EQ(entries[4].method(), "CreateKey");
  EXPECT_EQ(entries[4].target(), "app");
  EXPECT_EQ(entries[4].code(), "OK");
  EXPECT_EQ(entries[4].message(), "");
  EXPECT_EQ(entries[4].token_name(), "ci");
  for (const auto& e : entries) {
    EXPECT_TRUE(e.has_at());
    EXPECT_GT(e.id(), 0);
    EXPECT_NE(e.peer().find("127.0.0.1"), std::string::npos) << e.peer();
    std::string bytes = e.SerializeAsString();
    for (const std::string& secret :
         {key.secret(), key.secret().substr(6), adminSecret_, ciSecret_, roSecret_,
          std::string("sk-upstream-secret"), std::string("guessed-token-value")})
      EXPECT_EQ(bytes.find(secret), std::string::npos) << e.method() << " holds a secret";
  }

  // The ListAudit call above was recorded too; filters reach the store.
  v1::ListAuditRequest byToken;
  byToken.set_token_id(ci_.id);
  EXPECT_EQ(audit(byToken).size(), 2u);
  v1::ListAuditRequest byMethod;
  byMethod.set_method("ListAudit");
  EXPECT_GE(audit(byMethod).size(), 1u);
  v1::ListAuditRequest page;
  page.set_limit(2);
  auto first = audit(page);
  ASSERT_EQ(first.size(), 2u);
  page.set_before_id(first.back().id());
  auto second = audit(page);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_LT(second.front().id(), first.back().id());
  v1::ListAuditRequest bad;
  bad.set_limit(10001);
  v1::ListAuditResponse resp;
  EXPECT_EQ(stub_->ListAudit(as(adminSecret_).get(), bad, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AdminAuthTest, UnauthenticatedCallsAreRecordedAtMostSixtyAMinuteWithoutTarget) {
  v1::KeyId id;
  id.set_id(std::string(200, 'x'));
  v1::VirtualKeyInfo got;
  for (int i = 0; i < 75; ++i)
    EXPECT_EQ(stub_->GetKey(as("fo-admin-wrong").get(), id, &got).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  int unauthenticated = 0;
  for (const auto& e : audit()) {
    if (e.code() != "UNAUTHENTICATED") continue;
    ++unauthenticated;
    EXPECT_EQ(e.target(), "") << "caller-chosen text from an unauthenticated call";
  }
  EXPECT_EQ(unauthenticated, 60);
  // Authenticated calls are still all recorded.
  v1::WhoAmIResponse who;
  ASSERT_TRUE(stub_->WhoAmI(as(adminSecret_).get(), {}, &who).ok());
  EXPECT_EQ(audit()[0].method(), "WhoAmI");
  EXPECT_EQ(audit()[0].code(), "OK");
}

TEST_F(AdminAuthTest, AnAuditWriteFailureIsLoggedAndTheCallStands) {
  {
    SQLite::Database db(dbPath_, SQLite::OPEN_READWRITE);
    db.exec("DROP TABLE audit_log");
  }
  testing::internal::CaptureStderr();
  v1::CreateKeyRequest ck;
  ck.set_name("app");
  v1::CreateKeyResponse key;
  auto s = stub_->CreateKey(as(ciSecret_).get(), ck, &key);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_NE(err.find(" ERROR "), std::string::npos) << err;
  EXPECT_NE(err.find("cannot write the audit log"), std::string::npos) << err;
  EXPECT_NE(err.find("CreateKey"), std::string::npos) << err;
  EXPECT_EQ(err.find(key.secret()), std::string::npos) << "the log holds the key";
  EXPECT_EQ(err.find(ciSecret_), std::string::npos) << "the log holds the token";
}

// A store without a master key cannot seal a provider key: the call fails with
// FAILED_PRECONDITION and the store's message (which names no secret), not INTERNAL.
class AdminAuthNoKeyringTest : public AdminAuthTest {
 protected:
  bool withKeyring() const override { return false; }
};

TEST_F(AdminAuthNoKeyringTest, SecretsErrorIsAFailedPreconditionWithItsMessage) {
  v1::CreateProviderRequest cp;
  cp.set_name("openai");
  cp.set_base_url("https://api.openai.com/v1");
  cp.add_api_keys("sk-upstream-secret-0123456789abcdef");
  v1::ProviderInfo provider;
  auto s = stub_->CreateProvider(as(adminSecret_).get(), cp, &provider);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_NE(s.error_message().find("no master key is installed"), std::string::npos)
      << s.error_message();
  EXPECT_EQ(s.error_message().find("sk-upstream-secret"), std::string::npos);
  auto entries = audit();
  ASSERT_FALSE(entries.empty());
  EXPECT_EQ(entries[0].method(), "CreateProvider");
  EXPECT_EQ(entries[0].code(), "FAILED_PRECONDITION");
}

}  // namespace
}  // namespace finops::cp
