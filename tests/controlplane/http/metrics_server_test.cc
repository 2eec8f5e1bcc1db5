#include "controlplane/http/metrics_server.h"

#include <gtest/gtest.h>

// clang-format off
#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without it
// clang-format on
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

namespace finops::cp {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::optional<MetricsListen> parsed(std::string_view text) {
  std::optional<MetricsListen> out;
  std::string error;
  EXPECT_TRUE(parseMetricsListen(text, &out, &error)) << text << ": " << error;
  return out;
}

std::string parseError(std::string_view text) {
  std::optional<MetricsListen> out;
  std::string error;
  EXPECT_FALSE(parseMetricsListen(text, &out, &error)) << text;
  return error;
}

TEST(MetricsListen, Parses) {
  auto a = parsed("127.0.0.1:9091");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9091);
  a = parsed("[::1]:0");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 0);
  a = parsed("0.0.0.0:65535");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->port, 65535);
  a = parsed("localhost:9091");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "localhost");
  EXPECT_FALSE(parsed("off"));
}

TEST(MetricsListen, RejectsBadValues) {
  for (std::string_view bad :
       {"", "9091", "127.0.0.1", "127.0.0.1:", ":9091", "127.0.0.1:65536", "127.0.0.1:-1",
        "127.0.0.1:90x", "::1:9091", "[127.0.0.1]:9091", "OFF", "host name:1", "a/b:1"}) {
    std::string e = parseError(bad);
    EXPECT_NE(e.find("--metrics-listen"), std::string::npos) << bad << ": " << e;
  }
}

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.addCollector([](std::string& out) {
      metrics::writeMetric(out, "finops_config_version", "gauge", "Version.", 7);
    });
  }

  void start(MetricsServerOptions opt = {}) {
    server_ = std::make_unique<MetricsServer>(registry_, opt);
    std::string error;
    ASSERT_TRUE(server_->start({"127.0.0.1", 0}, &error)) << error;
    ASSERT_EQ(server_->address().rfind("127.0.0.1:", 0), 0u) << server_->address();
    port_ = static_cast<uint16_t>(std::stoi(server_->address().substr(10)));
    ASSERT_NE(port_, 0);
  }

  tcp::socket connect() {
    tcp::socket s(ioc_);
    s.connect({net::ip::make_address("127.0.0.1"), port_});
    return s;
  }

  http::response<http::string_body> request(tcp::socket& s, http::verb method, std::string target,
                                            bool keepAlive = false) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "localhost");
    req.keep_alive(keepAlive);
    req.prepare_payload();
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    return res;
  }

  http::response<http::string_body> get(std::string target, http::verb method = http::verb::get) {
    tcp::socket s = connect();
    return request(s, method, std::move(target));
  }

  // Waits until the server closes `s` (read returns an error) or `max` passes.
  bool closedByServer(tcp::socket& s, std::chrono::milliseconds max) {
    s.non_blocking(false);
    timeval tv{static_cast<time_t>(max.count() / 1000),
               static_cast<suseconds_t>((max.count() % 1000) * 1000)};
    setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c;
    beast::error_code ec;
    s.read_some(net::buffer(&c, 1), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
  }

  metrics::Registry registry_;
  metrics::CounterFamily calls_{
      registry_, "finops_admin_calls_total", "Calls.", {"method", "code"}};
  std::unique_ptr<MetricsServer> server_;
  net::io_context ioc_;
  uint16_t port_ = 0;
};

TEST_F(MetricsServerTest, ServesMetrics) {
  start();
  calls_.add({"ListKeys", "OK"}, 3);
  auto res = get("/metrics");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4");
  EXPECT_EQ(res.body(), registry_.render());
  EXPECT_NE(res.body().find("finops_admin_calls_total{method=\"ListKeys\",code=\"OK\"} 3\n"),
            std::string::npos)
      << res.body();
  EXPECT_NE(res.body().find("\nfinops_config_version 7\n"), std::string::npos);
  // A query string is ignored.
  EXPECT_EQ(get("/metrics?x=1").result_int(), 200);
}

TEST_F(MetricsServerTest, Healthz) {
  start();
  auto res = get("/healthz");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_EQ(nlohmann::json::parse(res.body()), nlohmann::json({{"status", "ok"}}));
}

TEST_F(MetricsServerTest, UnknownRouteIs404InOpenAiShape) {
  start();
  auto res = get("/nope");
  EXPECT_EQ(res.result_int(), 404);
  auto j = nlohmann::json::parse(res.body());
  EXPECT_EQ(j["error"]["code"], "unknown_route");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(j["error"]["param"].is_null());
  EXPECT_TRUE(j["error"]["message"].is_string());
  EXPECT_EQ(get("/metrics/x").result_int(), 404);
  EXPECT_EQ(get("/", http::verb::post).result_int(), 404);
}

