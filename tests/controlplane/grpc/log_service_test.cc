// LogService.Ship over a real in-process gRPC server with a real SQLite file: authenticated like
// the other data-plane services, a bad batch is refused whole with INVALID_ARGUMENT, a good one
// is stored once per request id, and the counters /metrics reads move as documented. Also the
// retention pass (with an injected clock) and the --log-max-bytes parser.
#include "controlplane/grpc/log_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/clock.h"
#include "common/crypto.h"
#include "controlplane/store/log_retention.h"
#include "controlplane/store/log_store.h"
#include "controlplane/store/store.h"
#include "finops/v1/logs.grpc.pb.h"

namespace finops::cp {
namespace {

namespace v1 = finops::v1;

const std::string kToken = "dp-token-0123456789abcdef";

v1::LogRecord record(const std::string& requestId, int64_t tsMs = wallNowMs()) {
  v1::LogRecord r;
  r.set_request_id(requestId);
  r.set_ts_ms(tsMs);
  r.set_node("dp-1");
  r.set_method("POST");
  r.set_route("/v1/chat/completions");
  r.set_provider("openai");
  r.set_model("openai/gpt-4o-mini");
  r.set_status(200);
  r.set_latency_us(1500);
  r.set_prompt_tokens(10);
  r.set_completion_tokens(5);
  r.set_content_logged(true);
  r.set_request_content(R"({"messages":[{"role":"user","content":"hello there"}]})");
  r.set_response_content("general kenobi");
  return r;
}

v1::LogBatch batchOf(std::initializer_list<v1::LogRecord> records, uint64_t dropped = 0) {
  v1::LogBatch b;
  b.set_node_id("dp-1");
  for (const auto& r : records) *b.add_records() = r;
  b.set_dropped_total(dropped);
  return b;
}

// ---- validation ------------------------------------------------------------------------------

TEST(LogBatchValidation, AcceptsAGoodBatchAndAnEmptyOne) {
  EXPECT_EQ(validateLogBatch(batchOf({record("req_1"), record("req_2")})), "");
  EXPECT_EQ(validateLogBatch(batchOf({})), "") << "an empty batch reports dropped_total";
  v1::LogBatch full;
  full.set_node_id("dp-1");
  for (size_t i = 0; i < kMaxRecordsPerBatch; ++i)
    *full.add_records() = record("req_" + std::to_string(i));
  EXPECT_EQ(validateLogBatch(full), "");
}

TEST(LogBatchValidation, RefusesWhatNoDataPlaneSends) {
  auto b = batchOf({record("req_1")});
  b.clear_node_id();
  EXPECT_EQ(validateLogBatch(b), "node_id is empty");
  b.set_node_id(std::string(129, 'n'));
  EXPECT_EQ(validateLogBatch(b), "node_id is longer than 128 bytes");

  v1::LogBatch tooMany;
  tooMany.set_node_id("dp-1");
  for (size_t i = 0; i <= kMaxRecordsPerBatch; ++i)
    *tooMany.add_records() = record("r" + std::to_string(i));
  EXPECT_EQ(validateLogBatch(tooMany), "a batch holds at most 5000 records, got 5001");

  auto bad = [](auto mutate) {
    auto r = record("req_bad");
    mutate(r);
    return validateLogBatch(batchOf({record("req_ok"), r}));
  };
  EXPECT_EQ(bad([](v1::LogRecord& r) { r.clear_request_id(); }), "record 1: request_id is empty");
  EXPECT_EQ(bad([](v1::LogRecord& r) { r.set_request_id(std::string(129, 'x')); }),
            "record 1 (request_id '" + std::string(64, 'x') +
                "...'): request_id is longer than 128 bytes");
  EXPECT_EQ(validateLogBatch(batchOf({record(std::string(128, 'x'))})), "") << "128 is fine";
  EXPECT_EQ(bad([](v1::LogRecord& r) { r.set_model(std::string(4097, 'm')); }),
            "record 1 (request_id 'req_bad'): model is longer than 4096 bytes");
  EXPECT_EQ(bad([](v1::LogRecord& r) { r.set_key_name(std::string(5000, 'k')); }),
            "record 1 (request_id 'req_bad'): key_name is longer than 4096 bytes");
  EXPECT_EQ(bad([](v1::LogRecord& r) { r.set_ts_ms(0); }),
            "record 1 (request_id 'req_bad'): ts_ms must be a positive time in milliseconds "
            "since the epoch");
  EXPECT_EQ(bad([](v1::LogRecord& r) { r.set_status(1000); }),
            "record 1 (request_id 'req_bad'): status must be from 0 to 999");
  EXPECT_EQ(bad([](v1::LogRecord& r) { r.set_latency_us(-1); }),
            "record 1 (request_id 'req_bad'): latency_us cannot be negative");
  EXPECT_EQ(bad([](v1::LogRecord& r) { r.set_cost_nano(-5); }),
            "record 1 (request_id 'req_bad'): cost_nano cannot be negative");
  // Content is bounded by the message size only.
  EXPECT_EQ(bad([](v1::LogRecord& r) { r.set_request_content(std::string(1 << 20, 'c')); }), "");
}

TEST(LogServiceStatsTest, DroppedIsTheSumOfEachNodesLatestAndNeverGoesDown) {
  LogServiceStats s;
  EXPECT_EQ(s.droppedByDataPlanes(), 0);
  s.reportDropped("a", 5);
  s.reportDropped("b", 3);
  EXPECT_EQ(s.droppedByDataPlanes(), 8);
  s.reportDropped("a", 5);  // the same total again: nothing new
  EXPECT_EQ(s.droppedByDataPlanes(), 8);
  s.reportDropped("a", 9);
  EXPECT_EQ(s.droppedByDataPlanes(), 12);
  s.reportDropped("a", 2);  // "a" restarted and dropped 2 since
  EXPECT_EQ(s.droppedByDataPlanes(), 14);
  s.reportDropped("a", 4);
  EXPECT_EQ(s.droppedByDataPlanes(), 16);
}

// ---- Ship over gRPC --------------------------------------------------------------------------

class LogServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("finops-logsvc-" + randomId(""));
    path_ = (dir_ / "finops.db").string();
    store_ = std::make_unique<Store>(path_);
    logs_ = std::make_unique<LogStore>(path_);
    auth_ = std::make_unique<DataPlaneAuth>(DataPlaneAuthOptions{.tokens = {kToken}});
    service_ = std::make_unique<LogServiceImpl>(*logs_, *auth_);
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_);
    stub_ = v1::LogService::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                                        grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
    service_.reset();
    logs_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  grpc::Status ship(const v1::LogBatch& batch, v1::LogAck* ack,
                    const std::string& authorization = "Bearer " + kToken) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
    return stub_->Ship(&ctx, batch, ack);
  }

  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<LogStore> logs_;
  std::unique_ptr<DataPlaneAuth> auth_;
  std::unique_ptr<LogServiceImpl> service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::LogService::Stub> stub_;
};

