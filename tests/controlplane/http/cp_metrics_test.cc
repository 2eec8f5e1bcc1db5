// The control plane's series: the collectors read what the services keep, and the admin and
// usage services count their calls and records (over a real in-process gRPC server).
#include "controlplane/http/cp_metrics.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/crypto.h"
#include "controlplane/grpc/admin_service.h"
#include "controlplane/grpc/config_service.h"
#include "controlplane/grpc/dataplane_auth.h"
#include "controlplane/grpc/usage_service.h"
#include "finops/v1/admin.grpc.pb.h"
#include "finops/v1/usage.grpc.pb.h"

namespace finops::cp {
namespace {

namespace v1 = finops::v1;

// The value of the series line starting with `series ` in `text` ("" when absent).
std::string valueOf(const std::string& text, const std::string& series) {
  size_t pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) return "";
  pos += series.size() + 2;
  return text.substr(pos, text.find('\n', pos) - pos);
}

TEST(CpMetrics, LogMetricsText) {
  LogMetricValues v;
  v.received = 12;
  v.stored = 10;
  v.droppedByDataPlanes = 3;
  v.haveTotals = true;
  v.storeRows = 9;
  v.storeBytes = 4096;
  v.deletedForAge = 1;
  v.deletedForSize = 0;
  std::string out;
  writeLogMetrics(out, v);
  EXPECT_EQ(valueOf(out, "finops_log_records_received_total"), "12");
  EXPECT_EQ(valueOf(out, "finops_log_records_stored_total"), "10");
  EXPECT_EQ(valueOf(out, "finops_log_records_dropped_by_dataplanes_total"), "3");
  EXPECT_EQ(valueOf(out, "finops_log_store_rows"), "9");
  EXPECT_EQ(valueOf(out, "finops_log_store_bytes"), "4096");
  EXPECT_EQ(valueOf(out, "finops_log_records_deleted_total{reason=\"age\"}"), "1");
  EXPECT_EQ(valueOf(out, "finops_log_records_deleted_total{reason=\"size\"}"), "0");
  for (const char* type :
       {"# TYPE finops_log_records_received_total counter\n",
        "# TYPE finops_log_records_stored_total counter\n",
        "# TYPE finops_log_records_dropped_by_dataplanes_total counter\n",
        "# TYPE finops_log_store_rows gauge\n", "# TYPE finops_log_store_bytes gauge\n",
        "# TYPE finops_log_records_deleted_total counter\n"})
    EXPECT_NE(out.find(type), std::string::npos) << type;
}

TEST(CpMetrics, LogMetricsWithoutSourcesAreZeroAndLeaveStoreGaugesOut) {
  metrics::Registry r;
  addLogMetrics(r, nullptr, nullptr, nullptr);
  std::string out = r.render();
  EXPECT_EQ(valueOf(out, "finops_log_records_received_total"), "0");
  EXPECT_EQ(valueOf(out, "finops_log_records_deleted_total{reason=\"size\"}"), "0");
  EXPECT_EQ(out.find("finops_log_store_rows"), std::string::npos);
}

TEST(CpMetrics, ConfigVersionAndConnectedDataPlanes) {
  metrics::Registry r;
  Publisher publisher;
  addConfigMetrics(r, publisher);
  std::string out = r.render();
  EXPECT_EQ(valueOf(out, "finops_config_version"), "0");
  EXPECT_EQ(valueOf(out, "finops_dataplanes_connected"), "0");
  auto snap = std::make_shared<v1::Snapshot>();
  snap->set_version(5);
  publisher.publish(snap);
  publisher.updateInfo("conn_a", [](v1::DataPlaneInfo& i) {
    i.set_node_id("dp-a");
    i.set_connected(true);
  });
  publisher.updateInfo("conn_b", [](v1::DataPlaneInfo& i) {
    i.set_node_id("dp-b");
    i.set_connected(true);
  });
  publisher.updateInfo("conn_c", [](v1::DataPlaneInfo& i) {
    i.set_node_id("dp-c");
    i.set_connected(false);
  });
  out = r.render();
  EXPECT_EQ(valueOf(out, "finops_config_version"), "5");
  EXPECT_EQ(valueOf(out, "finops_dataplanes_connected"), "2");
  publisher.updateInfo("conn_a", [](v1::DataPlaneInfo& i) { i.set_connected(false); });
  EXPECT_EQ(valueOf(r.render(), "finops_dataplanes_connected"), "1");
}

class CpServicesMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("finops-cpmetrics-" + randomId(""));
    std::filesystem::create_directories(dir_);
    store_ = std::make_unique<Store>((dir_ / "finops.db").string());
    adminSecret_ = *store_->ensureInitialAdminToken();
    std::string adminId = store_->findAdminToken(adminSecret_)->id;
    readSecret_ = store_->createAdminToken("auditor", "read", adminId).second;
    calls_ = makeAdminCallsFamily(registry_);
    admin_ = std::make_unique<AdminServiceImpl>(*store_, publisher_);
    admin_->setCallCounter(calls_.get());
    usage_ = std::make_unique<UsageServiceImpl>(*store_, auth_);
    addUsageMetrics(registry_, *usage_);
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(admin_.get());
    b.RegisterService(usage_.get());
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_);
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                       grpc::InsecureChannelCredentials());
    adminStub_ = v1::AdminService::NewStub(channel);
    usageStub_ = v1::UsageService::NewStub(channel);
  }

  void TearDown() override {
    server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
    usage_.reset();
    admin_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<grpc::ClientContext> as(const std::string& secret) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!secret.empty()) ctx->AddMetadata("authorization", "Bearer " + secret);
    return ctx;
  }

  v1::UsageReply report(std::initializer_list<const char*> requestIds) {
    v1::UsageReport req;
    req.set_node_id("dp-1");
    req.set_node_name("dp-1");
    for (const char* id : requestIds) {
      auto* r = req.add_records();
      r->set_request_id(id);
      r->set_ts_ms(1'700'000'000'000);
      r->set_provider("openai");
      r->set_model("openai/gpt-4o-mini");
      r->set_status(200);
    }
    v1::UsageReply reply;
    auto s = usageStub_->Report(as("").get(), req, &reply);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return reply;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::string adminSecret_, readSecret_;
  metrics::Registry registry_;
  std::unique_ptr<metrics::CounterFamily> calls_;
  Publisher publisher_;
  DataPlaneAuth auth_{DataPlaneAuthOptions{.loopbackOnly = true}};
  std::unique_ptr<AdminServiceImpl> admin_;
  std::unique_ptr<UsageServiceImpl> usage_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::AdminService::Stub> adminStub_;
  std::unique_ptr<v1::UsageService::Stub> usageStub_;
};

