// Which admin-token scope may call which AdminService method.
//
// Scopes: "admin" may call everything; "keys:write" (CI provisioning) manages virtual keys,
// customers, teams and limits and may read prices; "read" may call every Get/List method
// (provider keys stay redacted), GetUsage, GetSettings, ListDataPlanes, ListAdminTokens (metadata
// only), ListAudit and the request logs (ListLogs, GetLog), and nothing that changes state. The
// table below is the single source of truth: a method missing from it can be called with scope
// admin only (and a unit test fails).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace finops::cp {

struct MethodAccess {
  std::string_view method;  // AdminService method name, e.g. "CreateKey"
  bool keysWrite;           // a "keys:write" token may call it
  bool read;                // a "read" token may call it
};

// Every AdminService method, in the order of the proto.
const std::vector<MethodAccess>& adminMethodAccess();

// True when a token with `scope` may call `method` (unknown scopes and methods: admin only).
bool scopeAllows(std::string_view scope, std::string_view method);

// The scopes that may call `method`, for error messages: "admin", "admin or keys:write",
// "admin, keys:write or read".
std::string scopesAllowing(std::string_view method);

}  // namespace finops::cp
