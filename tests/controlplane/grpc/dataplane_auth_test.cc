// Who may use the data planes' services (ConfigService: every provider key; UsageService: budget
// spending), over a real in-process gRPC server: a configured data-plane token is required on
// both, any of several tokens works, the loopback exception holds only without a token, a
// client certificate verified under mutual TLS stands in for the token (and a flag alone does
// not), and a real data-plane Subscriber presents its token.
#include "controlplane/grpc/dataplane_auth.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/crypto.h"
#include "common/grpc_tls.h"
#include "controlplane/grpc/config_service.h"
#include "controlplane/grpc/usage_service.h"
#include "controlplane/store/store.h"
#include "dataplane/config/subscriber.h"
#include "finops/v1/config.grpc.pb.h"
#include "finops/v1/usage.grpc.pb.h"
#include "tests/common/test_pki.h"

namespace finops::cp {
namespace {

namespace v1 = finops::v1;
using finops::testing::CertKind;
using finops::testing::makeTestCert;

const std::string kTokenA = "dp-token-A-0123456789abcdef";
const std::string kTokenB = "dp-token-B-fedcba9876543210";
const std::string kProviderSecret = "sk-provider-secret-never-to-strangers";

// ---- the startup rule -----------------------------------------------------------------------

TEST(DataPlaneAuthStartup, NonLoopbackWithoutAnyCredentialDoesNotStart) {
  std::string why = dataPlaneAuthStartupError({}, "0.0.0.0:50051");
  ASSERT_FALSE(why.empty());
  EXPECT_NE(why.find("0.0.0.0:50051"), std::string::npos) << why;
  EXPECT_NE(why.find("--dataplane-token-file FILE"), std::string::npos) << why;
  EXPECT_NE(why.find("--control-plane-token-file FILE"), std::string::npos) << why;
  EXPECT_NE(why.find("--tls-client-ca"), std::string::npos) << why;
  EXPECT_NE(why.find("--allow-unauthenticated-dataplanes (unsafe)"), std::string::npos) << why;

  EXPECT_EQ(dataPlaneAuthStartupError({.tokens = {kTokenA}}, "0.0.0.0:50051"), "");
  EXPECT_EQ(dataPlaneAuthStartupError({.mutualTls = true}, "0.0.0.0:50051"), "");
  EXPECT_EQ(dataPlaneAuthStartupError({.allowUnauthenticated = true}, "0.0.0.0:50051"), "");
  EXPECT_EQ(dataPlaneAuthStartupError({.loopbackOnly = true}, "127.0.0.1:50051"), "");
}

TEST(DataPlaneAuthStartup, OpenOnlyWithoutTokens) {
  EXPECT_TRUE(DataPlaneAuth({.loopbackOnly = true}).open());
  EXPECT_TRUE(DataPlaneAuth({.allowUnauthenticated = true}).open());
  EXPECT_FALSE(DataPlaneAuth({.tokens = {kTokenA}, .loopbackOnly = true}).open());
  EXPECT_FALSE(DataPlaneAuth({.tokens = {kTokenA}, .allowUnauthenticated = true}).open());
  EXPECT_FALSE(DataPlaneAuth({}).open());
  EXPECT_EQ(DataPlaneAuth({.tokens = {kTokenA, kTokenB}}).tokenCount(), 2u);
}

// ---- the services over gRPC -----------------------------------------------------------------

std::shared_ptr<const v1::Snapshot> snapshotWithASecret(uint64_t version) {
  auto s = std::make_shared<v1::Snapshot>();
  s->set_version(version);
  auto* p = s->add_providers();
  p->set_name("openai");
  auto* k = p->add_keys();
  k->set_id("pk_1");
  k->set_value(kProviderSecret);
  return s;
}

// A control plane's data-plane services (config stream and usage reports) on 127.0.0.1:0.
class DataPlaneServices {
 public:
  DataPlaneServices(DataPlaneAuthOptions options,
                    std::shared_ptr<grpc::ServerCredentials> credentials,
                    std::shared_ptr<const v1::Snapshot> snapshot)
      : dir_(std::filesystem::temp_directory_path() / ("finops-dpauth-" + randomId(""))),
        store_((dir_ / "finops.db").string()),
        auth_(std::move(options)),
        config_(publisher_, auth_),
        usage_(store_, auth_) {
    publisher_.publish(std::move(snapshot));
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", credentials ? credentials : grpc::InsecureServerCredentials(),
                       &port_);
    b.RegisterService(&config_);
    b.RegisterService(&usage_);
    server_ = b.BuildAndStart();
  }
  ~DataPlaneServices() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool started() const { return server_ && port_ != 0; }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  Publisher& publisher() { return publisher_; }

