#include "dataplane/logs/shipper.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <set>
#include <thread>
#include <vector>

namespace finops::dp::logs {
namespace {

namespace v1 = finops::v1;
using namespace std::chrono_literals;

// An in-process LogService that records what it receives.
class FakeLogService final : public v1::LogService::Service {
 public:
  grpc::Status Ship(grpc::ServerContext* ctx, const v1::LogBatch* batch, v1::LogAck* ack) override {
    std::lock_guard lock(mu_);
    attempts_.push_back(*batch);
    auto md = ctx->client_metadata();
    auto it = md.find("authorization");
    authorization_ = it == md.end() ? "" : std::string(it->second.data(), it->second.size());
    if (failFirst_ > 0) {
      --failFirst_;
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "not yet");
    }
    for (const auto& r : batch->records())
      if (r.request_id() == poison_)
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad record " + r.request_id());
    accepted_.push_back(*batch);
    ack->set_accepted(batch->records_size());
    ack->set_stored(batch->records_size());
    return grpc::Status::OK;
  }

  void failFirst(int n) {
    std::lock_guard lock(mu_);
    failFirst_ = n;
  }
  void poison(std::string id) {
    std::lock_guard lock(mu_);
    poison_ = std::move(id);
  }
  std::vector<v1::LogBatch> attempts() {
    std::lock_guard lock(mu_);
    return attempts_;
  }
  std::vector<v1::LogBatch> accepted() {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  std::vector<v1::LogRecord> records() {
    std::lock_guard lock(mu_);
    std::vector<v1::LogRecord> out;
    for (const auto& b : accepted_)
      for (const auto& r : b.records()) out.push_back(r);
    return out;
  }
  std::string authorization() {
    std::lock_guard lock(mu_);
    return authorization_;
  }

 private:
  std::mutex mu_;
  std::vector<v1::LogBatch> attempts_;
  std::vector<v1::LogBatch> accepted_;
  std::string authorization_;
  std::string poison_;
  int failFirst_ = 0;
};

class ShipperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_);
    ASSERT_NE(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + 1s);
  }

  ShipperOptions options() {
    ShipperOptions o;
    o.target = "127.0.0.1:" + std::to_string(port_);
    o.token = "dpt-test-token";
    o.nodeId = "node-a~x1";
    o.interval = 20ms;
    o.maxBackoff = 200ms;
    return o;
  }

  static bool waitFor(const std::function<bool()>& done, std::chrono::milliseconds limit = 15s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (done()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return done();
  }

  FakeLogService fake_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

v1::LogRecord record(const std::string& id) {
  v1::LogRecord r;
  r.set_request_id(id);
  r.set_ts_ms(1'763'800'000'000);
  r.set_method("POST");
  r.set_route("/v1/chat/completions");
  r.set_provider("openai");
  r.set_model("openai/gpt-4o-mini");
  r.set_status(200);
  r.set_dialect("client");
  return r;
}

RawContent chatContent() {
  RawContent c;
  c.request = R"({"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]})";
  c.response = R"({"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there!"},"finish_reason":"stop"}]})";
  c.dialect = "openai";
  c.route = "/v1/chat/completions";
  c.status = 200;
  return c;
}

