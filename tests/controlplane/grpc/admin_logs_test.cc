// The admin API's side of request logs over a real in-process gRPC server and SQLite file:
// ListLogs / GetLog need scope read (or admin), map the store's errors to gRPC codes and leave an
// audit entry; and the content switches (a key's log_content, the log_content setting) travel
// from the admin messages to the store and into the snapshot published to data planes.
#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/clock.h"
#include "common/crypto.h"
#include "controlplane/grpc/admin_service.h"
#include "controlplane/store/log_store.h"
#include "finops/v1/admin.grpc.pb.h"

namespace finops::cp {
namespace {

namespace v1 = finops::v1;

v1::LogRecord record(const std::string& requestId, int64_t tsMs, const std::string& provider,
                     const std::string& content) {
  v1::LogRecord r;
  r.set_request_id(requestId);
  r.set_ts_ms(tsMs);
  r.set_node("dp-1");
  r.set_method("POST");
  r.set_route("/v1/chat/completions");
  r.set_provider(provider);
  r.set_model(provider + "/some-model");
  r.set_status(200);
  r.set_content_logged(true);
  r.set_request_content(content);
  r.set_response_content("the answer");
  return r;
}

class AdminLogsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("finops-adminlogs-" + randomId(""));
    dbPath_ = (dir_ / "finops.db").string();
    store_ = std::make_unique<Store>(dbPath_);
    logs_ = std::make_unique<LogStore>(dbPath_);
    adminSecret_ = *store_->ensureInitialAdminToken();
    std::string adminId = store_->findAdminToken(adminSecret_)->id;
    ciSecret_ = store_->createAdminToken("ci", "keys:write", adminId).second;
    roSecret_ = store_->createAdminToken("auditor", "read", adminId).second;
    service_ =
        std::make_unique<AdminServiceImpl>(*store_, publisher_, withLogs() ? logs_.get() : nullptr);
    service_->republish();
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_);
    stub_ = v1::AdminService::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                                          grpc::InsecureChannelCredentials()));
  }
  virtual bool withLogs() const { return true; }

  void TearDown() override {
    server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
    service_.reset();
    logs_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<grpc::ClientContext> as(const std::string& secret) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ctx->AddMetadata("authorization", "Bearer " + secret);
    return ctx;
  }

  void insertSome() {
    int64_t now = wallNowMs();
    google::protobuf::RepeatedPtrField<v1::LogRecord> records;
    *records.Add() = record("req_a", now - 3000, "openai", "tell me about zebras");
    *records.Add() = record("req_b", now - 2000, "anthropic", "tell me about lions");
    *records.Add() = record("req_c", now - 1000, "openai", "tell me about otters");
    ASSERT_EQ(logs_->insert(records), 3);
  }

  std::vector<v1::AuditEntry> audit() {
    v1::ListAuditResponse resp;
    auto s = stub_->ListAudit(as(adminSecret_).get(), {}, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.entries().begin(), resp.entries().end()};
  }

  // The key as the snapshot published to data planes has it; nullopt: not in it.
  std::optional<v1::VirtualKey> publishedKey(const std::string& id) {
    auto snap = publisher_.current();
    if (!snap) return std::nullopt;
    for (const auto& k : snap->virtual_keys())
      if (k.id() == id) return k;
    return std::nullopt;
  }

  std::filesystem::path dir_;
  std::string dbPath_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<LogStore> logs_;
  std::string adminSecret_, ciSecret_, roSecret_;
  Publisher publisher_;
  std::unique_ptr<AdminServiceImpl> service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::AdminService::Stub> stub_;
};

