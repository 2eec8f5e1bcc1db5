// A parsed absolute http(s) URL, as used for provider base URLs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace finops {

struct Url {
  bool tls = false;       // https
  std::string host;       // without brackets for IPv6
  uint16_t port = 0;      // explicit or the scheme default
  std::string basePath;   // path without a trailing '/', may be empty
  // "host" or "host:port" (non-default port), for the Host header.
  std::string hostHeader() const;
};

// Parses "http[s]://host[:port][/path]". Returns nullopt and fills `error` on failure.
// Query strings and fragments are refused.
std::optional<Url> parseUrl(std::string_view text, std::string* error);

}  // namespace finops