// An address that accepts TCP connections but never answers: calls hang until their deadline.
class BlackHole {
 public:
  BlackHole() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~BlackHole() { ::close(fd_); }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(ShipperTest, DropsWhenFullByRecordsAndCounts) {
  auto o = options();
  o.maxRecords = 3;
  Shipper s(o);  // not started: nothing leaves the buffer
  int accepted = 0;
  for (int i = 0; i < 5; ++i) accepted += s.offer(record("req_" + std::to_string(i)));
  EXPECT_EQ(accepted, 3);
  EXPECT_EQ(s.buffered(), 3);
  EXPECT_EQ(s.dropped(), 2);
  EXPECT_GT(s.bufferedBytes(), 0);
}

TEST_F(ShipperTest, DropsWhenFullByBytesCountingContent) {
  auto o = options();
  o.maxBytes = 1500;
  Shipper s(o);
  auto withContent = [] {
    RawContent c = chatContent();
    c.request = std::string(400, 'x');
    return c;
  };
  const auto contentBytes = static_cast<int64_t>(400 + withContent().response.size());
  EXPECT_TRUE(s.offer(record("req_1"), withContent()));
  const int64_t one = s.bufferedBytes();
  EXPECT_GT(one, contentBytes);  // the record's own size counts too
  EXPECT_LT(one, contentBytes + 200);
  EXPECT_TRUE(s.offer(record("req_2"), withContent()));  // about 1300 of 1500
  EXPECT_EQ(s.bufferedBytes(), 2 * one);
  EXPECT_FALSE(s.offer(record("req_3"), withContent()));
  EXPECT_EQ(s.dropped(), 1);
  EXPECT_EQ(s.buffered(), 2);
  EXPECT_EQ(s.bufferedBytes(), 2 * one);
  // A small record without content still fits.
  EXPECT_TRUE(s.offer(record("req_4")));
  EXPECT_EQ(s.buffered(), 3);
}

TEST_F(ShipperTest, ShipsBatchesWithContentAndToken) {
  auto o = options();
  o.maxBatch = 3;
  Shipper s(o);
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(s.offer(record("req_" + std::to_string(i)), chatContent()));
  s.start();
  ASSERT_TRUE(waitFor([&] { return fake_.records().size() == 7; })) << fake_.records().size();
  EXPECT_TRUE(waitFor([&] { return s.buffered() == 0; }));
  EXPECT_EQ(s.shipped(), 7);
  EXPECT_EQ(s.bufferedBytes(), 0);
  EXPECT_EQ(s.dropped(), 0);
  EXPECT_EQ(fake_.authorization(), "Bearer dpt-test-token");
  std::set<std::string> ids;
  for (const auto& b : fake_.accepted()) {
    EXPECT_LE(b.records_size(), 3);
    EXPECT_EQ(b.node_id(), "node-a~x1");
    EXPECT_EQ(b.dropped_total(), 0u);
  }
  for (const auto& r : fake_.records()) {
    ids.insert(r.request_id());
    EXPECT_TRUE(r.content_logged());
    EXPECT_FALSE(r.content_truncated());
    EXPECT_EQ(r.request_content(), chatContent().request);
    EXPECT_EQ(r.response_content(), "Hello there!");
    EXPECT_EQ(r.model(), "openai/gpt-4o-mini");
  }
  EXPECT_EQ(ids.size(), 7u);
  s.stopAndFlush(1s);
}

TEST_F(ShipperTest, RecordsWithoutContentTravelAsTheyAre) {
  Shipper s(options());
  auto r = record("req_plain");
  r.set_prompt_tokens(12);
  ASSERT_TRUE(s.offer(std::move(r)));
  s.start();
  ASSERT_TRUE(waitFor([&] { return fake_.records().size() == 1; }));
  auto got = fake_.records()[0];
  EXPECT_EQ(got.request_id(), "req_plain");
  EXPECT_EQ(got.prompt_tokens(), 12);
  EXPECT_FALSE(got.content_logged());
  EXPECT_TRUE(got.request_content().empty());
}

TEST_F(ShipperTest, ResendsTheSameBatchAfterAFailure) {
  fake_.failFirst(2);
  Shipper s(options());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.offer(record("req_" + std::to_string(i))));
  s.start();
  ASSERT_TRUE(waitFor([&] { return s.buffered() == 0; })) << fake_.attempts().size();
  EXPECT_GE(s.shipFailures(), 2);
  EXPECT_EQ(s.shipped(), 5);
  EXPECT_EQ(s.buffered(), 0);
  auto attempts = fake_.attempts();
  ASSERT_GE(attempts.size(), 3u);
  // The refused batch is the one sent again, whole and first.
  ASSERT_EQ(attempts[0].records_size(), 5);
  for (size_t a = 1; a < 3; ++a) {
    ASSERT_EQ(attempts[a].records_size(), 5);
    for (int i = 0; i < 5; ++i)
      EXPECT_EQ(attempts[a].records(i).request_id(), attempts[0].records(i).request_id());
  }
  std::multiset<std::string> ids;
  for (const auto& r : fake_.records()) ids.insert(r.request_id());
  EXPECT_EQ(ids.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(ids.count("req_" + std::to_string(i)), 1u);
}

TEST_F(ShipperTest, EveryBatchCarriesTheDroppedTotal) {
  auto o = options();
  o.maxRecords = 2;
  Shipper s(o);
  for (int i = 0; i < 4; ++i) s.offer(record("req_" + std::to_string(i)));
  ASSERT_EQ(s.dropped(), 2);
  s.start();
  ASSERT_TRUE(waitFor([&] { return fake_.records().size() == 2; }));
  for (const auto& b : fake_.accepted()) EXPECT_EQ(b.dropped_total(), 2u);
}

TEST_F(ShipperTest, ARefusedRecordIsDroppedAndTheRestShipped) {
  fake_.poison("req_2");
  Shipper s(options());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.offer(record("req_" + std::to_string(i))));
  s.start();
  ASSERT_TRUE(waitFor([&] { return s.buffered() == 0; })) << s.buffered();
  std::set<std::string> ids;
  for (const auto& r : fake_.records()) ids.insert(r.request_id());
  EXPECT_EQ(ids, (std::set<std::string>{"req_0", "req_1", "req_3", "req_4"}));
  EXPECT_EQ(s.dropped(), 1);
  EXPECT_EQ(s.shipped(), 4);
}

