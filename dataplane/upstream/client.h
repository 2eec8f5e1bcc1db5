// Upstream HTTP(S) client: a keep-alive connection pool per worker thread and one
// request/response exchange at a time per connection. Not thread-safe: each worker thread
// owns its Pool and uses it only from its own io_context.
//
// TLS: verify_peer against the system CA store (plus an optional extra CA file), SNI, and
// host name verification.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without it
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "dataplane/config/snapshot.h"

namespace finops::dp::upstream {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;

struct Options {
  std::chrono::milliseconds connectTimeout{10000};
  // Longest wait for the response header, and between two reads of a response body.
  std::chrono::milliseconds readTimeout{600000};
  std::chrono::milliseconds writeTimeout{30000};
  std::chrono::seconds maxIdle{30};  // pooled connections idle longer are closed
  size_t maxIdlePerUpstream = 128;
};

class Connection {
 public:
  // A plain TCP connection, or TLS when `tls` is given.
  Connection(net::any_io_executor ex, ssl::context* tls);
  beast::tcp_stream& tcp() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }
  bool isTls() const { return tls_.has_value(); }
  template <typename F>
  decltype(auto) visit(F&& f) {
    return tls_ ? f(*tls_) : f(*plain_);
  }
  void close();

  beast::flat_buffer buffer;
  std::string poolKey;
  bool reused = false;
  std::chrono::steady_clock::time_point idleSince;

 private:
  std::optional<beast::tcp_stream> plain_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
};

using Parser = http::response_parser<http::buffer_body>;

class Pool {
 public:
  Pool(net::io_context& ioc, ssl::context& tls, Options options)
      : ioc_(ioc), tls_(tls), options_(options), resolver_(ioc) {}

  // Sends `req` to the route's upstream and reads the response header into `parser`
  // (emplaced here, with no body limit).
  // A pooled connection that fails before any response byte arrives is replaced by a new
  // one and the request is sent once more. On success `conn` holds the connection.
  net::awaitable<void> exchange(const ProviderRoute& route, http::request<http::string_body>& req,
                                std::unique_ptr<Connection>& conn, std::optional<Parser>& parser,
                                beast::error_code& ec,
                                std::optional<std::chrono::milliseconds> readTimeout = {});

  // Reads the next piece of the response body into [buf, buf+n). Returns the byte count;
  // 0 with no error means the body is complete.
  net::awaitable<size_t> readSome(Connection& conn, Parser& parser, char* buf, size_t n,
                                  beast::error_code& ec,
                                  std::optional<std::chrono::milliseconds> readTimeout = {});

  // Reads the rest of the response body into `out`, up to `maxBytes` (more: body_limit).
  net::awaitable<void> readBody(Connection& conn, Parser& parser, std::string& out,
                                size_t maxBytes, beast::error_code& ec,
                                std::optional<std::chrono::milliseconds> readTimeout = {});

  // After a complete exchange: pools the connection when the response allowed it and
  // nothing failed, else closes it.
  void done(std::unique_ptr<Connection> conn, const Parser& parser, const beast::error_code& ec);

  // Returns a connection after a complete exchange that left it reusable.
  void release(std::unique_ptr<Connection> conn);

  const Options& options() const { return options_; }

 private:
  net::awaitable<std::unique_ptr<Connection>> connect(const ProviderRoute& route,
                                                      beast::error_code& ec);
  std::unique_ptr<Connection> takeIdle(const std::string& key);

  net::io_context& ioc_;
  ssl::context& tls_;
  Options options_;
  net::ip::tcp::resolver resolver_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
};

// A TLS client context that verifies peers against the system store (+ `extraCaFile`).
std::unique_ptr<ssl::context> makeClientTlsContext(const std::string& extraCaFile);

}  // namespace finops::dp::upstream
