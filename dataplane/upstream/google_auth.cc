#include "dataplane/upstream/google_auth.h"

#include "dataplane/translate/json_util.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <map>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/log.h"

namespace finops::dp::upstream {

using net::redirect_error;
using net::use_awaitable;
using nlohmann::json;

namespace {
constexpr const char* kScope = "https://www.googleapis.com/auth/cloud-platform";
constexpr const char* kGoogleTokenUrl = "https://oauth2.googleapis.com/token";
constexpr int64_t kLifetimeSeconds = 3600;

std::string signRs256(const std::string& pem, std::string_view data, std::string* error) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr, EVP_PKEY_free);
  if (!key) {
    *error = "the service account's private_key is not a PEM private key";
    return "";
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    *error = "cannot sign with the service account's private key";
    return "";
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    *error = "cannot sign with the service account's private key";
    return "";
  }
  sig.resize(len);
  return sig;
}
}  // namespace

std::optional<ServiceAccount> parseServiceAccount(std::string_view text, std::string* error) {
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) {
    *error = "the service-account key is not JSON";
    return std::nullopt;
  }
  auto str = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  ServiceAccount sa;
  sa.clientEmail = str("client_email");
  sa.privateKeyPem = str("private_key");
  sa.privateKeyId = str("private_key_id");
  sa.tokenUri = str("token_uri");
  if (sa.clientEmail.empty() || sa.privateKeyPem.empty()) {
    *error = "the service-account key has no client_email or private_key";
    return std::nullopt;
  }
  return sa;
}

std::string makeJwtAssertion(const ServiceAccount& sa, std::string_view audience,
                             int64_t nowSeconds, std::string* error) {
  json header = {{"alg", "RS256"}, {"typ", "JWT"}};
  if (!sa.privateKeyId.empty()) header["kid"] = sa.privateKeyId;
  json claims = {{"iss", sa.clientEmail},
                 {"scope", kScope},
                 {"aud", audience},
                 {"iat", nowSeconds},
                 {"exp", nowSeconds + kLifetimeSeconds}};
  auto dump = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); };
  std::string signingInput = base64Url(dump(header)) + "." + base64Url(dump(claims));
  std::string sig = signRs256(sa.privateKeyPem, signingInput, error);
  if (sig.empty()) return "";
  return signingInput + "." + base64Url(sig);
}

TokenSource::TokenSource(ServiceAccount sa, std::string tokenUrl) : sa_(std::move(sa)) {
  tokenUrl_ = !tokenUrl.empty() ? std::move(tokenUrl)
              : !sa_.tokenUri.empty() ? sa_.tokenUri
                                      : std::string(kGoogleTokenUrl);
  auto url = parseUrl(tokenUrl_, &urlError_);
  if (url) {
    urlOk_ = true;
    endpoint_.name = "vertex-token";
    endpoint_.url = *url;
    endpoint_.poolKey = std::string(url->tls ? "https://" : "http://") + url->host + ":" +
                        std::to_string(url->port);
  }
}

std::shared_ptr<TokenSource> TokenSource::get(std::string_view serviceAccountJson,
                                              std::string_view tokenUrl, std::string* error) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<TokenSource>> sources;
  std::string id = sha256Bytes(std::string(serviceAccountJson) + '\n' + std::string(tokenUrl));
  std::lock_guard lock(mu);
  if (auto it = sources.find(id); it != sources.end())
    if (auto s = it->second.lock()) return s;
  auto sa = parseServiceAccount(serviceAccountJson, error);
  if (!sa) return nullptr;
  auto s = std::make_shared<TokenSource>(std::move(*sa), std::string(tokenUrl));
  for (auto it = sources.begin(); it != sources.end();)
    it = it->second.expired() ? sources.erase(it) : std::next(it);
  sources[id] = s;
  return s;
}

int64_t TokenSource::fetches() const {
  std::lock_guard lock(mu_);
  return fetches_;
}