 private:
  std::filesystem::path dir_;
  Store store_;
  Publisher publisher_;
  DataPlaneAuth auth_;
  ConfigServiceImpl config_;
  UsageServiceImpl usage_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

struct Subscription {
  bool gotSnapshot = false;
  std::string pushBytes;  // the serialized push, when one arrived
  grpc::Status status;    // how the stream ended (CANCELLED after a push: the test hung up)
};

// Opens the config stream like a data plane, with `authorization` metadata when not empty,
// and reads at most one push.
Subscription subscribe(const std::shared_ptr<grpc::Channel>& channel,
                       const std::string& authorization, const std::string& nodeId = "dp-test") {
  auto stub = v1::ConfigService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
  auto stream = stub->StreamConfig(&ctx);
  v1::DataPlaneMessage hello;
  hello.mutable_hello()->set_node_id(nodeId);
  stream->Write(hello);
  Subscription out;
  v1::ConfigPush push;
  if (stream->Read(&push)) {
    out.gotSnapshot = true;
    out.pushBytes = push.SerializeAsString();
    ctx.TryCancel();
  }
  out.status = stream->Finish();
  return out;
}

grpc::Status report(const std::shared_ptr<grpc::Channel>& channel,
                    const std::string& authorization) {
  auto stub = v1::UsageService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
  v1::UsageReport req;
  req.set_node_id("dp-test~1");
  req.set_node_name("dp-test");
  v1::UsageReply reply;
  return stub->Report(&ctx, req, &reply);
}

std::shared_ptr<grpc::Channel> plaintextChannel(const DataPlaneServices& s) {
  return grpc::CreateChannel(s.target(), grpc::InsecureChannelCredentials());
}

bool listed(Publisher& p, const std::string& nodeId) {
  for (const auto& d : p.dataPlanes())
    if (d.node_id() == nodeId) return true;
  return false;
}

TEST(DataPlaneAuthService, WithATokenConfiguredBothServicesRefuseCallersWithoutIt) {
  // On loopback too: a configured token is always required.
  DataPlaneServices cp({.tokens = {kTokenA, kTokenB}, .loopbackOnly = true}, nullptr,
                       snapshotWithASecret(1));
  ASSERT_TRUE(cp.started());
  auto ch = plaintextChannel(cp);

  auto none = subscribe(ch, "", "dp-stranger");
  EXPECT_FALSE(none.gotSnapshot);
  EXPECT_EQ(none.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(none.status.error_message().find("missing data-plane token"), std::string::npos)
      << none.status.error_message();
  EXPECT_NE(none.status.error_message().find("--control-plane-token-file"), std::string::npos);
  grpc::Status r = report(ch, "");
  EXPECT_EQ(r.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(r.error_message().find("missing data-plane token"), std::string::npos);

  auto wrong = subscribe(ch, "Bearer " + kTokenA + "x", "dp-stranger");
  EXPECT_FALSE(wrong.gotSnapshot);
  EXPECT_EQ(wrong.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(wrong.status.error_message().find("invalid data-plane token"), std::string::npos)
      << wrong.status.error_message();
  EXPECT_EQ(wrong.status.error_message().find(kTokenA), std::string::npos)
      << "the answer never echoes a token";
  EXPECT_EQ(report(ch, "Bearer " + kTokenA.substr(1)).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Another scheme, or the token without "Bearer ", is not a data-plane token.
  EXPECT_EQ(subscribe(ch, "Basic " + kTokenA).status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(report(ch, kTokenA).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_FALSE(listed(cp.publisher(), "dp-stranger")) << "a refused stream is not a data plane";

  // The first token: the snapshot (with the provider key) arrives; reports are applied.
  auto a = subscribe(ch, "Bearer " + kTokenA, "dp-a");
  ASSERT_TRUE(a.gotSnapshot) << a.status.error_message();
  EXPECT_NE(a.pushBytes.find(kProviderSecret), std::string::npos);
  grpc::Status ra = report(ch, "Bearer " + kTokenA);
  EXPECT_TRUE(ra.ok()) << ra.error_message();
  // The second token in the file works as well (rotation), and the scheme is case-insensitive.
  auto b = subscribe(ch, "bearer " + kTokenB, "dp-b");
  EXPECT_TRUE(b.gotSnapshot) << b.status.error_message();
  grpc::Status rb = report(ch, "Bearer " + kTokenB);
  EXPECT_TRUE(rb.ok()) << rb.error_message();
  EXPECT_NE(none.status.error_code(), a.status.error_code());
}

TEST(DataPlaneAuthService, LoopbackExceptionOnlyWithoutAToken) {
  {
    DataPlaneServices cp({.loopbackOnly = true}, nullptr, snapshotWithASecret(1));
    ASSERT_TRUE(cp.started());
    auto ch = plaintextChannel(cp);
    auto s = subscribe(ch, "");
    EXPECT_TRUE(s.gotSnapshot) << s.status.error_message();
    grpc::Status r = report(ch, "");
    EXPECT_TRUE(r.ok()) << r.error_message();
  }
  {
    // The same listener with a token configured: the exception is gone.
    DataPlaneServices cp({.tokens = {kTokenA}, .loopbackOnly = true}, nullptr,
                         snapshotWithASecret(1));
    ASSERT_TRUE(cp.started());
    auto ch = plaintextChannel(cp);
    EXPECT_EQ(subscribe(ch, "").status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(report(ch, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    // Not loopback, no credential of any kind (main() refuses to start like this): nobody gets
    // in rather than everybody.
    DataPlaneServices cp({}, nullptr, snapshotWithASecret(1));
    ASSERT_TRUE(cp.started());
    auto ch = plaintextChannel(cp);
    auto s = subscribe(ch, "");
    EXPECT_FALSE(s.gotSnapshot);
    EXPECT_EQ(s.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(report(ch, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    // --allow-unauthenticated-dataplanes: anyone (the documented unsafe choice).
    DataPlaneServices cp({.allowUnauthenticated = true}, nullptr, snapshotWithASecret(1));
    ASSERT_TRUE(cp.started());
    EXPECT_TRUE(subscribe(plaintextChannel(cp), "").gotSnapshot);
  }
}

// ---- mutual TLS ---------------------------------------------------------------------------------

class DataPlaneAuthTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("finops-dpauth-pki-" + randomId("")));
    std::filesystem::create_directories(*dir_);
    auto ca = makeTestCert("FinOps test CA", CertKind::kCa);
    auto server = makeTestCert("localhost", CertKind::kServer, &ca);
    auto client = makeTestCert("dataplane-1", CertKind::kClient, &ca);
    write("ca.crt", ca.certPem);
    write("server.crt", server.certPem);
    write("server.key", server.keyPem);
    write("client.crt", client.certPem);
    write("client.key", client.keyPem);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(*dir_, ec);
    delete dir_;
  }
  static void write(const std::string& name, const std::string& content) {
    std::ofstream(path(name), std::ios::binary) << content;
  }
  static std::string path(const std::string& name) { return (*dir_ / name).string(); }

  static std::shared_ptr<grpc::ServerCredentials> serverCredentials(bool mutual) {
    std::string error;
    auto creds = makeServerCredentials(
        {path("server.crt"), path("server.key"), mutual ? path("ca.crt") : ""}, &error);
    EXPECT_NE(creds, nullptr) << error;
    return creds;
  }
  static std::shared_ptr<grpc::Channel> channel(const std::string& target, bool clientCert) {
    std::string error;
    auto security = makeChannelSecurity({path("ca.crt"), clientCert ? path("client.crt") : "",
                                         clientCert ? path("client.key") : "", ""},
                                        &error);
    EXPECT_TRUE(security) << error;
    return security->createChannel(target, {});
  }

  static std::filesystem::path* dir_;
};

std::filesystem::path* DataPlaneAuthTls::dir_ = nullptr;

TEST_F(DataPlaneAuthTls, AVerifiedClientCertificateNeedsNoToken) {
  DataPlaneServices cp({.tokens = {kTokenA}, .mutualTls = true}, serverCredentials(true),
                       snapshotWithASecret(3));
  ASSERT_TRUE(cp.started());
  auto ch = channel(cp.target(), true);
  auto s = subscribe(ch, "", "dp-mtls");
  ASSERT_TRUE(s.gotSnapshot) << s.status.error_message();
  grpc::Status r = report(ch, "");
  EXPECT_TRUE(r.ok()) << r.error_message();
  // With the token as well: still fine.
  EXPECT_TRUE(subscribe(ch, "Bearer " + kTokenA).gotSnapshot);
  // Without a client certificate the handshake itself fails.
  EXPECT_EQ(subscribe(channel(cp.target(), false), "Bearer " + kTokenA).status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(DataPlaneAuthTls, TheMutualTlsFlagAloneIsNotTrusted) {
  // A server that does not verify client certificates, wrongly told it does: a certificate the
  // client sends anyway, or none, is no credential; the token still is.
  DataPlaneServices tls({.tokens = {kTokenA}, .mutualTls = true}, serverCredentials(false),
                        snapshotWithASecret(1));
  ASSERT_TRUE(tls.started());
  auto ch = channel(tls.target(), true);
  auto s = subscribe(ch, "");
  EXPECT_FALSE(s.gotSnapshot);
  EXPECT_EQ(s.status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.status.error_message();
  EXPECT_EQ(report(ch, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(subscribe(ch, "Bearer " + kTokenA).gotSnapshot);

  DataPlaneServices plain({.tokens = {kTokenA}, .mutualTls = true}, nullptr,
                          snapshotWithASecret(1));
  ASSERT_TRUE(plain.started());
  EXPECT_EQ(subscribe(plaintextChannel(plain), "").status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

// ---- the data plane's side ------------------------------------------------------------------

TEST(DataPlaneAuthSubscriber, ASubscriberWithTheTokenGetsConfigOneWithoutNever) {
  auto snap = std::make_shared<v1::Snapshot>();
  snap->set_version(7);
  DataPlaneServices cp({.tokens = {kTokenA, kTokenB}, .loopbackOnly = true}, nullptr, snap);
  ASSERT_TRUE(cp.started());

  dp::ConfigStore without;
  dp::Subscriber refused(cp.target(), "dp-no-token", without);
  refused.start();
  dp::ConfigStore with;
  dp::Subscriber accepted(cp.target(), "dp-token", with, {}, kTokenB);
  accepted.start();

  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!with.get() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(with.get()) << "the data plane with the second token got no config";
  EXPECT_EQ(with.get()->version, 7u);
  // Meanwhile (and for a few retries more) the one without a token got nothing.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_FALSE(without.get());
  EXPECT_FALSE(listed(cp.publisher(), "dp-no-token"));
  EXPECT_TRUE(listed(cp.publisher(), "dp-token"));
  refused.stop();
  accepted.stop();
}

TEST(DataPlaneAuthSubscriber, TheHintNamesTheFlags) {
  std::string none = dp::controlPlaneAuthHint({}, false);
  EXPECT_NE(none.find("--control-plane-token-file"), std::string::npos) << none;
  EXPECT_NE(none.find("--control-plane-cert"), std::string::npos) << none;
  std::string given = dp::controlPlaneAuthHint({}, true);
  EXPECT_NE(given.find("does not accept this data plane's token"), std::string::npos) << given;
}

}  // namespace
}  // namespace finops::cp
