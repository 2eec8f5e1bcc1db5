// Which client request headers go to the upstream: one pure rule, used by the proxy.
#pragma once

#include <boost/beast/http/fields.hpp>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/header_policy.h"

namespace finops::dp {

// The headers to add to an upstream request, in the client's order:
//  - a client header named in `forward` (lower-case names) goes as it is;
//  - "x-bf-eh-<name>: v" goes as "<name>: v" when `extra` matches <name>;
// and never, whatever `forward` and `extra` say:
//  - the client's credentials (authorization, x-api-key, x-goog-api-key, x-bf-vk, cookie,
//    proxy-authorization) nor any other x-bf-* header;
//  - hop-by-hop and framing headers (connection, keep-alive, te, trailer, transfer-encoding,
//    upgrade, proxy-connection, host, content-length, expect), nor a header the client's
//    Connection header names;
//  - a header the gateway sets for the upstream itself: content-type, accept,
//    accept-encoding, anthropic-version, anthropic-beta, and any header `upstream` (the
//    upstream request built so far) already has.
std::vector<std::pair<std::string, std::string>> selectForwardHeaders(
    const boost::beast::http::fields& client, const std::unordered_set<std::string>& forward,
    const HeaderMatcher& extra, const boost::beast::http::fields& upstream);

}  // namespace finops::dp