TEST_F(LogServiceTest, WithoutTheDataPlaneTokenNothingIsStored) {
  v1::LogAck ack;
  auto s = ship(batchOf({record("req_1")}, 7), &ack, "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(s.error_message().find("missing data-plane token"), std::string::npos)
      << s.error_message();
  s = ship(batchOf({record("req_1")}, 7), &ack, "Bearer " + kToken + "x");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(logs_->totals().rows, 0);
  EXPECT_EQ(service_->stats().received.load(), 0);
  EXPECT_EQ(service_->stats().droppedByDataPlanes(), 0) << "a stranger's numbers are not taken";
}

TEST_F(LogServiceTest, StoresEachRequestOnceAndCounts) {
  v1::LogAck ack;
  auto s = ship(batchOf({record("req_1"), record("req_2")}, 3), &ack);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ack.accepted(), 2);
  EXPECT_EQ(ack.stored(), 2);
  // The same batch again (the data plane did not see the answer) plus one new record.
  s = ship(batchOf({record("req_1"), record("req_2"), record("req_3")}, 4), &ack);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ack.accepted(), 3);
  EXPECT_EQ(ack.stored(), 1);
  EXPECT_EQ(logs_->totals().rows, 3);
  EXPECT_EQ(service_->stats().received.load(), 5);
  EXPECT_EQ(service_->stats().stored.load(), 3);
  EXPECT_EQ(service_->stats().droppedByDataPlanes(), 4);

  auto got = logs_->get("req_3");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->record().model(), "openai/gpt-4o-mini");
  EXPECT_EQ(got->record().response_content(), "general kenobi");

  // An empty batch only reports drops.
  s = ship(batchOf({}, 10), &ack);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ack.accepted(), 0);
  EXPECT_EQ(service_->stats().droppedByDataPlanes(), 10);
}

TEST_F(LogServiceTest, ARecordWithoutANodeTakesTheBatchsNode) {
  auto r = record("req_nonode");
  r.clear_node();
  auto batch = batchOf({r});
  batch.set_node_id("dp-7");
  v1::LogAck ack;
  ASSERT_TRUE(ship(batch, &ack).ok());
  auto got = logs_->get("req_nonode");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->record().node(), "dp-7");
}

