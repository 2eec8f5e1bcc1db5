#include "controlplane/http/metrics_server.h"

// clang-format off
#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without it
// clang-format on
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "common/log.h"

namespace finops::cp {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using net::redirect_error;
using net::use_awaitable;

bool parseMetricsListen(std::string_view text, std::optional<MetricsListen>* out,
                        std::string* error) {
  *out = std::nullopt;
  if (text == "off") return true;
  auto bad = [&](std::string why) {
    *error = "--metrics-listen '" + std::string(text) + "': " + why +
             " (expected HOST:PORT such as 127.0.0.1:9091 or [::1]:9091, or off)";
    return false;
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (host.find(':') == std::string_view::npos) return bad("brackets are for IPv6 addresses");
  } else if (host.find(':') != std::string_view::npos) {
    return bad("an IPv6 address goes in brackets");
  }
  if (host.empty()) return bad("no host");
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '_' || c == '%';
    if (!ok) return bad("bad character in the host");
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    return bad("the port must be a number from 0 to 65535");
  *out = MetricsListen{std::string(host), static_cast<uint16_t>(value)};
  return true;
}

struct MetricsServer::Impl {
  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  // Open connections (touched on the server's thread only), so stop() can close them.
  std::unordered_set<beast::tcp_stream*> streams;
  bool stopping = false;
};

namespace {

using Response = http::response<http::string_body>;

Response jsonResponse(http::status status, const nlohmann::ordered_json& body) {
  Response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = body.dump();
  return res;
}

Response errorResponse(http::status status, std::string message, const char* code) {
  return jsonResponse(status, {{"error",
                                {{"message", std::move(message)},
                                 {"type", "invalid_request_error"},
                                 {"param", nullptr},
                                 {"code", code}}}});
}

Response respond(const http::request<http::string_body>& req, const metrics::Registry& registry) {
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  bool known = path == "/metrics" || path == "/healthz";
  if (!known)
    return errorResponse(http::status::not_found,
                         "no route " + std::string(path.substr(0, 200)) +
                             " (this port serves GET /metrics and GET /healthz)",
                         "unknown_route");
  if (req.method() != http::verb::get) {
    Response res = errorResponse(http::status::method_not_allowed,
                                 std::string(path) + " only answers GET", "method_not_allowed");
    res.set(http::field::allow, "GET");
    return res;
  }
  if (path == "/healthz") return jsonResponse(http::status::ok, {{"status", "ok"}});
  Response res{http::status::ok, 11};
  res.set(http::field::content_type, "text/plain; version=0.0.4");
  try {
    res.body() = registry.render();
  } catch (const std::exception& e) {
    log::error("cannot render metrics", {{"error", e.what()}});
    return errorResponse(http::status::internal_server_error, "cannot render metrics",
                         "internal_error");
  }
  return res;
}

net::awaitable<void> session(tcp::socket socket, MetricsServer::Impl& impl,
                             std::atomic<size_t>& connections, const metrics::Registry& registry,
                             const MetricsServerOptions& opt) {
  beast::tcp_stream stream(std::move(socket));
  impl.streams.insert(&stream);
  struct Release {
    MetricsServer::Impl& impl;
    beast::tcp_stream* stream;
    std::atomic<size_t>& connections;
    ~Release() {
      impl.streams.erase(stream);
      connections.fetch_sub(1);
    }
  } release{impl, &stream, connections};
  if (impl.stopping) co_return;  // accepted just before stop()

  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(opt.maxHeaderBytes);
    parser.body_limit(opt.maxBodyBytes);
    stream.expires_after(opt.readTimeout);
    co_await http::async_read(stream, buffer, parser, redirect_error(use_awaitable, ec));
    Response res;
    bool keepAlive = false;
    bool head = false;  // a HEAD request: the answer's head only
    if (ec == http::error::header_limit) {
      res = errorResponse(
          http::status::request_header_fields_too_large,
          "request headers larger than " + std::to_string(opt.maxHeaderBytes) + " bytes",
          "headers_too_large");
    } else if (ec == http::error::body_limit) {
      res = errorResponse(http::status::payload_too_large,
                          "request body larger than " + std::to_string(opt.maxBodyBytes) + " bytes",
                          "body_too_large");
    } else if (ec && ec.category() == http::make_error_code(http::error::bad_target).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message) {
      res = errorResponse(http::status::bad_request, "malformed HTTP request", "malformed");
    } else if (ec) {
      break;  // the client went away, timed out, or stop() closed the socket
    } else {
      res = respond(parser.get(), registry);
      keepAlive = parser.get().keep_alive() && !impl.stopping;
      head = parser.get().method() == http::verb::head;
    }
    res.version(11);
    res.keep_alive(keepAlive);
    res.prepare_payload();
    if (head) res.body().clear();  // content-length stays that of the body not sent
    stream.expires_after(opt.writeTimeout);
    co_await http::async_write(stream, res, redirect_error(use_awaitable, ec));
    if (ec || !keepAlive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.socket().close(ignored);
}

net::awaitable<void> acceptLoop(MetricsServer::Impl& impl, std::atomic<size_t>& connections,
                                const metrics::Registry& registry,
                                const MetricsServerOptions& opt) {
  for (;;) {
    beast::error_code ec;
    tcp::socket sock = co_await impl.acceptor.async_accept(redirect_error(use_awaitable, ec));
    if (impl.stopping || !impl.acceptor.is_open()) co_return;
    if (ec) {
      log::warn("metrics server: accept failed", {{"error", ec.message()}});
      // Out of file descriptors: the connection stays queued; pause rather than spin.
      net::steady_timer pause(impl.ioc);
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(redirect_error(use_awaitable, ec));
      continue;
    }
    if (connections.load() >= opt.maxConnections) {
      beast::error_code ignored;
      sock.close(ignored);
      continue;
    }
    connections.fetch_add(1);
    net::co_spawn(impl.ioc, session(std::move(sock), impl, connections, registry, opt),
                  net::detached);
  }
}

}  // namespace

MetricsServer::MetricsServer(const metrics::Registry& registry, MetricsServerOptions options)
    : registry_(registry), options_(options), impl_(std::make_unique<Impl>()) {}

MetricsServer::~MetricsServer() { stop(); }

bool MetricsServer::start(const MetricsListen& listen, std::string* error) {
  std::string where = listen.host.find(':') != std::string::npos
                          ? "[" + listen.host + "]:" + std::to_string(listen.port)
                          : listen.host + ":" + std::to_string(listen.port);
  beast::error_code ec;
  tcp::endpoint endpoint;
  auto address = net::ip::make_address(listen.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, listen.port);
  } else {
    tcp::resolver resolver(impl_->ioc);
    auto results =
        resolver.resolve(listen.host, std::to_string(listen.port), tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      *error = "cannot listen on " + where + ": cannot resolve '" + listen.host +
               "': " + (ec ? ec.message() : std::string("no address"));
      return false;
    }
    endpoint = results.begin()->endpoint();
  }
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = "cannot listen on " + where + ": " + ec.message();
    beast::error_code ignored;
    acceptor.close(ignored);
    return false;
  }
  tcp::endpoint bound = acceptor.local_endpoint(ec);
  std::string host = bound.address().to_string();
  address_ =
      (bound.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(bound.port());
  net::co_spawn(impl_->ioc, acceptLoop(*impl_, connections_, registry_, options_), net::detached);
  thread_ = std::thread([this] {
    for (;;) {
      try {
        impl_->ioc.run();
        return;
      } catch (const std::exception& e) {  // a handler threw: log it and keep serving
        log::error("metrics server: unexpected error", {{"error", e.what()}});
      }
    }
  });
  return true;
}

void MetricsServer::stop() {
  if (!thread_.joinable()) return;
  net::post(impl_->ioc, [impl = impl_.get()] {
    impl->stopping = true;
    beast::error_code ignored;
    impl->acceptor.close(ignored);
    for (auto* s : impl->streams) s->socket().close(ignored);
  });
  thread_.join();
}

}  // namespace finops::cp
