#include "dataplane/routes/forward_headers.h"

#include <algorithm>

namespace finops::dp {
namespace {

constexpr std::string_view kExtraPrefix = "x-bf-eh-";

// Headers the gateway writes on every upstream request (or per wire format) itself.
bool isGatewaySet(std::string_view lowerName) {
  return lowerName == "content-type" || lowerName == "accept" || lowerName == "accept-encoding" ||
         lowerName == "anthropic-version" || lowerName == "anthropic-beta";
}

// The lower-case names listed in the client's Connection header(s).
std::vector<std::string> connectionNamed(const boost::beast::http::fields& client) {
  std::vector<std::string> names;
  for (const auto& f : client) {
    if (f.name() != boost::beast::http::field::connection) continue;
    std::string_view v = f.value();
    while (!v.empty()) {
      size_t comma = v.find(',');
      std::string_view item = v.substr(0, comma);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      if (!item.empty()) names.push_back(asciiLower(item));
      v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    }
  }
  return names;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> selectForwardHeaders(
    const boost::beast::http::fields& client, const std::unordered_set<std::string>& forward,
    const HeaderMatcher& extra, const boost::beast::http::fields& upstream) {
  std::vector<std::pair<std::string, std::string>> out;
  if (forward.empty() && extra.empty()) return out;
  auto dropped = connectionNamed(client);
  auto allowed = [&](const std::string& lower) {
    return !isNeverForwardedHeader(lower) && !isGatewaySet(lower) &&
           std::find(dropped.begin(), dropped.end(), lower) == dropped.end() &&
           upstream.find(lower) == upstream.end();
  };
  for (const auto& f : client) {
    std::string lower = asciiLower(f.name_string());
    if (lower.starts_with(kExtraPrefix)) {
      std::string name = lower.substr(kExtraPrefix.size());
      if (!name.empty() && extra.matches(name) && allowed(name) &&
          std::find(dropped.begin(), dropped.end(), lower) == dropped.end())
        out.emplace_back(std::move(name), std::string(f.value()));
    } else if (forward.count(lower) && allowed(lower)) {
      out.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
  }
  return out;
}

}  // namespace finops::dp
