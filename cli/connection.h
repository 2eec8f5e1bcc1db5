// How finopsctl finds and talks to the control plane: address and admin token from flags,
// then FINOPS_ADDR / FINOPS_TOKEN, then the config file written by `finopsctl login`.
// TLS settings likewise: --tls-ca/--tls-cert/--tls-key/--tls-server-name, then FINOPS_CA_FILE /
// FINOPS_CERT_FILE / FINOPS_KEY_FILE / FINOPS_TLS_SERVER_NAME, then the config file (only when
// the address comes from it too).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "common/grpc_tls.h"
#include "finops/v1/admin.grpc.pb.h"

namespace finops::cli {

struct GlobalOptions {
  std::string addr;
  std::string token;
  std::string output = "table";  // table | json | yaml
  int timeoutSeconds = 10;
  std::string configPath;
  // TLS to the control plane: on when any of these is set or the address is https://HOST:PORT.
  std::string caFile;           // CA bundle that signed the server certificate (else system roots)
  std::string certFile;         // client certificate, for mutual TLS (with keyFile)
  std::string keyFile;          // its private key
  std::string tlsServerName;    // name expected in the server certificate (else the address host)
  bool allowPlaintext = false;  // send the admin token in plaintext to a non-loopback address
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
  kExitPermission = 7,  // authenticated, but the token's scope does not allow the call
  kExitConflict = 8,    // a conditional change lost to another one made at the same time
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
// Also records g's TLS settings (absolute paths), if any.
void writeConfigFile(const std::string& path, const std::string& addr, const std::string& token,
                     const GlobalOptions* tls = nullptr);

class Client {
 public:
  // Throws CliError(kExitUsage) when the TLS files cannot be used, or when the admin token would
  // go in plaintext to a non-loopback address without --allow-plaintext.
  explicit Client(const GlobalOptions& g);
  finops::v1::AdminService::Stub& stub() { return *stub_; }
  // A context with the admin token and the deadline set.
  std::unique_ptr<grpc::ClientContext> context() const;
  // Throws CliError mapped from a failed status.
  void check(const grpc::Status& s) const;

 private:
  GlobalOptions g_;
  ChannelSecurity security_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<finops::v1::AdminService::Stub> stub_;
};

}  // namespace finops::cli
