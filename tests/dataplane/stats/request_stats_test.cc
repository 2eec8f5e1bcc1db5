#include "dataplane/stats/request_stats.h"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <gtest/gtest.h>

namespace finops::dp::stats {
namespace {

TEST(RequestStatsTest, UpstreamStatusesFallIntoTheClosedSet) {
  EXPECT_FALSE(classifyStatus(200).has_value());
  EXPECT_FALSE(classifyStatus(304).has_value());
  EXPECT_EQ(classifyStatus(429), UpstreamError::kRateLimited);
  EXPECT_EQ(classifyStatus(401), UpstreamError::kAuth);
  EXPECT_EQ(classifyStatus(403), UpstreamError::kAuth);
  EXPECT_EQ(classifyStatus(400), UpstreamError::kBadRequest);
  EXPECT_EQ(classifyStatus(404), UpstreamError::kBadRequest);
  EXPECT_EQ(classifyStatus(500), UpstreamError::kServerError);
  EXPECT_EQ(classifyStatus(529), UpstreamError::kServerError);
}

TEST(RequestStatsTest, TransportFailuresAreClassified) {
  EXPECT_EQ(classify(boost::beast::error::timeout), UpstreamError::kTimeout);
  EXPECT_EQ(classify(boost::asio::error::connection_refused), UpstreamError::kConnect);
  EXPECT_EQ(classify(boost::asio::error::host_not_found), UpstreamError::kConnect);
  EXPECT_EQ(classify(boost::asio::ssl::error::stream_truncated), UpstreamError::kTls);
  // An OpenSSL error (here: certificate verify failed's category).
  EXPECT_EQ(classify(boost::system::error_code(0x1416F086, boost::asio::error::get_ssl_category())),
            UpstreamError::kTls);
}

TEST(RequestStatsTest, TypeNamesAreTheDocumentedOnes) {
  EXPECT_EQ(name(UpstreamError::kConnect), "connect");
  EXPECT_EQ(name(UpstreamError::kTls), "tls");
  EXPECT_EQ(name(UpstreamError::kTimeout), "timeout");
  EXPECT_EQ(name(UpstreamError::kRateLimited), "rate_limited");
  EXPECT_EQ(name(UpstreamError::kAuth), "auth");
  EXPECT_EQ(name(UpstreamError::kBadRequest), "bad_request");
  EXPECT_EQ(name(UpstreamError::kServerError), "server_error");
  EXPECT_EQ(name(UpstreamError::kStreamInterrupted), "stream_interrupted");
}

TEST(RequestStatsTest, UpstreamErrorsAreRenderedByProviderAndType) {
  countUpstreamError("prov-test", UpstreamError::kRateLimited);
  countUpstreamError("prov-test", UpstreamError::kRateLimited);
  std::string text = registry().render();
  EXPECT_NE(text.find("finops_upstream_errors_total{provider=\"prov-test\",type=\"rate_limited\"} 2"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace finops::dp::stats