TEST_F(LogServiceTest, ABadBatchIsRefusedWholeWithInvalidArgument) {
  auto bad = record("req_bad");
  bad.set_request_id(std::string(200, 'x'));
  v1::LogAck ack;
  auto s = ship(batchOf({record("req_good"), bad}, 2), &ack);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("request_id is longer than 128 bytes"), std::string::npos)
      << s.error_message();
  EXPECT_EQ(logs_->totals().rows, 0) << "nothing of a refused batch is stored";
  EXPECT_FALSE(logs_->get("req_good"));
  EXPECT_EQ(service_->stats().received.load(), 0);

  v1::LogBatch noNode = batchOf({record("req_1")});
  noNode.clear_node_id();
  s = ship(noNode, &ack);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "node_id is empty");
}

// ---- retention -------------------------------------------------------------------------------

TEST_F(LogServiceTest, RetentionDeletesOldLogsAndCountsThem) {
  const int64_t day = 24LL * 3600 * 1000;
  const int64_t now = wallNowMs();
  google::protobuf::RepeatedPtrField<v1::LogRecord> records;
  *records.Add() = record("req_old1", now - 40 * day);
  *records.Add() = record("req_old2", now - 31 * day);
  *records.Add() = record("req_new", now - 1 * day);
  ASSERT_EQ(logs_->insert(records), 3);

  LogRetentionOptions o;
  o.maxAgeMs = 30 * day;
  o.maxBytes = 0;
  LogRetention retention(*logs_, o, [&] { return now; });
  testing::internal::CaptureStderr();
  auto r = retention.runOnce();
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(r.deletedForAge, 2);
  EXPECT_EQ(r.deletedForSize, 0);
  EXPECT_EQ(retention.stats().deletedForAge.load(), 2);
  EXPECT_NE(err.find("request logs deleted by retention"), std::string::npos) << err;
  EXPECT_FALSE(logs_->get("req_old1"));
  EXPECT_TRUE(logs_->get("req_new"));

  // Nothing more to delete: counted as nothing, and nothing logged.
  testing::internal::CaptureStderr();
  r = retention.runOnce();
  err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(r.deletedForAge, 0);
  EXPECT_EQ(err.find("deleted by retention"), std::string::npos) << err;
  EXPECT_EQ(retention.stats().deletedForAge.load(), 2);

  // A size cap below one row's size deletes the rest, counted for size.
  LogRetentionOptions tiny;
  tiny.maxAgeMs = 0;
  tiny.maxBytes = 1;
  LogRetention bySize(*logs_, tiny, [&] { return now; });
  r = bySize.runOnce();
  EXPECT_EQ(r.deletedForSize, 1);
  EXPECT_EQ(bySize.stats().deletedForSize.load(), 1);
  EXPECT_EQ(logs_->totals().rows, 0);
}

TEST_F(LogServiceTest, TheRetentionThreadRunsAtStartAndStopsPromptly) {
  const int64_t day = 24LL * 3600 * 1000;
  google::protobuf::RepeatedPtrField<v1::LogRecord> records;
  *records.Add() = record("req_old", wallNowMs() - 100 * day);
  ASSERT_EQ(logs_->insert(records), 1);
  LogRetentionOptions o;
  o.maxAgeMs = day;
  o.interval = std::chrono::hours(1);
  LogRetention retention(*logs_, o);
  testing::internal::CaptureStderr();
  retention.start();
  for (int i = 0; i < 500 && retention.stats().deletedForAge.load() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto t0 = std::chrono::steady_clock::now();
  retention.stop();  // does not wait for the hour
  testing::internal::GetCapturedStderr();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(retention.stats().deletedForAge.load(), 1);
  EXPECT_EQ(logs_->totals().rows, 0);
  retention.stop();  // idempotent
}

TEST(ParseByteSize, TakesNumbersWithBinarySuffixes) {
  EXPECT_EQ(parseByteSize("0"), 0);
  EXPECT_EQ(parseByteSize("1073741824"), 1073741824);
  EXPECT_EQ(parseByteSize("512K"), 512 * 1024);
  EXPECT_EQ(parseByteSize("64m"), 64LL << 20);
  EXPECT_EQ(parseByteSize("1G"), 1LL << 30);
  EXPECT_EQ(parseByteSize("3g"), 3LL << 30);
  for (const char* bad : {"", "G", "-1", "1.5G", "1T", "1 G", "1GB", "12abc", " 1", "0x10",
                          "99999999999999999999", "9999999999G"})
    EXPECT_FALSE(parseByteSize(bad)) << bad;
}

}  // namespace
}  // namespace finops::cp
