#include "controlplane/grpc/admin_scopes.h"

namespace finops::cp {
namespace {

const MethodAccess* find(std::string_view method) {
  for (const auto& m : adminMethodAccess())
    if (m.method == method) return &m;
  return nullptr;
}

}  // namespace

const std::vector<MethodAccess>& adminMethodAccess() {
  //                                     method              keys:write  read
  static const std::vector<MethodAccess> kTable = {
      {"WhoAmI", true, true},
      // Providers hold upstream secrets and routing: not the business of CI provisioning.
      {"CreateProvider", false, false},
      {"UpdateProvider", false, false},
      {"GetProvider", false, true},
      {"ListProviders", false, true},
      {"DeleteProvider", false, false},

      {"CreateKey", true, false},
      {"GetKey", true, true},
      {"ListKeys", true, true},
      {"RevokeKey", true, false},
      {"UpdateKey", true, false},
      {"RotateKey", true, false},
      {"DeleteKey", true, false},

      {"CreateCustomer", true, false},
      {"UpdateCustomer", true, false},
      {"GetCustomer", true, true},
      {"ListCustomers", true, true},
      {"DeleteCustomer", true, false},

      {"CreateTeam", true, false},
      {"UpdateTeam", true, false},
      {"GetTeam", true, true},
      {"ListTeams", true, true},
      {"DeleteTeam", true, false},

      {"CreateLimit", true, false},
      {"UpdateLimit", true, false},
      {"GetLimit", true, true},
      {"ListLimits", true, true},
      {"DeleteLimit", true, false},

      {"ListPrices", true, true},
      {"SetPrice", false, false},
      {"DeletePrice", false, false},

      {"GetUsage", false, true},

      {"GetSettings", false, true},
      {"UpdateSettings", false, false},

      {"ListDataPlanes", false, true},

      {"CreateAdminToken", false, false},
      // Metadata only (id, name, scope, dates): never a secret.
      {"ListAdminTokens", false, true},
      {"RevokeAdminToken", false, false},
      {"ListAudit", false, true},

      // Request logs hold request and response content: not the business of CI provisioning.
      {"ListLogs", false, true},
      {"GetLog", false, true},
  };
  return kTable;
}

bool scopeAllows(std::string_view scope, std::string_view method) {
  if (scope == "admin") return true;
  const MethodAccess* m = find(method);
  if (!m) return false;
  if (scope == "keys:write") return m->keysWrite;
  if (scope == "read") return m->read;
  return false;
}

std::string scopesAllowing(std::string_view method) {
  const MethodAccess* m = find(method);
  if (!m || (!m->keysWrite && !m->read)) return "admin";
  if (m->keysWrite && m->read) return "admin, keys:write or read";
  return m->keysWrite ? "admin or keys:write" : "admin or read";
}

}  // namespace finops::cp