TEST_F(MetricsServerTest, OtherMethodsAre405) {
  start();
  for (auto verb : {http::verb::post, http::verb::put, http::verb::delete_, http::verb::head}) {
    tcp::socket s = connect();
    http::request<http::string_body> req{verb, "/metrics", 11};
    req.set(http::field::host, "localhost");
    req.keep_alive(false);
    req.prepare_payload();
    http::write(s, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> p;
    if (verb == http::verb::head) p.skip(true);
    http::read(s, buf, p);
    EXPECT_EQ(p.get().result_int(), 405) << verb;
    EXPECT_EQ(p.get()[http::field::allow], "GET");
    if (verb == http::verb::head) {
      // No body follows the head: the server closes right after it.
      beast::error_code ec;
      char c;
      size_t n = s.read_some(net::buffer(&c, 1), ec);
      EXPECT_EQ(n, 0u);
      EXPECT_EQ(ec, net::error::eof);
      EXPECT_EQ(buf.size(), 0u);
    }
  }
  auto res = get("/healthz", http::verb::post);
  EXPECT_EQ(res.result_int(), 405);
  EXPECT_EQ(nlohmann::json::parse(res.body())["error"]["code"], "method_not_allowed");
}

TEST_F(MetricsServerTest, KeepAliveServesSeveralRequests) {
  start();
  tcp::socket s = connect();
  for (int i = 0; i < 3; ++i) {
    auto res = request(s, http::verb::get, "/healthz", true);
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_TRUE(res.keep_alive());
  }
}

TEST_F(MetricsServerTest, HeadersTooLargeAre431) {
  start();
  tcp::socket s = connect();
  http::request<http::string_body> req{http::verb::get, "/metrics", 11};
  req.set(http::field::host, "localhost");
  req.set("x-big", std::string(20000, 'a'));
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  EXPECT_EQ(res.result_int(), 431);
  EXPECT_FALSE(res.keep_alive());
}

TEST_F(MetricsServerTest, BodyTooLargeIs413) {
  start();
  tcp::socket s = connect();
  http::request<http::string_body> req{http::verb::get, "/metrics", 11};
  req.set(http::field::host, "localhost");
  req.body() = std::string(20000, 'a');
  req.prepare_payload();
  beast::error_code ec;
  http::write(s, req, ec);  // the server may stop reading before the end
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  EXPECT_EQ(res.result_int(), 413);
}

TEST_F(MetricsServerTest, MalformedRequestIs400) {
  start();
  tcp::socket s = connect();
  std::string garbage = "NOT HTTP AT ALL\r\n\r\n";
  net::write(s, net::buffer(garbage));
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  EXPECT_EQ(res.result_int(), 400);
}

TEST_F(MetricsServerTest, SlowClientIsCutOffByTheReadTimeout) {
  MetricsServerOptions opt;
  opt.readTimeout = std::chrono::milliseconds(200);
  start(opt);
  tcp::socket s = connect();
  std::string partial = "GET /metrics HTTP/1.1\r\nHost: x\r\n";  // never finished
  net::write(s, net::buffer(partial));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(closedByServer(s, std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

TEST_F(MetricsServerTest, ConnectionsBeyondTheLimitAreClosed) {
  MetricsServerOptions opt;
  opt.maxConnections = 2;
  start(opt);
  tcp::socket a = connect();
  tcp::socket b = connect();
  for (int i = 0; i < 100 && server_->connections() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(server_->connections(), 2u);
  tcp::socket c = connect();
  EXPECT_TRUE(closedByServer(c, std::chrono::seconds(5)));
  // The two admitted ones still work; once one closes, a new one is served.
  EXPECT_EQ(request(a, http::verb::get, "/healthz", true).result_int(), 200);
  EXPECT_EQ(request(b, http::verb::get, "/healthz", false).result_int(), 200);
  for (int i = 0; i < 100 && server_->connections() > 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(get("/healthz").result_int(), 200);
}

TEST_F(MetricsServerTest, StopClosesOpenConnectionsPromptly) {
  start();
  tcp::socket idle = connect();
  for (int i = 0; i < 100 && server_->connections() < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_EQ(server_->connections(), 0u);
  EXPECT_TRUE(closedByServer(idle, std::chrono::seconds(2)));
  server_->stop();  // idempotent
  beast::error_code ec;
  tcp::socket s(ioc_);
  s.connect({net::ip::make_address("127.0.0.1"), port_}, ec);
  EXPECT_TRUE(ec) << "still accepting after stop()";
}

TEST(MetricsServer, PortInUseIsAnError) {
  metrics::Registry r;
  MetricsServer a(r);
  std::string error;
  ASSERT_TRUE(a.start({"127.0.0.1", 0}, &error)) << error;
  uint16_t port = static_cast<uint16_t>(std::stoi(a.address().substr(10)));
  MetricsServer b(r);
  EXPECT_FALSE(b.start({"127.0.0.1", port}, &error));
  EXPECT_NE(error.find("cannot listen on 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << error;
}

}  // namespace
}  // namespace finops::cp