TEST_F(ShipperTest, StopAndFlushShipsWhatIsBuffered) {
  auto o = options();
  o.interval = std::chrono::hours(1);  // the thread would wait; the flush must not
  Shipper s(o);
  s.start();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(s.offer(record("req_" + std::to_string(i))));
  s.stopAndFlush(5s);
  EXPECT_EQ(fake_.records().size(), 4u);
  EXPECT_EQ(s.shipped(), 4);
  EXPECT_EQ(s.buffered(), 0);
  // Closed: later records are dropped and counted.
  EXPECT_FALSE(s.offer(record("req_late")));
  EXPECT_EQ(s.dropped(), 1);
}

TEST_F(ShipperTest, StopAndFlushWithoutStartShipsToo) {
  Shipper s(options());
  ASSERT_TRUE(s.offer(record("req_0")));
  s.stopAndFlush(5s);
  EXPECT_EQ(fake_.records().size(), 1u);
}

TEST_F(ShipperTest, StopAndFlushGivesUpAtTheDeadline) {
  BlackHole hole;
  auto o = options();
  o.target = hole.target();
  Shipper s(o);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.offer(record("req_" + std::to_string(i))));
  s.start();
  std::this_thread::sleep_for(100ms);  // a call is under way, with a 10 s deadline
  auto t0 = std::chrono::steady_clock::now();
  s.stopAndFlush(300ms);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 5s);  // not the call's 10 s
  EXPECT_EQ(s.buffered(), 3);  // lost (and logged)
  EXPECT_EQ(s.shipped(), 0);
}

TEST_F(ShipperTest, OfferNeverBlocksWhenTheControlPlaneHangs) {
  BlackHole hole;
  auto o = options();
  o.target = hole.target();
  o.maxRecords = 1000;
  Shipper s(o);
  s.start();
  std::atomic<int64_t> accepted{0};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25000; ++i) {
        auto r = record("req_" + std::to_string(t) + "_" + std::to_string(i));
        if (s.offer(std::move(r), i % 10 == 0 ? std::optional<RawContent>(chatContent()) : std::nullopt))
          accepted.fetch_add(1);
      }
    });
  for (auto& th : threads) th.join();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 10s);  // generous: it takes milliseconds
  EXPECT_EQ(accepted.load() + s.dropped(), 100000);
  EXPECT_LE(accepted.load(), 1000);
  EXPECT_GE(s.dropped(), 99000);
  EXPECT_EQ(s.shipped(), 0);
  s.stopAndFlush(0ms);
}

TEST_F(ShipperTest, ContentIsCutAtUtf8BoundariesAndMarkedTruncated) {
  auto o = options();
  o.maxContentBytes = 10;
  Shipper s(o);
  RawContent c = chatContent();
  c.request = "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9";  // 6 x "é", 12 bytes
  c.response = R"({"choices":[{"index":0,"message":{"content":"abcdefghi\u00e9z"}}]})";
  ASSERT_TRUE(s.offer(record("req_cut"), c));

  RawContent partial = chatContent();
  partial.request = std::string("ab\xE2\x82");  // the capturer cut inside "€"
  partial.truncated = true;
  partial.response = std::string("raw \xFF");
  ASSERT_TRUE(s.offer(record("req_partial"), partial));

  RawContent fits = chatContent();
  fits.request = "{}";
  fits.response = "0123456789";  // exactly the limit
  ASSERT_TRUE(s.offer(record("req_fits"), fits));
  s.stopAndFlush(5s);
  auto recs = fake_.records();
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].request_content(), "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9");  // 10 bytes
  EXPECT_EQ(recs[0].response_content(), "abcdefghi");  // "é" would pass 10 bytes
  EXPECT_TRUE(recs[0].content_truncated());
  EXPECT_TRUE(recs[0].content_logged());
  EXPECT_EQ(recs[1].request_content(), "ab");
  EXPECT_EQ(recs[1].response_content(), "raw \xEF\xBF\xBD");
  EXPECT_TRUE(recs[1].content_truncated());
  EXPECT_EQ(recs[2].request_content(), "{}");
  EXPECT_EQ(recs[2].response_content(), "0123456789");
  EXPECT_FALSE(recs[2].content_truncated());
}

TEST_F(ShipperTest, NoContentWhenTheLimitIsZero) {
  auto o = options();
  o.maxContentBytes = 0;
  Shipper s(o);
  ASSERT_TRUE(s.offer(record("req_0"), chatContent()));
  s.stopAndFlush(5s);
  auto recs = fake_.records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_FALSE(recs[0].content_logged());
  EXPECT_TRUE(recs[0].request_content().empty());
  EXPECT_TRUE(recs[0].response_content().empty());
}

TEST_F(ShipperTest, InvalidUtf8InFieldsIsRepaired) {
  Shipper s(options());
  auto r = record("req_bad");
  r.set_route(std::string("/v1/\xFF\xFE"));
  r.set_model(std::string("gpt\xC3"));
  ASSERT_TRUE(s.offer(std::move(r)));
  s.stopAndFlush(5s);
  auto recs = fake_.records();
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].route(), "/v1/\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(recs[0].model(), "gpt\xEF\xBF\xBD");
}

}  // namespace
}  // namespace finops::dp::logs