TEST_F(CpServicesMetricsTest, AdminCallsAreCountedByMethodAndCode) {
  v1::WhoAmIResponse who;
  EXPECT_TRUE(adminStub_->WhoAmI(as(adminSecret_).get(), {}, &who).ok());
  EXPECT_TRUE(adminStub_->WhoAmI(as(readSecret_).get(), {}, &who).ok());
  EXPECT_EQ(adminStub_->WhoAmI(as("").get(), {}, &who).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  v1::CreateKeyRequest create;
  create.set_name("k");
  v1::CreateKeyResponse created;
  EXPECT_EQ(adminStub_->CreateKey(as(readSecret_).get(), create, &created).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::KeyId id;
  id.set_id("no-such-key");
  v1::VirtualKeyInfo info;
  EXPECT_EQ(adminStub_->GetKey(as(adminSecret_).get(), id, &info).error_code(),
            grpc::StatusCode::NOT_FOUND);
  std::string out = registry_.render();
  EXPECT_NE(out.find("# TYPE finops_admin_calls_total counter\n"), std::string::npos);
  EXPECT_EQ(valueOf(out, "finops_admin_calls_total{method=\"WhoAmI\",code=\"OK\"}"), "2") << out;
  EXPECT_EQ(valueOf(out, "finops_admin_calls_total{method=\"WhoAmI\",code=\"UNAUTHENTICATED\"}"),
            "1");
  EXPECT_EQ(
      valueOf(out, "finops_admin_calls_total{method=\"CreateKey\",code=\"PERMISSION_DENIED\"}"),
      "1");
  EXPECT_EQ(valueOf(out, "finops_admin_calls_total{method=\"GetKey\",code=\"NOT_FOUND\"}"), "1");
}

TEST_F(CpServicesMetricsTest, UnauthenticatedCallsBeyondTheAuditLimitAreStillCounted) {
  v1::WhoAmIResponse who;
  for (int i = 0; i < 70; ++i) adminStub_->WhoAmI(as("").get(), {}, &who);
  EXPECT_EQ(valueOf(registry_.render(),
                    "finops_admin_calls_total{method=\"WhoAmI\",code=\"UNAUTHENTICATED\"}"),
            "70");
}

TEST_F(CpServicesMetricsTest, UsageRecordsAppliedCountsNewRecordsOnly) {
  EXPECT_EQ(valueOf(registry_.render(), "finops_usage_records_applied_total"), "0");
  EXPECT_EQ(report({"req_1", "req_2"}).applied(), 2);
  EXPECT_EQ(report({"req_1", "req_2", "req_3"}).applied(), 1);  // two resent
  EXPECT_EQ(valueOf(registry_.render(), "finops_usage_records_applied_total"), "3");
}

}  // namespace
}  // namespace finops::cp
