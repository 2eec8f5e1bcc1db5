// The config stream over a real in-process gRPC server: a data plane that connects gets the
// current snapshot; one that is slow to read gets the newest snapshot, not every version.
#include "controlplane/grpc/config_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "finops/v1/config.grpc.pb.h"

namespace finops::cp {
namespace {

std::shared_ptr<const finops::v1::Snapshot> bigSnapshot(uint64_t version) {
  auto s = std::make_shared<finops::v1::Snapshot>();
  s->set_version(version);
  auto* p = s->add_providers();
  p->set_name("openai");
  // ~1 MB, far beyond HTTP/2 flow-control windows, so a write cannot finish while the
  // client is not reading.
  for (int i = 0; i < 16000; ++i) p->add_models("model-name-padding-padding-padding-padding-" + std::to_string(i));
  return s;
}

class ConfigStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    publisher_.publish(bigSnapshot(1));
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(&service_);
    b.SetMaxSendMessageSize(64 << 20);
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_);
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    channel_ = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port_),
                                         grpc::InsecureChannelCredentials(), args);
    stub_ = finops::v1::ConfigService::NewStub(channel_);
  }
  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now()); }

  Publisher publisher_;
  // A loopback listener without a data-plane token: data planes need no credential here
  // (dataplane_auth_test.cc covers the credentials).
  DataPlaneAuth auth_{DataPlaneAuthOptions{.loopbackOnly = true}};
  ConfigServiceImpl service_{publisher_, auth_};
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<finops::v1::ConfigService::Stub> stub_;
};

TEST_F(ConfigStreamTest, SlowDataPlaneGetsTheNewestSnapshotNotAQueue) {
  grpc::ClientContext ctx;
  auto stream = stub_->StreamConfig(&ctx);
  finops::v1::DataPlaneMessage hello;
  hello.mutable_hello()->set_node_id("dp-test");
  ASSERT_TRUE(stream->Write(hello));
  finops::v1::ConfigPush push;
  ASSERT_TRUE(stream->Read(&push));
  EXPECT_EQ(push.snapshot().version(), 1u);
  EXPECT_FALSE(push.nonce().empty());
  finops::v1::DataPlaneMessage ack;
  ack.mutable_ack()->set_version(1);
  ack.mutable_ack()->set_nonce(push.nonce());
  ASSERT_TRUE(stream->Write(ack));

  // 30 changes while the data plane does not read.
  constexpr uint64_t kLast = 31;
  for (uint64_t v = 2; v <= kLast; ++v) publisher_.publish(bigSnapshot(v));
  int received = 0;
  uint64_t last = 0;
  while (last < kLast && stream->Read(&push)) {
    ++received;
    EXPECT_GT(push.snapshot().version(), last) << "versions never go backwards";
    last = push.snapshot().version();
  }
  EXPECT_EQ(last, kLast);
  // Without coalescing all 30 would arrive; gRPC buffers a few writes in the transport.
  EXPECT_LE(received, 10) << "pushes should coalesce for a slow reader";

  // The data plane's ACK is visible to the admin API.
  bool acked = false;
  for (int i = 0; i < 100 && !acked; ++i) {
    for (const auto& d : publisher_.dataPlanes())
      if (d.node_id() == "dp-test" && d.acked_version() == 1 && d.connected()) acked = true;
    if (!acked) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(acked);
  ctx.TryCancel();
}

TEST_F(ConfigStreamTest, NackIsRecordedWithItsReason) {
  grpc::ClientContext ctx;
  auto stream = stub_->StreamConfig(&ctx);
  finops::v1::DataPlaneMessage hello;
  hello.mutable_hello()->set_node_id("dp-nack");
  ASSERT_TRUE(stream->Write(hello));
  finops::v1::ConfigPush push;
  ASSERT_TRUE(stream->Read(&push));
  finops::v1::DataPlaneMessage nack;
  nack.mutable_nack()->set_version(push.snapshot().version());
  nack.mutable_nack()->set_nonce(push.nonce());
  nack.mutable_nack()->set_error_detail("provider 'x': bad URL");
  ASSERT_TRUE(stream->Write(nack));
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    for (const auto& d : publisher_.dataPlanes())
      if (d.node_id() == "dp-nack" && d.last_nack().find("bad URL") != std::string::npos) seen = true;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(seen);
  ctx.TryCancel();
}

}  // namespace
}  // namespace finops::cp
