// A client connection's byte stream: plain TCP, or TLS over TCP (the listener's --tls-cert).
// It meets Beast's AsyncStream requirements, so http::async_read/async_write and
// net::async_write work on it unchanged; timeouts are set on the TCP layer (expires_after),
// as with beast::tcp_stream.
//
// Not thread-safe: a connection is used only from its worker's io_context. At most one read
// and one write may be pending at a time (TLS supports one of each at once).
#pragma once

// clang-format off
#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it
// clang-format on
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <memory>
#include <optional>

namespace finops::dp {

class ClientStream {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;

  // Takes the accepted socket. With `tls` (the listener's context when the connection was
  // accepted) the stream speaks TLS once handshake() has succeeded; the connection keeps that
  // context to its end, whatever reloads happen meanwhile. Without it, plain TCP.
  ClientStream(boost::asio::ip::tcp::socket socket,
               std::shared_ptr<boost::asio::ssl::context> tls) {
    if (tls) {
      ctx_ = std::move(tls);
      tls_.emplace(std::move(socket), *ctx_);
    } else {
      plain_.emplace(std::move(socket));
    }
  }
  ClientStream(const ClientStream&) = delete;
  ClientStream& operator=(const ClientStream&) = delete;

  bool isTls() const { return tls_.has_value(); }
  boost::beast::tcp_stream& tcp() { return tls_ ? boost::beast::get_lowest_layer(*tls_) : *plain_; }
  executor_type get_executor() { return tcp().get_executor(); }

  // Every pending and later operation fails with beast::error::timeout after `d` (and the
  // socket is closed), until the next call.
  void expires_after(std::chrono::steady_clock::duration d) { tcp().expires_after(d); }
  void expires_never() { tcp().expires_never(); }

  // Cancels the pending operations on the socket (they complete with operation_aborted).
  void cancel() {
    boost::beast::error_code ignored;
    tcp().socket().cancel(ignored);
  }

  template <class MutableBufferSequence, class ReadToken>
  auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
    return boost::asio::async_initiate<ReadToken, void(boost::beast::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& b) {
          if (tls_)
            tls_->async_read_some(b, std::move(handler));
          else
            plain_->async_read_some(b, std::move(handler));
        },
        token, buffers);
  }

  template <class ConstBufferSequence, class WriteToken>
  auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
    return boost::asio::async_initiate<WriteToken, void(boost::beast::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& b) {
          if (tls_)
            tls_->async_write_some(b, std::move(handler));
          else
            plain_->async_write_some(b, std::move(handler));
        },
        token, buffers);
  }

  // The server side of the TLS handshake, under the timeout set before the call. Completes at
  // once, with no error, on a plain stream.
  boost::asio::awaitable<void> handshake(boost::beast::error_code& ec) {
    ec = {};
    if (!tls_) co_return;
    co_await tls_->async_handshake(boost::asio::ssl::stream_base::server,
                                   boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }

  // Closes the connection: for TLS a close_notify exchange bounded by `timeout` (skipped when
  // the socket is already closed or `sendCloseNotify` is false), then TCP FIN and close.
  boost::asio::awaitable<void> close(std::chrono::steady_clock::duration timeout,
                                     bool sendCloseNotify = true) {
    boost::beast::error_code ec;
    if (tls_ && sendCloseNotify && tcp().socket().is_open()) {
      tcp().expires_after(timeout);
      co_await tls_->async_shutdown(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    }
    if (tcp().socket().is_open()) {
      tcp().socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
      tcp().close();
    }
  }

 private:
  // Declared before tls_ so that it outlives the stream that uses it.
  std::shared_ptr<boost::asio::ssl::context> ctx_;
  std::optional<boost::beast::tcp_stream> plain_;
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
};

}  // namespace finops::dp
