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
  auto fromEnv = [](std::string& field, const char* var) {
    if (field.empty())
      if (const char* v = std::getenv(var); v && *v) field = v;
  };
  fromEnv(g.caFile, "FINOPS_CA_FILE");
  fromEnv(g.certFile, "FINOPS_CERT_FILE");
  fromEnv(g.keyFile, "FINOPS_KEY_FILE");
  fromEnv(g.tlsServerName, "FINOPS_TLS_SERVER_NAME");
  std::string path = g.configPath.empty() ? defaultConfigPath() : g.configPath;
  if ((g.addr.empty() || g.token.empty()) && std::filesystem::exists(path)) {
    try {
      YAML::Node cfg = YAML::LoadFile(path);
      if (g.addr.empty() && cfg["addr"]) {
        g.addr = cfg["addr"].as<std::string>();
        // The TLS settings saved with that address belong to it.
        auto fromFile = [&](std::string& field, const char* key) {
          if (field.empty() && cfg[key]) field = cfg[key].as<std::string>();
        };
        fromFile(g.caFile, "ca_file");
        fromFile(g.certFile, "cert_file");
        fromFile(g.keyFile, "key_file");
        fromFile(g.tlsServerName, "tls_server_name");
      }
      if (g.token.empty() && cfg["token"]) g.token = cfg["token"].as<std::string>();
    } catch (const std::exception& e) {
      throw CliError(kExitUsage, "cannot read config file " + path + ": " + e.what());
    }
  } else if (!g.configPath.empty() && !std::filesystem::exists(path)) {
    throw CliError(kExitUsage, "config file " + path + " does not exist");
  }
  if (g.addr.empty()) g.addr = "127.0.0.1:50051";
}

void writeConfigFile(const std::string& path, const std::string& addr, const std::string& token,
                     const GlobalOptions* tls) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "addr" << YAML::Value << addr << YAML::Key << "token"
      << YAML::Value << token;
  if (tls) {
    auto file = [&](const char* key, const std::string& p) {
      if (p.empty()) return;
      std::error_code ec;
      auto abs = std::filesystem::absolute(p, ec);
      out << YAML::Key << key << YAML::Value << (ec ? p : abs.string());
    };
    file("ca_file", tls->caFile);
    file("cert_file", tls->certFile);
    file("key_file", tls->keyFile);
    if (!tls->tlsServerName.empty())
      out << YAML::Key << "tls_server_name" << YAML::Value << tls->tlsServerName;
  }
  out << YAML::EndMap;
  if (!writePrivateFile(path, std::string(out.c_str()) + "\n"))
    throw CliError(kExitError, "cannot write " + path);
}

Client::Client(const GlobalOptions& g) : g_(g) {
  bool flags =
      !g.caFile.empty() || !g.certFile.empty() || !g.keyFile.empty() || !g.tlsServerName.empty();
  bool tls = flags;
  g_.addr = stripAddressScheme(g.addr, &tls);
  if (flags && !tls)
    throw CliError(kExitUsage, "the address " + g.addr +
                                   " says plaintext (http://) but --tls-ca/--tls-cert/--tls-key/"
                                   "--tls-server-name ask for TLS");
  if (tls) {
    std::string error;
    auto security = makeChannelSecurity({g.caFile, g.certFile, g.keyFile, g.tlsServerName}, &error);
    if (!security) throw CliError(kExitUsage, "TLS: " + error);
    security_ = *security;
  } else if (!g_.token.empty() && !g_.allowPlaintext && !isLoopback(g_.addr)) {
    throw CliError(kExitUsage,
                   "refusing to send the admin token in plaintext to " + g_.addr +
                       ", which is not a loopback address: pass --tls-ca FILE to use TLS (and "
                       "--tls-cert FILE --tls-key FILE if the control plane requires client "
                       "certificates) or an https://HOST:PORT address, or --allow-plaintext to "
                       "send it anyway");
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  channel_ = security_.createChannel(g_.addr, args);
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
    case grpc::StatusCode::PERMISSION_DENIED: throw CliError(kExitPermission, msg);
    case grpc::StatusCode::NOT_FOUND: throw CliError(kExitNotFound, msg);
    case grpc::StatusCode::ALREADY_EXISTS: throw CliError(kExitExists, msg);
    case grpc::StatusCode::ABORTED: throw CliError(kExitConflict, msg);
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED: {
      // A refused TLS handshake shows up as UNAVAILABLE too: say what to check.
      std::string hint;
      bool handshake = s.error_code() == grpc::StatusCode::UNAVAILABLE &&
                       msg.find("Connection refused") == std::string::npos;
      if (security_.tls() && handshake)
        hint =
            " (TLS: check that --tls-ca is the CA that signed the control plane's certificate, "
            "that the certificate names the address's host or --tls-server-name, and, if the "
            "control plane requires client certificates, --tls-cert and --tls-key)";
      else if (!security_.tls() && handshake && msg.find("Socket closed") != std::string::npos)
        hint =
            " (if the control plane serves TLS, pass --tls-ca FILE or an https:// address; "
            "with client certificates, also --tls-cert and --tls-key)";
      throw CliError(kExitUnavailable,
                     "control plane at " + g_.addr + " is unavailable: " + msg + hint);
    }
    default: throw CliError(kExitError, msg);
  }
}

}  // namespace finops::cli
