// finopsctl command groups. Each takes the arguments after the group name.
#pragma once

#include <google/protobuf/timestamp.pb.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/connection.h"

namespace finops::cli {

int runProviders(const GlobalOptions& g, const std::vector<std::string>& args);
int runKeys(const GlobalOptions& g, const std::vector<std::string>& args);
int runSettings(const GlobalOptions& g, const std::vector<std::string>& args);
int runDataPlanes(const GlobalOptions& g, const std::vector<std::string>& args);
int runCustomers(const GlobalOptions& g, const std::vector<std::string>& args);
int runTeams(const GlobalOptions& g, const std::vector<std::string>& args);
int runBudgets(const GlobalOptions& g, const std::vector<std::string>& args);
int runRateLimits(const GlobalOptions& g, const std::vector<std::string>& args);
int runPrices(const GlobalOptions& g, const std::vector<std::string>& args);
int runUsage(const GlobalOptions& g, const std::vector<std::string>& args);
int runApply(const GlobalOptions& g, const std::vector<std::string>& args);
int runTokens(const GlobalOptions& g, const std::vector<std::string>& args);
int runAudit(const GlobalOptions& g, const std::vector<std::string>& args);
int runLogs(const GlobalOptions& g, const std::vector<std::string>& args);

// RFC 3339, or null for an unset timestamp.
nlohmann::ordered_json timestampJson(const google::protobuf::Timestamp& t);

}  // namespace finops::cli
