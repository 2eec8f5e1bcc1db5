// How finopsctl finds and talks to the control plane: address and admin token from flags,
// then FINOPS_ADDR / FINOPS_TOKEN, then the config file written by `finopsctl login`.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "finops/v1/admin.grpc.pb.h"

namespace finops::cli {

struct GlobalOptions {
  std::string addr;
  std::string token;
  std::string output = "table";  // table | json | yaml
  int timeoutSeconds = 10;
  std::string configPath;
};

// Exit codes (documented in docs/cli.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,
  kExitUsage = 2,
  kExitAuth = 3,
  kExitNotFound = 4,
  kExitExists = 5,
  kExitUnavailable = 6,
};

class CliError : public std::runtime_error {
 public:
  CliError(int code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

std::string defaultConfigPath();
// Fills addr/token from the environment and the config file where flags left them empty.
void resolveConnection(GlobalOptions& g);
void writeConfigFile(const std::string& path, const std::string& addr, const std::string& token);

class Client {
 public:
  explicit Client(const GlobalOptions& g);
  finops::v1::AdminService::Stub& stub() { return *stub_; }
  // A context with the admin token and the deadline set.
  std::unique_ptr<grpc::ClientContext> context() const;
  // Throws CliError mapped from a failed status.
  void check(const grpc::Status& s) const;

 private:
  GlobalOptions g_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<finops::v1::AdminService::Stub> stub_;
};

}  // namespace finops::cli