TEST_F(AdminLogsTest, AReadTokenListsAndOpensLogs) {
  insertSome();
  v1::ListLogsResponse list;
  auto s = stub_->ListLogs(as(roSecret_).get(), {}, &list);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(list.entries_size(), 3);
  EXPECT_EQ(list.entries(0).record().request_id(), "req_c") << "newest first";
  EXPECT_EQ(list.entries(2).record().request_id(), "req_a");
  for (const auto& e : list.entries())
    EXPECT_TRUE(e.record().request_content().empty()) << "no content in a listing";

  v1::LogQuery q;
  q.set_provider("openai");
  q.set_search("otters");
  s = stub_->ListLogs(as(roSecret_).get(), q, &list);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(list.entries_size(), 1);
  EXPECT_EQ(list.entries(0).record().request_id(), "req_c");

  v1::GetLogRequest get;
  get.set_id("req_b");
  v1::LogEntry entry;
  s = stub_->GetLog(as(roSecret_).get(), get, &entry);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(entry.record().provider(), "anthropic");
  EXPECT_EQ(entry.record().request_content(), "tell me about lions");
  EXPECT_EQ(entry.record().response_content(), "the answer");
  // By entry id too.
  get.set_id(std::to_string(entry.id()));
  v1::LogEntry byId;
  s = stub_->GetLog(as(adminSecret_).get(), get, &byId);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(byId.record().request_id(), "req_b");

  auto entries = audit();
  ASSERT_GE(entries.size(), 4u);
  EXPECT_EQ(entries[0].method(), "GetLog");
  EXPECT_EQ(entries[0].target(), std::to_string(entry.id()));
  EXPECT_EQ(entries[1].method(), "GetLog");
  EXPECT_EQ(entries[1].target(), "req_b");
  EXPECT_EQ(entries[1].token_name(), "auditor");
  EXPECT_EQ(entries[1].code(), "OK");
  EXPECT_EQ(entries[2].method(), "ListLogs");
  EXPECT_EQ(entries[2].target(), "provider=openai search=otters");
  EXPECT_EQ(entries[3].method(), "ListLogs");
  EXPECT_EQ(entries[3].target(), "");

  // A long search is cut on a character boundary in the audit (which stays readable).
  std::string accents;
  for (int i = 0; i < 40; ++i) accents += "\u00e9";
  v1::LogQuery longSearch;
  longSearch.set_search("a" + accents);
  s = stub_->ListLogs(as(roSecret_).get(), longSearch, &list);
  ASSERT_TRUE(s.ok()) << s.error_message();
  entries = audit();
  ASSERT_FALSE(entries.empty());
  EXPECT_EQ(entries[0].target(), "search=a" + accents.substr(0, 62) + "...");
}

TEST_F(AdminLogsTest, FollowingPollsAreAuditedOnlyWhenTheyFail) {
  insertSome();
  v1::LogQuery follow;
  follow.set_after_id(1);
  v1::ListLogsResponse list;
  size_t before = audit().size();  // (ListAudit itself is audited: one row per call)
  for (int i = 0; i < 3; ++i) {
    auto s = stub_->ListLogs(as(roSecret_).get(), follow, &list);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(list.entries_size(), 2);  // ids 2 and 3
  }
  auto entries = audit();
  EXPECT_EQ(entries.size(), before + 1) << "only the previous ListAudit call added a row";
  EXPECT_EQ(entries[0].method(), "ListAudit");
  // A failing poll (a keys:write token may not read logs) is recorded.
  auto s = stub_->ListLogs(as(ciSecret_).get(), follow, &list);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  entries = audit();  // newest first; a ListAudit call's own row comes after its answer
  ASSERT_GE(entries.size(), 1u);
  EXPECT_EQ(entries[0].method(), "ListLogs");
  EXPECT_EQ(entries[0].code(), "PERMISSION_DENIED");
  EXPECT_EQ(entries[0].target(), "after_id=1");
}

TEST_F(AdminLogsTest, AKeysWriteTokenMayNotReadLogs) {
  insertSome();
  v1::ListLogsResponse list;
  auto s = stub_->ListLogs(as(ciSecret_).get(), {}, &list);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(),
            "admin token 'ci' (scope keys:write) may not call ListLogs; it needs scope admin or "
            "read");
  EXPECT_EQ(list.entries_size(), 0);
  v1::GetLogRequest get;
  get.set_id("req_a");
  v1::LogEntry entry;
  EXPECT_EQ(stub_->GetLog(as(ciSecret_).get(), get, &entry).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(entry.record().request_content().empty());
  EXPECT_EQ(stub_->GetLog(as("fo-admin-wrong").get(), get, &entry).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AdminLogsTest, ErrorsAreNotFoundAndInvalidArgument) {
  insertSome();
  v1::GetLogRequest get;
  get.set_id("req_nope");
  v1::LogEntry entry;
  auto s = stub_->GetLog(as(roSecret_).get(), get, &entry);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "request log 'req_nope' not found");
  get.set_id("");
  EXPECT_EQ(stub_->GetLog(as(roSecret_).get(), get, &entry).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  get.set_id(std::string(300, 'x'));
  EXPECT_EQ(stub_->GetLog(as(roSecret_).get(), get, &entry).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // The store's kInvalidArgument (a bad status filter, a bad limit) keeps its message.
  v1::LogQuery q;
  q.set_status("teapot");
  v1::ListLogsResponse list;
  s = stub_->ListLogs(as(roSecret_).get(), q, &list);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("teapot"), std::string::npos) << s.error_message();
  q.clear_status();
  q.set_limit(5000);
  s = stub_->ListLogs(as(roSecret_).get(), q, &list);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_FALSE(s.error_message().empty());
  EXPECT_EQ(audit()[0].code(), "INVALID_ARGUMENT");
}

class AdminLogsWithoutStoreTest : public AdminLogsTest {
 protected:
  bool withLogs() const override { return false; }
};

TEST_F(AdminLogsWithoutStoreTest, LogCallsFailCleanly) {
  v1::ListLogsResponse list;
  auto s = stub_->ListLogs(as(roSecret_).get(), {}, &list);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "request logs are not available on this control plane");
}

