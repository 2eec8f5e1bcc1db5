// The /logs page and API on the data plane: query parsing, the JSON it returns, the gRPC status
// mapping, the embedded files, and LogsApi::handle end to end over real HTTP against a fake
// AdminService (in-process gRPC server), including that a slow control plane does not block
// the worker thread.
#include "dataplane/logs/ui.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "dataplane/logs/assets.h"
#include "dataplane/server/client_stream.h"
#include "dataplane/server/exchange.h"
#include "dataplane/upstream/client.h"

namespace finops::dp::logs {
namespace {

namespace v1 = finops::v1;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// Pure pieces

TEST(LogsPercentDecode, DecodesEscapesAndPlus) {
  EXPECT_EQ(percentDecode("a%20b+c"), "a b c");
  EXPECT_EQ(percentDecode("openai%2Fgpt-4o"), "openai/gpt-4o");
  EXPECT_EQ(percentDecode("%22a+phrase%22"), "\"a phrase\"");
  EXPECT_EQ(percentDecode("caf%C3%A9"), "café");
  EXPECT_EQ(percentDecode(""), "");
  EXPECT_EQ(percentDecode("a+b", false), "a+b");  // a path segment
}

TEST(LogsPercentDecode, RefusesMalformedEscapesAndInvalidUtf8) {
  EXPECT_EQ(percentDecode("%"), std::nullopt);
  EXPECT_EQ(percentDecode("abc%2"), std::nullopt);
  EXPECT_EQ(percentDecode("%G1"), std::nullopt);
  EXPECT_EQ(percentDecode("%FF"), std::nullopt);
  EXPECT_EQ(percentDecode("%C3"), std::nullopt);        // cut sequence
  EXPECT_EQ(percentDecode("%C0%AF"), std::nullopt);     // overlong
  EXPECT_EQ(percentDecode("%ED%A0%80"), std::nullopt);  // surrogate
}

TEST(LogsTimeParam, RfcAndMilliseconds) {
  EXPECT_EQ(parseTimeParam("1795341600000"), 1795341600000);
  EXPECT_EQ(parseTimeParam("0"), 0);
  EXPECT_EQ(parseTimeParam("2026-11-22T10:00:00Z"), 1795341600000);
  EXPECT_EQ(parseTimeParam("2026-11-22t10:00:00z"), 1795341600000);
  EXPECT_EQ(parseTimeParam("2026-11-22T11:00:00.5+01:00"), 1795341600500);
  EXPECT_EQ(parseTimeParam("2026-11-22T09:30:00.123456789-00:30"), 1795341600123);
  EXPECT_EQ(parseTimeParam("2024-02-29T23:59:59Z"), 1709251199000);
  EXPECT_EQ(parseTimeParam("1970-01-01T00:00:00Z"), 0);
}

TEST(LogsTimeParam, RefusesOtherText) {
  for (std::string_view bad :
       {"", "yesterday", "15m", "2026-11-22", "2026-11-22T10:00:00", "2026-02-30T00:00:00Z",
        "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-22T24:00:00Z",
        "2026-11-22T10:00:00+1:00", "2026-11-22T10:00:00.Z", "2026-11-22T10:00:00Zjunk", "-5",
        "12.5", "99999999999999999999"})
    EXPECT_EQ(parseTimeParam(bad), std::nullopt) << bad;
}

TEST(LogsQuery, FillsEveryField) {
  v1::LogQuery q;
  auto err = parseLogQuery(
      "provider=openai&model=openai%2Fgpt-4o-mini&key=ci&team=t1&customer=acme&status=5xx&"
      "error_type=upstream_error&since=1795341600000&until=2026-11-22T11%3A00%3A00Z&"
      "search=%22a+phrase%22+OR+x*&limit=25&cursor=abc%3D&after_id=42",
      &q);
  ASSERT_FALSE(err) << err->message;
  EXPECT_EQ(q.provider(), "openai");
  EXPECT_EQ(q.model(), "openai/gpt-4o-mini");
  EXPECT_EQ(q.key(), "ci");
  EXPECT_EQ(q.team(), "t1");
  EXPECT_EQ(q.customer(), "acme");
  EXPECT_EQ(q.status(), "5xx");
  EXPECT_EQ(q.error_type(), "upstream_error");
  EXPECT_EQ(q.since().seconds(), 1795341600);
  EXPECT_EQ(q.since().nanos(), 0);
  EXPECT_EQ(q.until().seconds(), 1795345200);
  EXPECT_EQ(q.search(), "\"a phrase\" OR x*");
  EXPECT_EQ(q.limit(), 25);
  EXPECT_EQ(q.cursor(), "abc=");
  EXPECT_EQ(q.after_id(), 42);
}

TEST(LogsQuery, EmptyValuesAreAbsent) {
  v1::LogQuery q;
  ASSERT_FALSE(parseLogQuery("model=&since=&limit=&after_id=&&search=", &q));
  EXPECT_EQ(q.model(), "");
  EXPECT_FALSE(q.has_since());
  EXPECT_EQ(q.limit(), 0);
  EXPECT_EQ(q.after_id(), 0);
}

TEST(LogsQuery, MillisecondsKeepTheirFraction) {
  v1::LogQuery q;
  ASSERT_FALSE(parseLogQuery("since=1795341600123", &q));
  EXPECT_EQ(q.since().seconds(), 1795341600);
  EXPECT_EQ(q.since().nanos(), 123'000'000);
}

TEST(LogsQuery, BadValuesNameTheParameter) {
  struct Case {
    const char* query;
    const char* param;
  };
  for (const Case& c : std::vector<Case>{{"limit=abc", "limit"},
                                         {"limit=0", "limit"},
                                         {"limit=1001", "limit"},
                                         {"limit=-1", "limit"},
                                         {"limit=5x", "limit"},
                                         {"after_id=-1", "after_id"},
                                         {"after_id=1.5", "after_id"},
                                         {"since=last+week", "since"},
                                         {"until=2026-11-22", "until"},
                                         {"since=1795341600001&until=1795341600000", "until"},
                                         {"model=%ZZ", "model"},
                                         {"colour=red", "colour"}}) {
    v1::LogQuery q;
    auto err = parseLogQuery(c.query, &q);
    ASSERT_TRUE(err) << c.query;
    EXPECT_EQ(err->status, 400) << c.query;
    EXPECT_EQ(err->type, "invalid_request_error") << c.query;
    EXPECT_EQ(err->param, c.param) << c.query;
    EXPECT_NE(err->message.find(c.param), std::string::npos) << c.query << ": " << err->message;
  }
}

TEST(LogsQuery, RefusesOverlongValues) {
  v1::LogQuery q;
  auto err = parseLogQuery("search=" + std::string(5000, 'a'), &q);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->param, "search");
}

v1::LogEntry sampleEntry() {
  v1::LogEntry e;
  e.set_id(9'000'000'000'123);  // past 2^32: must stay a number
  auto* r = e.mutable_record();
  r->set_request_id("req_abc");
  r->set_ts_ms(1795341600123);
  r->set_node("dp-1");
  r->set_key_id("key_1");
  r->set_key_name("ci");
  r->set_team_id("team_1");
  r->set_team_name("platform");
  r->set_customer_id("cus_1");
  r->set_customer_name("acme");
  r->set_method("POST");
  r->set_route("/v1/chat/completions");
  r->set_provider("openai");
  r->set_model("openai/gpt-4o-mini");
  r->set_status(200);
  r->set_latency_us(123456);
  r->set_ttft_us(2345);
  r->set_overhead_us(456);
  r->set_prompt_tokens(10);
  r->set_completion_tokens(20);
  r->set_cached_tokens(3);
  r->set_cost_nano(1'500'000'000);
  r->set_streamed(true);
  r->set_content_logged(true);
  r->set_content_truncated(true);
  r->set_dialect("client");
  r->set_request_content(R"({"messages":[{"role":"user","content":"<script>x</script>"}]})");
  r->set_response_content("hello");
  return e;
}

TEST(LogsEntryJson, EveryFieldSnakeCaseWithNumbers) {
  auto j = logEntryJson(sampleEntry(), false);
  EXPECT_EQ(j["id"].get<int64_t>(), 9'000'000'000'123);
  EXPECT_TRUE(j["id"].is_number_integer());
  EXPECT_TRUE(j["ts_ms"].is_number_integer());
  EXPECT_EQ(j["ts_ms"].get<int64_t>(), 1795341600123);
  EXPECT_EQ(j["request_id"], "req_abc");
  EXPECT_EQ(j["key_name"], "ci");
  EXPECT_EQ(j["team_name"], "platform");
  EXPECT_EQ(j["customer_id"], "cus_1");
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["error_type"], "");
  EXPECT_EQ(j["latency_us"], 123456);
  EXPECT_EQ(j["ttft_us"], 2345);
  EXPECT_EQ(j["overhead_us"], 456);
  EXPECT_EQ(j["cached_tokens"], 3);
  EXPECT_EQ(j["cost_nano"], 1'500'000'000);
  EXPECT_TRUE(j["cost_usd"].is_number_float());
  EXPECT_DOUBLE_EQ(j["cost_usd"].get<double>(), 1.5);
  EXPECT_EQ(j["streamed"], true);
  EXPECT_EQ(j["content_logged"], true);
  EXPECT_EQ(j["content_truncated"], true);
  EXPECT_EQ(j["dialect"], "client");
  EXPECT_FALSE(j.contains("request_content"));
  EXPECT_FALSE(j.contains("response_content"));
  EXPECT_EQ(j.size(), 28u);  // the 28 LogRecord fields less the 2 content ones, + id, cost_usd
}

TEST(LogsEntryJson, ContentOnlyWhenAsked) {
  auto j = logEntryJson(sampleEntry(), true);
  EXPECT_EQ(j["request_content"],
            R"({"messages":[{"role":"user","content":"<script>x</script>"}]})");
  EXPECT_EQ(j["response_content"], "hello");
}

TEST(LogsStatusMapping, FollowsTheSpec) {
  auto check = [](grpc::StatusCode code, int status, const char* errCode) {
    ApiError e = errorFromStatus(grpc::Status(code, "detail"));
    EXPECT_EQ(e.status, status) << code;
    EXPECT_EQ(e.code, errCode) << code;
  };
  check(grpc::StatusCode::UNAUTHENTICATED, 401, "invalid_admin_token");
  check(grpc::StatusCode::PERMISSION_DENIED, 403, "insufficient_scope");
  check(grpc::StatusCode::INVALID_ARGUMENT, 400, "invalid_request_error");
  check(grpc::StatusCode::NOT_FOUND, 404, "not_found");
  check(grpc::StatusCode::UNAVAILABLE, 503, "control_plane_unavailable");
  check(grpc::StatusCode::DEADLINE_EXCEEDED, 503, "control_plane_unavailable");
  check(grpc::StatusCode::INTERNAL, 502, "control_plane_error");
  // The control plane's words reach the user for the errors that are theirs to fix...
  EXPECT_EQ(errorFromStatus(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad search")).message,
            "bad search");
  // ...but not transport details (addresses) for an unreachable control plane.
  EXPECT_EQ(errorFromStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "10.0.0.5:50051 refused"))
                .message.find("10.0.0.5"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// The embedded page

TEST(LogsAssets, ThePageIsBuiltIn) {
  auto index = findAsset("index.html");
  auto js = findAsset("app.js");
  auto css = findAsset("app.css");
  ASSERT_TRUE(index && js && css);
  EXPECT_EQ(index->contentType, "text/html; charset=utf-8");
  EXPECT_EQ(js->contentType, "text/javascript; charset=utf-8");
  EXPECT_EQ(css->contentType, "text/css; charset=utf-8");
  EXPECT_NE(index->bytes.find("src=\"/logs/app.js\""), std::string_view::npos);
  EXPECT_NE(index->bytes.find("href=\"/logs/app.css\""), std::string_view::npos);
  EXPECT_FALSE(findAsset("nope.js"));
  EXPECT_FALSE(findAsset(""));
}

TEST(LogsAssets, NothingExternalNothingInline) {
  for (const char* name : {"index.html", "app.js", "app.css"}) {
    auto a = findAsset(name);
    ASSERT_TRUE(a);
    std::string_view b = a->bytes;
    // Works offline: no CDN, fonts or other origin.
    EXPECT_EQ(b.find("http://"), std::string_view::npos) << name;
    EXPECT_EQ(b.find("https://"), std::string_view::npos) << name;
    EXPECT_EQ(b.find("@import"), std::string_view::npos) << name;
    EXPECT_EQ(b.find("@font-face"), std::string_view::npos) << name;
    // Log content is attacker-controlled: never parsed as HTML.
    EXPECT_EQ(b.find("innerHTML"), std::string_view::npos) << name;
    EXPECT_EQ(b.find("outerHTML"), std::string_view::npos) << name;
    EXPECT_EQ(b.find("insertAdjacentHTML"), std::string_view::npos) << name;
    EXPECT_EQ(b.find("document.write"), std::string_view::npos) << name;
    EXPECT_EQ(b.find("eval("), std::string_view::npos) << name;
  }
  // The CSP forbids inline script and style: the page has none.
  std::string_view html = findAsset("index.html")->bytes;
  EXPECT_EQ(html.find("<script>"), std::string_view::npos);
  EXPECT_EQ(html.find("<style"), std::string_view::npos);
  EXPECT_EQ(html.find(" style=\""), std::string_view::npos);
  EXPECT_EQ(html.find(" onclick="), std::string_view::npos);
}

TEST(LogsAssets, StableTestIds) {
  std::string_view html = findAsset("index.html")->bytes;
  std::string_view js = findAsset("app.js")->bytes;
  for (const char* id : {"token-input", "sign-in", "sign-in-error", "sign-out", "filter-provider",
                         "filter-model", "filter-key", "filter-status", "filter-range", "search",
                         "apply", "log-table", "log-row", "detail-panel", "detail-request",
                         "detail-response", "live-toggle", "load-more", "error-banner"}) {
    bool inHtml = html.find("data-testid=\"" + std::string(id) + "\"") != std::string_view::npos;
    bool inJs = js.find("'data-testid': '" + std::string(id) + "'") != std::string_view::npos;
    EXPECT_TRUE(inHtml || inJs) << id;
  }
}

// ---------------------------------------------------------------------------------------------
// End to end: HTTP in, gRPC out, against a fake AdminService.

// Answers like the control plane: token "good" (scope read), "writer" (scope keys:write, no
// logs), anything else UNAUTHENTICATED. ListLogs waits `listDelay` (on a thread of its own)
// before answering.
class FakeAdmin final : public v1::AdminService::CallbackService {
 public:
  ~FakeAdmin() override { joinAll(); }

  void joinAll() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

  std::atomic<int> calls{0};
  std::atomic<int> listDelayMs{0};
  std::mutex mu_;
  v1::LogQuery lastQuery;         // GUARDED_BY(mu_)
  std::string lastAuthorization;  // GUARDED_BY(mu_)

  grpc::ServerUnaryReactor* WhoAmI(grpc::CallbackServerContext* ctx, const v1::WhoAmIRequest*,
                                   v1::WhoAmIResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    std::string token = seen(ctx);
    if (token == "good" || token == "writer") {
      resp->set_token_id("at_1");
      resp->set_token_name(token == "good" ? "viewer" : "ci");
      resp->set_scope(token == "good" ? "read" : "keys:write");
      reactor->Finish(grpc::Status::OK);
    } else {
      reactor->Finish(
          grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid or revoked admin token"));
    }
    return reactor;
  }

  grpc::ServerUnaryReactor* ListLogs(grpc::CallbackServerContext* ctx, const v1::LogQuery* req,
                                     v1::ListLogsResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    std::string token = seen(ctx);
    {
      std::lock_guard lock(mu_);
      lastQuery = *req;
    }
    grpc::Status st = grpc::Status::OK;
    if (token == "writer") {
      st = grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "admin token 'ci' (scope keys:write) may not call ListLogs");
    } else if (token != "good") {
      st = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid or revoked admin token");
    } else if (req->search() == "(") {
      st =
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "search: fts5: syntax error near \"(\"");
    } else {
      *resp->add_entries() = sampleEntry();
      resp->mutable_entries(0)->mutable_record()->clear_request_content();
      resp->set_next_cursor("cur_1");
      resp->set_last_id(9'000'000'000'123);
    }
    int delay = listDelayMs.load();
    if (delay == 0) {
      reactor->Finish(st);
    } else {
      std::lock_guard lock(mu_);
      threads_.emplace_back([reactor, st, delay] {
        std::this_thread::sleep_for(std::chrono::milliseconds(delay));
        reactor->Finish(st);
      });
    }
    return reactor;
  }

  grpc::ServerUnaryReactor* GetLog(grpc::CallbackServerContext* ctx, const v1::GetLogRequest* req,
                                   v1::LogEntry* resp) override {
    auto* reactor = ctx->DefaultReactor();
    std::string token = seen(ctx);
    if (token != "good")
      reactor->Finish(
          grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid or revoked admin token"));
    else if (req->id() == "req_abc" || req->id() == "9000000000123") {
      *resp = sampleEntry();
      reactor->Finish(grpc::Status::OK);
    } else {
      reactor->Finish(
          grpc::Status(grpc::StatusCode::NOT_FOUND, "no log entry '" + req->id() + "'"));
    }
    return reactor;
  }

 private:
  std::string seen(grpc::CallbackServerContext* ctx) {
    calls.fetch_add(1);
    std::string auth;
    auto it = ctx->client_metadata().find("authorization");
    if (it != ctx->client_metadata().end()) auth.assign(it->second.data(), it->second.size());
    std::lock_guard lock(mu_);
    lastAuthorization = auth;
    return auth.starts_with("Bearer ") ? auth.substr(7) : "";
  }
  std::vector<std::thread> threads_;  // GUARDED_BY(mu_)
};

Exchange makeTestExchange(ClientStream& stream, beast::flat_buffer& buffer,
                          http::request<http::string_body>& req, upstream::Pool& pool) {
  Exchange ex{stream, buffer, req, pool, "req_test"};
  ex.keepAlive = false;
  return ex;
}

// One worker thread serving HTTP with LogsApi::handle, like the data plane's dispatch().
class HttpSide {
 public:
  explicit HttpSide(LogsApi& api)
      : api_(api),
        tls_(upstream::makeClientTlsContext("")),
        pool_(ioc_, *tls_, upstream::Options{}),
        acceptor_(ioc_, tcp::endpoint(net::ip::address_v4::loopback(), 0)) {
    net::co_spawn(ioc_, acceptLoop(), net::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~HttpSide() {
    ioc_.stop();
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  net::io_context& ioc() { return ioc_; }

 private:
  net::awaitable<void> acceptLoop() {
    for (;;) {
      tcp::socket sock = co_await acceptor_.async_accept(net::use_awaitable);
      net::co_spawn(ioc_, serve(std::move(sock)), net::detached);
    }
  }
  net::awaitable<void> serve(tcp::socket sock) {
    ClientStream stream(std::move(sock), nullptr);
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    beast::error_code ec;
    co_await http::async_read(stream, buffer, req, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;
    Exchange ex = makeTestExchange(stream, buffer, req, pool_);
    std::string target(req.target());
    std::string path = target.substr(0, target.find('?'));
    co_await api_.handle(ex, path);
  }

  LogsApi& api_;
  net::io_context ioc_{1};
  std::unique_ptr<net::ssl::context> tls_;
  upstream::Pool pool_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

struct Reply {
  unsigned status = 0;
  http::response<http::string_body> res;
  nlohmann::json json;
  std::chrono::milliseconds took{0};
};

Reply get(uint16_t port, http::verb method, const std::string& target,
          const std::string& token = "") {
  auto t0 = std::chrono::steady_clock::now();
  net::io_context ioc;
  tcp::socket sock(ioc);
  sock.connect(tcp::endpoint(net::ip::address_v4::loopback(), port));
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  req.prepare_payload();
  http::write(sock, req);
  beast::flat_buffer buffer;
  Reply r;
  http::read(sock, buffer, r.res);
  r.status = r.res.result_int();
  r.json = nlohmann::json::parse(r.res.body(), nullptr, false);
  r.took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  return r;
}

Reply get(uint16_t port, const std::string& target, const std::string& token = "") {
  return get(port, http::verb::get, target, token);
}

class LogsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &grpcPort_);
    b.RegisterService(&fake_);
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_);
  }
  void TearDown() override {
    server_->Shutdown(std::chrono::system_clock::now() + 2s);
    fake_.joinAll();
  }
  LogsApiOptions options(std::chrono::milliseconds deadline = 5000ms) {
    LogsApiOptions o;
    o.target = "127.0.0.1:" + std::to_string(grpcPort_);
    o.deadline = deadline;
    return o;
  }
  std::string lastAuthorization() {
    std::lock_guard lock(fake_.mu_);
    return fake_.lastAuthorization;
  }
  v1::LogQuery lastQuery() {
    std::lock_guard lock(fake_.mu_);
    return fake_.lastQuery;
  }

  FakeAdmin fake_;
  int grpcPort_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

constexpr std::string_view kCsp =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'";

TEST_F(LogsApiTest, ServesThePageAndItsFiles) {
  LogsApi api(options());
  HttpSide http(api);
  for (const char* target : {"/logs", "/logs/", "/logs/index.html"}) {
    Reply r = get(http.port(), target);
    EXPECT_EQ(r.status, 200) << target;
    EXPECT_EQ(r.res[http::field::content_type], "text/html; charset=utf-8") << target;
    EXPECT_EQ(r.res.body(), findAsset("index.html")->bytes) << target;
    EXPECT_EQ(r.res["content-security-policy"], kCsp) << target;
    EXPECT_EQ(r.res["x-content-type-options"], "nosniff") << target;
    EXPECT_EQ(r.res[http::field::cache_control], "no-cache") << target;
    EXPECT_EQ(r.res["access-control-allow-origin"], "") << target;
  }
  Reply js = get(http.port(), "/logs/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.res[http::field::content_type], "text/javascript; charset=utf-8");
  EXPECT_EQ(js.res.body(), findAsset("app.js")->bytes);
  Reply css = get(http.port(), "/logs/app.css?v=1");
  EXPECT_EQ(css.status, 200);
  EXPECT_EQ(css.res[http::field::content_type], "text/css; charset=utf-8");
  Reply missing = get(http.port(), "/logs/nope.js");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json["error"]["code"], "not_found");
  EXPECT_EQ(fake_.calls.load(), 0) << "the page needs no control plane";
}

TEST_F(LogsApiTest, OnlyGet) {
  LogsApi api(options());
  HttpSide http(api);
  for (http::verb m :
       {http::verb::post, http::verb::options, http::verb::delete_, http::verb::put}) {
    for (const char* target : {"/logs", "/logs/api/logs"}) {
      Reply r = get(http.port(), m, target, "good");
      EXPECT_EQ(r.status, 405) << target << " " << http::to_string(m);
      EXPECT_EQ(r.res[http::field::allow], "GET");
      EXPECT_EQ(r.json["error"]["code"], "method_not_allowed");
      EXPECT_EQ(r.res["access-control-allow-origin"], "");
    }
  }
  EXPECT_EQ(fake_.calls.load(), 0);
}

TEST_F(LogsApiTest, ListPassesTheQueryAndTheCallersToken) {
  LogsApi api(options());
  HttpSide http(api);
  Reply r = get(http.port(),
                "/logs/api/logs?model=openai%2Fgpt-4o-mini&status=5xx&search=%22a+b%22&limit=20&"
                "after_id=7&since=2026-11-22T10:00:00Z",
                "good");
  ASSERT_EQ(r.status, 200) << r.res.body();
  EXPECT_EQ(r.res[http::field::content_type], "application/json");
  EXPECT_EQ(r.res[http::field::cache_control], "no-store");
  EXPECT_EQ(lastAuthorization(), "Bearer good");
  v1::LogQuery q = lastQuery();
  EXPECT_EQ(q.model(), "openai/gpt-4o-mini");
  EXPECT_EQ(q.status(), "5xx");
  EXPECT_EQ(q.search(), "\"a b\"");
  EXPECT_EQ(q.limit(), 20);
  EXPECT_EQ(q.after_id(), 7);
  EXPECT_EQ(q.since().seconds(), 1795341600);
  ASSERT_TRUE(r.json.is_object()) << r.res.body();
  ASSERT_EQ(r.json["entries"].size(), 1u);
  const auto& e = r.json["entries"][0];
  EXPECT_EQ(e["id"].get<int64_t>(), 9'000'000'000'123);
  EXPECT_EQ(e["model"], "openai/gpt-4o-mini");
  EXPECT_DOUBLE_EQ(e["cost_usd"].get<double>(), 1.5);
  EXPECT_FALSE(e.contains("request_content"));
  EXPECT_EQ(r.json["next_cursor"], "cur_1");
  EXPECT_EQ(r.json["last_id"].get<int64_t>(), 9'000'000'000'123);
}

TEST_F(LogsApiTest, GetAndWhoAmI) {
  LogsApi api(options());
  HttpSide http(api);
  Reply one = get(http.port(), "/logs/api/logs/req_abc", "good");
  ASSERT_EQ(one.status, 200) << one.res.body();
  EXPECT_EQ(one.json["request_id"], "req_abc");
  EXPECT_EQ(one.json["request_content"],
            R"({"messages":[{"role":"user","content":"<script>x</script>"}]})");
  EXPECT_EQ(one.json["response_content"], "hello");
  Reply byId = get(http.port(), "/logs/api/logs/9000000000123", "good");
  EXPECT_EQ(byId.status, 200);
  Reply missing = get(http.port(), "/logs/api/logs/req_nope", "good");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json["error"]["code"], "not_found");
  Reply who = get(http.port(), "/logs/api/whoami", "good");
  ASSERT_EQ(who.status, 200) << who.res.body();
  EXPECT_EQ(who.json, nlohmann::json::parse(R"({"token_name":"viewer","scope":"read"})"));
  Reply unknown = get(http.port(), "/logs/api/other", "good");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.json["error"]["code"], "unknown_route");
}

TEST_F(LogsApiTest, AuthErrors) {
  LogsApi api(options());
  HttpSide http(api);
  Reply none = get(http.port(), "/logs/api/logs");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.json["error"]["code"], "invalid_admin_token");
  EXPECT_EQ(none.json["error"]["type"], "invalid_request_error");
  EXPECT_EQ(fake_.calls.load(), 0) << "no token: the control plane is not asked";
  Reply bad = get(http.port(), "/logs/api/logs", "wrong");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.json["error"]["code"], "invalid_admin_token");
  EXPECT_EQ(bad.json["error"]["message"], "invalid or revoked admin token");
  Reply badWho = get(http.port(), "/logs/api/whoami", "wrong");
  EXPECT_EQ(badWho.status, 401);
  Reply writer = get(http.port(), "/logs/api/logs", "writer");
  EXPECT_EQ(writer.status, 403);
  EXPECT_EQ(writer.json["error"]["code"], "insufficient_scope");
  EXPECT_NE(writer.json["error"]["message"].get<std::string>().find("ListLogs"), std::string::npos);
  Reply writerWho = get(http.port(), "/logs/api/whoami", "writer");
  EXPECT_EQ(writerWho.status, 200);
  EXPECT_EQ(writerWho.json["scope"], "keys:write");
}

TEST_F(LogsApiTest, BadParametersAre400WithoutAskingTheControlPlane) {
  LogsApi api(options());
  HttpSide http(api);
  Reply limit = get(http.port(), "/logs/api/logs?limit=abc", "good");
  EXPECT_EQ(limit.status, 400);
  EXPECT_EQ(limit.json["error"]["param"], "limit");
  Reply since = get(http.port(), "/logs/api/logs?since=tuesday", "good");
  EXPECT_EQ(since.status, 400);
  EXPECT_EQ(since.json["error"]["param"], "since");
  EXPECT_EQ(fake_.calls.load(), 0);
  // The control plane's INVALID_ARGUMENT (a bad search expression) is a 400 too.
  Reply search = get(http.port(), "/logs/api/logs?search=(", "good");
  EXPECT_EQ(search.status, 400);
  EXPECT_NE(search.json["error"]["message"].get<std::string>().find("fts5"), std::string::npos);
}

TEST_F(LogsApiTest, ControlPlaneDownIs503) {
  LogsApiOptions o;
  {
    // A port nothing listens on.
    net::io_context ioc;
    tcp::acceptor a(ioc, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    o.target = "127.0.0.1:" + std::to_string(a.local_endpoint().port());
  }
  o.deadline = 1000ms;
  LogsApi api(o);
  HttpSide http(api);
  Reply r = get(http.port(), "/logs/api/logs", "good");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.json["error"]["code"], "control_plane_unavailable");
  EXPECT_EQ(r.json["error"]["message"].get<std::string>().find("127.0.0.1"), std::string::npos);
  EXPECT_LT(r.took, 3000ms);
}

TEST_F(LogsApiTest, DeadlineIs503) {
  fake_.listDelayMs = 1500;
  LogsApi api(options(300ms));
  HttpSide http(api);
  Reply r = get(http.port(), "/logs/api/logs", "good");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.json["error"]["code"], "control_plane_unavailable");
  EXPECT_LT(r.took, 1200ms);
}

TEST_F(LogsApiTest, ASlowControlPlaneDoesNotBlockTheWorker) {
  fake_.listDelayMs = 1000;
  LogsApi api(options());
  HttpSide http(api);  // one thread: a blocking call would hold everything behind it
  auto slow =
      std::async(std::launch::async, [&] { return get(http.port(), "/logs/api/logs", "good"); });
  std::this_thread::sleep_for(200ms);  // the slow call is in flight
  Reply page = get(http.port(), "/logs");
  EXPECT_EQ(page.status, 200);
  EXPECT_LT(page.took, 500ms) << "the page waited for the slow gRPC call";
  Reply slowReply = slow.get();
  EXPECT_EQ(slowReply.status, 200) << slowReply.res.body();
  EXPECT_GE(slowReply.took, 900ms);
}

}  // namespace
}  // namespace finops::dp::logs
