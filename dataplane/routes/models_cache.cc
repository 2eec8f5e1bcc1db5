#include "dataplane/routes/models_cache.h"

#include "dataplane/translate/json_util.h"

#include <map>
#include <mutex>
#include <set>

#include "common/log.h"

namespace finops::dp {

using net::redirect_error;
using net::use_awaitable;
using nlohmann::json;

namespace {

struct CacheEntry {
  std::vector<std::string> ids;
  std::chrono::steady_clock::time_point fetchedAt{};
  bool fetched = false;
  bool inFlight = false;
};

constexpr auto kTtl = std::chrono::seconds(60);
constexpr auto kFetchTimeout = std::chrono::milliseconds(10000);

std::mutex gMu;
std::map<std::string, CacheEntry> gCache;  // GUARDED_BY(gMu); key: cacheKey()

std::string cacheKey(const ProviderRoute& r) {
  return r.name + "|" + r.poolKey + r.url.basePath + "|" + std::to_string(r.authHeaders.size());
}

struct WaitState {
  explicit WaitState(net::any_io_executor ex) : timer(ex) {}
  net::steady_timer timer;
  int pending = 0;
};

// `config` is held only to keep `route` alive while the fetch runs in the background.
net::awaitable<void> fetchModels(upstream::Pool& pool, std::shared_ptr<const ConfigSnapshot> config,
                                 const ProviderRoute* route, std::string key,
                                 std::shared_ptr<WaitState> wait) {
  // Gemini pages its list (50 by default).
  std::string path = route->url.basePath + "/models";
  if (route->type == finops::v1::PROVIDER_TYPE_GEMINI) path += "?pageSize=1000";
  if (route->type == finops::v1::PROVIDER_TYPE_ANTHROPIC) path += "?limit=1000";
  http::request<http::string_body> req{http::verb::get, path, 11};
  req.set(http::field::host, route->url.hostHeader());
  req.set(http::field::accept, "application/json");
  req.set(http::field::accept_encoding, "identity");
  req.set(http::field::user_agent, "finops/" FINOPS_VERSION);
  if (const auto* auth = route->nextAuth()) req.set(auth->first, auth->second);
  if (route->type == finops::v1::PROVIDER_TYPE_ANTHROPIC) req.set("anthropic-version", "2023-06-01");
  req.keep_alive(true);
  std::unique_ptr<upstream::Connection> conn;
  std::optional<upstream::Parser> parser;
  beast::error_code ec;
  std::string body;
  co_await pool.exchange(*route, req, conn, parser, ec, kFetchTimeout);
  unsigned status = ec ? 0 : parser->get().result_int();
  if (!ec) {
    co_await pool.readBody(*conn, *parser, body, 16 * 1024 * 1024, ec, kFetchTimeout);
    pool.done(std::move(conn), *parser, ec);
  }
  {
    std::lock_guard lock(gMu);
    auto& e = gCache[key];
    e.inFlight = false;
    if (!ec && status == 200) {
      e.ids = parseUpstreamModels(body);
      e.fetched = true;
      e.fetchedAt = std::chrono::steady_clock::now();
    } else {
      // Keep what we had; retry after a short pause rather than on every call.
      e.fetchedAt = std::chrono::steady_clock::now() - kTtl + std::chrono::seconds(10);
    }
  }
  if (ec || status != 200)
    log::warn("listing upstream models failed",
              {{"provider", route->name},
               {"status", status},
               {"error", ec ? ec.message() : std::string("HTTP ") + std::to_string(status)}});
  if (wait && --wait->pending == 0) wait->timer.cancel();
}

}  // namespace

std::vector<std::string> parseUpstreamModels(std::string_view body) {
  std::vector<std::string> out;
  json j = parseUntrusted<json>(body);
  const json* list = nullptr;
  const char* idField = "id";
  if (j.is_array()) list = &j;
  else if (j.is_object() && j.contains("data") && j["data"].is_array()) list = &j["data"];
  else if (j.is_object() && j.contains("models") && j["models"].is_array()) {
    list = &j["models"];
    idField = "name";
  }
  if (!list) return out;
  for (const auto& m : *list) {
    if (m.is_string()) out.push_back(m.get<std::string>());
    else if (m.is_object()) {
      auto it = m.find(idField);
      if (it == m.end()) it = m.find("id");
      if (it != m.end() && it->is_string()) {
        std::string id = it->get<std::string>();
        if (id.starts_with("models/")) id.erase(0, 7);  // Gemini: "models/gemini-2.5-pro"
        out.push_back(std::move(id));
      }
    }
  }
  return out;
}

net::awaitable<std::vector<std::pair<std::string, std::string>>> listModelIds(
    Exchange& ex, std::chrono::milliseconds maxWait) {
  auto exec = co_await net::this_coro::executor;
  std::vector<const ProviderRoute*> routes;
  for (const auto& [name, r] : ex.config->providers) routes.push_back(r.get());
  std::sort(routes.begin(), routes.end(),
            [](auto* a, auto* b) { return a->name < b->name; });

  auto wait = std::make_shared<WaitState>(exec);
  auto now = std::chrono::steady_clock::now();
  std::vector<std::pair<const ProviderRoute*, std::string>> toFetch;
  bool mustWait = false;
  {
    std::lock_guard lock(gMu);
    for (auto* r : routes) {
      if (!r->listUpstreamModels) continue;
      std::string key = cacheKey(*r);
      auto& e = gCache[key];
      bool stale = !e.fetched || now - e.fetchedAt > kTtl;
      if (stale && !e.inFlight) {
        e.inFlight = true;
        toFetch.emplace_back(r, key);
      }
      if (!e.fetched && e.inFlight) mustWait = true;
    }
  }
  for (auto& [r, key] : toFetch) {
    bool waitFor = mustWait;
    if (waitFor) ++wait->pending;
    net::co_spawn(exec, fetchModels(ex.pool, ex.config, r, key, waitFor ? wait : nullptr),
                  net::detached);
  }
  if (wait->pending > 0) {
    wait->timer.expires_after(maxWait);
    beast::error_code ec;
    co_await wait->timer.async_wait(redirect_error(use_awaitable, ec));
  }

  std::vector<std::pair<std::string, std::string>> out;
  std::lock_guard lock(gMu);
  for (auto* r : routes) {
    std::set<std::string> seen;
    auto add = [&](const std::string& m) {
      if (seen.insert(m).second) out.emplace_back(r->name + "/" + m, r->name);
    };
    for (const auto& m : r->models) add(m);
    if (r->listUpstreamModels) {
      auto it = gCache.find(cacheKey(*r));
      if (it != gCache.end())
        for (const auto& m : it->second.ids) add(m);
    }
  }
  co_return out;
}

}  // namespace finops::dp