// ---- content switches through the admin messages ---------------------------------------------

TEST_F(AdminLogsTest, KeysLogContentRoundTripsAndReachesTheSnapshot) {
  v1::CreateKeyRequest plain;
  plain.set_name("plain");
  v1::CreateKeyResponse p;
  ASSERT_TRUE(stub_->CreateKey(as(ciSecret_).get(), plain, &p).ok());
  EXPECT_TRUE(p.key().log_content());

  v1::CreateKeyRequest quiet;
  quiet.set_name("quiet");
  quiet.set_no_content_log(true);
  v1::CreateKeyResponse q;
  ASSERT_TRUE(stub_->CreateKey(as(ciSecret_).get(), quiet, &q).ok());
  EXPECT_FALSE(q.key().log_content());
  ASSERT_TRUE(publishedKey(q.key().id()));
  EXPECT_FALSE(publishedKey(q.key().id())->log_content());
  EXPECT_TRUE(publishedKey(p.key().id())->log_content());

  v1::ListKeysResponse keys;
  ASSERT_TRUE(stub_->ListKeys(as(roSecret_).get(), {}, &keys).ok());
  ASSERT_EQ(keys.keys_size(), 2);
  for (const auto& k : keys.keys()) EXPECT_EQ(k.log_content(), k.name() == "plain") << k.name();

  uint64_t before = store_->configVersion();
  v1::UpdateKeyRequest on;
  on.set_id("quiet");
  on.set_log_content(true);
  v1::VirtualKeyInfo info;
  ASSERT_TRUE(stub_->UpdateKey(as(ciSecret_).get(), on, &info).ok());
  EXPECT_TRUE(info.log_content());
  EXPECT_GT(store_->configVersion(), before);
  EXPECT_EQ(publisher_.current()->version(), store_->configVersion()) << "published live";
  EXPECT_TRUE(publishedKey(q.key().id())->log_content());

  // An update that does not name log_content leaves it alone.
  v1::UpdateKeyRequest off;
  off.set_id("plain");
  off.set_log_content(false);
  ASSERT_TRUE(stub_->UpdateKey(as(ciSecret_).get(), off, &info).ok());
  v1::UpdateKeyRequest rename;
  rename.set_id("plain");
  rename.set_name("plain2");
  ASSERT_TRUE(stub_->UpdateKey(as(ciSecret_).get(), rename, &info).ok());
  EXPECT_FALSE(info.log_content());
  v1::KeyId id;
  id.set_id("plain2");
  ASSERT_TRUE(stub_->GetKey(as(roSecret_).get(), id, &info).ok());
  EXPECT_FALSE(info.log_content());
  EXPECT_FALSE(publishedKey(p.key().id())->log_content());
}

TEST_F(AdminLogsTest, TheLogContentSettingRoundTripsAndReachesTheSnapshot) {
  v1::SettingsInfo info;
  ASSERT_TRUE(stub_->GetSettings(as(roSecret_).get(), {}, &info).ok());
  EXPECT_TRUE(info.settings().log_content()) << "on by default";
  EXPECT_TRUE(publisher_.current()->settings().log_content());

  v1::UpdateSettingsRequest off;
  off.set_log_content(false);
  ASSERT_TRUE(stub_->UpdateSettings(as(adminSecret_).get(), off, &info).ok());
  EXPECT_FALSE(info.settings().log_content());
  EXPECT_EQ(info.config_version(), store_->configVersion());
  EXPECT_FALSE(publisher_.current()->settings().log_content());
  EXPECT_EQ(publisher_.current()->version(), store_->configVersion());

  // Changing another setting keeps it; a read token may not change it.
  v1::UpdateSettingsRequest other;
  other.set_enforce_keys(false);
  ASSERT_TRUE(stub_->UpdateSettings(as(adminSecret_).get(), other, &info).ok());
  EXPECT_FALSE(info.settings().log_content());
  v1::UpdateSettingsRequest on;
  on.set_log_content(true);
  EXPECT_EQ(stub_->UpdateSettings(as(roSecret_).get(), on, &info).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(stub_->GetSettings(as(roSecret_).get(), {}, &info).ok());
  EXPECT_FALSE(info.settings().log_content());
  ASSERT_TRUE(stub_->UpdateSettings(as(adminSecret_).get(), on, &info).ok());
  EXPECT_TRUE(info.settings().log_content());
  EXPECT_TRUE(publisher_.current()->settings().log_content());
}

}  // namespace
}  // namespace finops::cp
