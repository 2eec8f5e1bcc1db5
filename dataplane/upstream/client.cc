#include "dataplane/upstream/client.h"

#include <openssl/ssl.h>

#include <limits>

#include "common/log.h"

namespace finops::dp::upstream {

using net::redirect_error;
using net::use_awaitable;

Connection::Connection(net::any_io_executor ex, ssl::context* tls) {
  if (tls) {
    tls_.emplace(ex, *tls);
  } else {
    plain_.emplace(ex);
  }
}

void Connection::close() {
  beast::error_code ignored;
  tcp().socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  tcp().close();
}

std::unique_ptr<ssl::context> makeClientTlsContext(const std::string& extraCaFile) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  ctx->set_default_verify_paths();
  if (!extraCaFile.empty()) ctx->load_verify_file(extraCaFile);
  ctx->set_verify_mode(ssl::verify_peer);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  return ctx;
}

std::unique_ptr<Connection> Pool::takeIdle(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto now = std::chrono::steady_clock::now();
  auto& v = it->second;
  while (!v.empty()) {
    auto c = std::move(v.back());
    v.pop_back();
    if (now - c->idleSince < options_.maxIdle && c->tcp().socket().is_open()) {
      c->reused = true;
      return c;
    }
    c->close();
  }
  return nullptr;
}

void Pool::release(std::unique_ptr<Connection> conn) {
  auto& v = idle_[conn->poolKey];
  if (v.size() >= options_.maxIdlePerUpstream) {
    conn->close();
    return;
  }
  conn->idleSince = std::chrono::steady_clock::now();
  conn->buffer.consume(conn->buffer.size());
  v.push_back(std::move(conn));
}

net::awaitable<std::unique_ptr<Connection>> Pool::connect(const ProviderRoute& route,
                                                          beast::error_code& ec) {
  const Url& u = route.url;
  auto results = co_await resolver_.async_resolve(u.host, std::to_string(u.port),
                                                  redirect_error(use_awaitable, ec));
  if (ec) co_return nullptr;
  auto conn = std::make_unique<Connection>(ioc_.get_executor(), u.tls ? &tls_ : nullptr);
  conn->poolKey = route.poolKey;
  conn->tcp().expires_after(options_.connectTimeout);
  co_await conn->tcp().async_connect(results, redirect_error(use_awaitable, ec));
  if (ec) co_return nullptr;
  conn->tcp().socket().set_option(net::ip::tcp::no_delay(true), ec);
  ec = {};
  if (u.tls) {
    co_await conn->visit([&](auto& s) -> net::awaitable<void> {
      if constexpr (std::is_same_v<std::decay_t<decltype(s)>, beast::ssl_stream<beast::tcp_stream>>) {
        if (!SSL_set_tlsext_host_name(s.native_handle(), u.host.c_str())) {
          ec = beast::error_code(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category());
          co_return;
        }
        s.set_verify_callback(ssl::host_name_verification(u.host));
        co_await s.async_handshake(ssl::stream_base::client, redirect_error(use_awaitable, ec));
      }
      co_return;
    });
    if (ec) co_return nullptr;
  }
  co_return conn;
}

net::awaitable<void> Pool::exchange(const ProviderRoute& route,
                                    http::request<http::string_body>& req,
                                    std::unique_ptr<Connection>& conn,
                                    std::optional<Parser>& parser, beast::error_code& ec,
                                    std::optional<std::chrono::milliseconds> readTimeout) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    ec = {};
    parser.emplace();
    // Not boost::none: Beast 1.74 compares Content-Length against an empty optional as "over".
    parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    conn = takeIdle(route.poolKey);
    if (!conn) {
      conn = co_await connect(route, ec);
      if (ec) co_return;
    }
    conn->tcp().expires_after(options_.writeTimeout);
    co_await conn->visit([&](auto& s) {
      return http::async_write(s, req, redirect_error(use_awaitable, ec));
    });
    if (!ec) {
      conn->tcp().expires_after(readTimeout.value_or(options_.readTimeout));
      co_await conn->visit([&](auto& s) {
        return http::async_read_header(s, conn->buffer, *parser, redirect_error(use_awaitable, ec));
      });
    }
    if (!ec) co_return;
    bool nothingReceived = !parser->got_some();
    bool wasReused = conn->reused;
    conn->close();
    conn.reset();
    // A reused keep-alive connection may have been closed by the server while idle.
    if (!(wasReused && nothingReceived && ec != beast::error::timeout)) co_return;
  }
}

net::awaitable<size_t> Pool::readSome(Connection& conn, Parser& parser, char* buf, size_t n,
                                      beast::error_code& ec,
                                      std::optional<std::chrono::milliseconds> readTimeout) {
  ec = {};
  while (!parser.is_done()) {
    parser.get().body().data = buf;
    parser.get().body().size = n;
    conn.tcp().expires_after(readTimeout.value_or(options_.readTimeout));
    co_await conn.visit([&](auto& s) {
      return http::async_read_some(s, conn.buffer, parser, redirect_error(use_awaitable, ec));
    });
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return 0;
    size_t got = n - parser.get().body().size;
    if (got > 0) co_return got;
  }
  co_return 0;
}

net::awaitable<void> Pool::readBody(Connection& conn, Parser& parser, std::string& out,
                                    size_t maxBytes, beast::error_code& ec,
                                    std::optional<std::chrono::milliseconds> readTimeout) {
  std::array<char, 16384> buf;
  for (;;) {
    size_t n = co_await readSome(conn, parser, buf.data(), buf.size(), ec, readTimeout);
    if (ec || n == 0) co_return;
    out.append(buf.data(), n);
    if (out.size() > maxBytes) {
      ec = http::error::body_limit;
      co_return;
    }
  }
}

void Pool::done(std::unique_ptr<Connection> conn, const Parser& parser, const beast::error_code& ec) {
  if (!conn) return;
  if (!ec && parser.is_done() && parser.get().keep_alive()) release(std::move(conn));
  else conn->close();
}

}  // namespace finops::dp::upstream
