#include "cli/connection.h"

#include "common/process.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

namespace finops::cli {

std::string defaultConfigPath() {
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x)
    return std::string(x) + "/finops/finopsctl.yaml";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.config/finops/finopsctl.yaml";
  return ".finopsctl.yaml";
}

void resolveConnection(GlobalOptions& g) {
  if (g.addr.empty())
    if (const char* a = std::getenv("FINOPS_ADDR"); a && *a) g.addr = a;
  if (g.token.empty())
    if (const char* t = std::getenv("FINOPS_TOKEN"); t && *t) g.token = t;
  std::string path = g.configPath.empty() ? defaultConfigPath() : g.configPath;
  if ((g.addr.empty() || g.token.empty()) && std::filesystem::exists(path)) {
    try {
      YAML::Node cfg = YAML::LoadFile(path);
      if (g.addr.empty() && cfg["addr"]) g.addr = cfg["addr"].as<std::string>();
      if (g.token.empty() && cfg["token"]) g.token = cfg["token"].as<std::string>();
    } catch (const std::exception& e) {
      throw CliError(kExitUsage, "cannot read config file " + path + ": " + e.what());
    }
  } else if (!g.configPath.empty() && !std::filesystem::exists(path)) {
    throw CliError(kExitUsage, "config file " + path + " does not exist");
  }
  if (g.addr.empty()) g.addr = "127.0.0.1:50051";
}

void writeConfigFile(const std::string& path, const std::string& addr, const std::string& token) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "addr" << YAML::Value << addr << YAML::Key << "token"
      << YAML::Value << token << YAML::EndMap;
  if (!writePrivateFile(path, std::string(out.c_str()) + "\n"))
    throw CliError(kExitError, "cannot write " + path);
}

Client::Client(const GlobalOptions& g) : g_(g) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  channel_ = grpc::CreateCustomChannel(g_.addr, grpc::InsecureChannelCredentials(), args);
  stub_ = finops::v1::AdminService::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> Client::context() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(g_.timeoutSeconds));
  if (!g_.token.empty()) ctx->AddMetadata("authorization", "Bearer " + g_.token);
  return ctx;
}

void Client::check(const grpc::Status& s) const {
  if (s.ok()) return;
  std::string msg = s.error_message();
  switch (s.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE: throw CliError(kExitUsage, msg);
    case grpc::StatusCode::UNAUTHENTICATED:
      throw CliError(kExitAuth, msg + (g_.token.empty() ? " (set FINOPS_TOKEN, pass --token or run "
                                                          "finopsctl login)"
                                                        : ""));
    case grpc::StatusCode::PERMISSION_DENIED: throw CliError(kExitAuth, msg);
    case grpc::StatusCode::NOT_FOUND: throw CliError(kExitNotFound, msg);
    case grpc::StatusCode::ALREADY_EXISTS: throw CliError(kExitExists, msg);
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      throw CliError(kExitUnavailable, "control plane at " + g_.addr + " is unavailable: " + msg);
    default: throw CliError(kExitError, msg);
  }
}

}  // namespace finops::cli
