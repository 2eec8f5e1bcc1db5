// finops-controlplane: owns the state (SQLite), serves the admin API and streams config
// snapshots to data planes.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <iostream>
#include <string>

#include "common/log.h"
#include "common/process.h"
#include "controlplane/grpc/admin_service.h"
#include "controlplane/grpc/usage_service.h"
#include "controlplane/grpc/config_service.h"
#include "controlplane/store/store.h"

namespace {

struct Options {
  std::string db = "./var/finops.db";
  std::string listen = "127.0.0.1:50051";
  std::string adminTokenFile;  // default: beside the database
};

void usage() {
  std::cerr << "usage: finops-controlplane [--db PATH] [--listen HOST:PORT] "
               "[--admin-token-file PATH]\n"
               "  --db PATH               SQLite database (default ./var/finops.db)\n"
               "  --listen HOST:PORT      gRPC listen address (default 127.0.0.1:50051)\n"
               "  --admin-token-file PATH where the first-start admin token is written, mode 0600\n"
               "                          (default: admin-token beside the database)\n";
}

bool parseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string& out) {
      auto eq = a.find('=');
      if (eq != std::string::npos) {
        out = a.substr(eq + 1);
        return true;
      }
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    std::string name = a.substr(0, a.find('='));
    if (name == "--db") {
      if (!value(o.db)) return false;
    } else if (name == "--listen") {
      if (!value(o.listen)) return false;
    } else if (name == "--admin-token-file") {
      if (!value(o.adminTokenFile)) return false;
    } else if (name == "--help" || name == "-h") {
      usage();
      std::exit(0);
    } else {
      std::cerr << "finops-controlplane: unknown argument '" << a << "'\n";
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace finops;
  Options opt;
  if (!parseArgs(argc, argv, opt)) {
    usage();
    return 2;
  }
  if (opt.adminTokenFile.empty()) {
    auto parent = std::filesystem::path(opt.db).parent_path();
    opt.adminTokenFile = (parent.empty() ? std::filesystem::path(".") : parent) / "admin-token";
  }

  // Block termination signals in every thread; main waits for them.
  sigset_t sigs = blockTerminationSignals();

  std::unique_ptr<cp::Store> store;
  try {
    store = std::make_unique<cp::Store>(opt.db);
    if (auto token = store->ensureInitialAdminToken()) {
      if (!writePrivateFile(opt.adminTokenFile, *token + "\n")) {
        log::error("cannot write admin token file", {{"path", opt.adminTokenFile}});
        return 1;
      }
      std::cout << "admin token: " << *token << "\n"
                << "(shown once; also written to " << opt.adminTokenFile << ", mode 0600)"
                << std::endl;
    }
  } catch (const std::exception& e) {
    log::error("cannot open database", {{"path", opt.db}, {"error", e.what()}});
    return 1;
  }

  cp::Publisher publisher;
  cp::ConfigServiceImpl configService(publisher);
  cp::AdminServiceImpl adminService(*store, publisher);
  cp::UsageServiceImpl usageService(*store);
  try {
    adminService.republish();
  } catch (const std::exception& e) {
    log::error("cannot build the initial snapshot", {{"error", e.what()}});
    return 1;
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(opt.listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&configService);
  builder.RegisterService(&adminService);
  builder.RegisterService(&usageService);
  builder.SetMaxReceiveMessageSize(16 * 1024 * 1024);
  builder.SetMaxSendMessageSize(64 * 1024 * 1024);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    log::error("cannot listen", {{"listen", opt.listen}});
    return 1;
  }
  std::string host = opt.listen.substr(0, opt.listen.rfind(':'));
  log::info("listening on " + host + ":" + std::to_string(port),
            {{"db", opt.db}, {"config_version", store->configVersion()}});

  int sig = waitForSignal(sigs);
  log::info("shutting down", {{"signal", sig}});
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server->Wait();
  return 0;
}