net::awaitable<std::optional<std::string>> TokenSource::token(Pool& pool, std::string& error) {
  auto ex = co_await net::this_coro::executor;
  for (int waited = 0;; ++waited) {
    bool mine = false;
    {
      std::lock_guard lock(mu_);
      auto now = std::chrono::steady_clock::now();
      bool valid = !token_.empty() && now < expiry_;
      if (valid && (now < refreshAt_ || refreshing_)) co_return token_;
      if (!refreshing_) {
        refreshing_ = true;
        mine = true;
      }
    }
    if (mine) {
      bool ok = false;
      try {
        ok = co_await fetch(pool, error);
      } catch (const std::exception& e) {
        error = std::string("token exchange failed: ") + e.what();
      }
      std::lock_guard lock(mu_);
      refreshing_ = false;
      if (ok) co_return token_;
      auto now = std::chrono::steady_clock::now();
      if (!token_.empty() && now < expiry_) {
        // A failed refresh while the old token is still valid: keep using it, and try
        // again later rather than on every request.
        refreshAt_ = now + std::min<std::chrono::steady_clock::duration>(
                               std::chrono::seconds(30), (expiry_ - now) / 2);
        co_return token_;
      }
      co_return std::nullopt;
    }
    // Another request is fetching the first token: wait for it (up to ~30 s).
    if (waited > 1500) {
      error = "timed out waiting for a Vertex AI access token";
      co_return std::nullopt;
    }
    net::steady_timer t(ex);
    t.expires_after(std::chrono::milliseconds(20));
    beast::error_code ec;
    co_await t.async_wait(redirect_error(use_awaitable, ec));
  }
}

net::awaitable<bool> TokenSource::fetch(Pool& pool, std::string& error) {
  if (!urlOk_) {
    error = "token URL '" + tokenUrl_ + "': " + urlError_;
    co_return false;
  }
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::string jwt = makeJwtAssertion(sa_, tokenUrl_, now, &error);
  if (jwt.empty()) co_return false;
  http::request<http::string_body> req{http::verb::post,
                                       endpoint_.url.basePath.empty() ? "/" : endpoint_.url.basePath, 11};
  req.set(http::field::host, endpoint_.url.hostHeader());
  req.set(http::field::content_type, "application/x-www-form-urlencoded");
  req.set(http::field::accept, "application/json");
  req.set(http::field::user_agent, "finops/" FINOPS_VERSION);
  req.keep_alive(true);
  req.body() = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" + jwt;
  req.prepare_payload();
  std::unique_ptr<Connection> conn;
  std::optional<Parser> parser;
  beast::error_code ec;
  co_await pool.exchange(endpoint_, req, conn, parser, ec, std::chrono::milliseconds(15000));
  std::string body;
  if (!ec) co_await pool.readBody(*conn, *parser, body, 1 << 20, ec, std::chrono::milliseconds(15000));
  if (conn) pool.done(std::move(conn), *parser, ec);
  if (ec) {
    error = "token request to " + tokenUrl_ + " failed: " + ec.message();
    co_return false;
  }
  unsigned status = parser->get().result_int();
  auto j = parseUntrusted<json>(body);
  if (status != 200 || !j.is_object() || !j.contains("access_token") || !j["access_token"].is_string()) {
    std::string why;
    for (const char* k : {"error_description", "error"})
      if (why.empty() && j.is_object() && j.contains(k))
        why = j[k].is_string() ? j[k].get<std::string>() : j[k].dump(-1, ' ', false, json::error_handler_t::replace);
    if (why.empty() && !j.is_object()) why = body.substr(0, 300);
    error = "the token endpoint " + tokenUrl_ + " refused the service account (HTTP " +
            std::to_string(status) + (why.empty() ? "" : ": " + why) + ")";
    co_return false;
  }
  int64_t ttl = j.contains("expires_in") && j["expires_in"].is_number() ? j["expires_in"].get<int64_t>() : 3600;
  if (ttl <= 0) ttl = 60;
  auto nowSteady = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  token_ = j["access_token"].get<std::string>();
  expiry_ = nowSteady + std::chrono::seconds(ttl);
  // Refresh ahead: 5 minutes before expiry, or half-way for short-lived tokens.
  refreshAt_ = nowSteady + std::chrono::seconds(ttl - std::min<int64_t>(300, ttl / 2));
  ++fetches_;
  log::info("vertex access token obtained", {{"token_url", tokenUrl_}, {"expires_in_s", std::to_string(ttl)}});
  co_return true;
}

}  // namespace finops::dp::upstream
