// ConfigService: streams snapshots to data planes.
//
// The Publisher holds the newest snapshot. Each connected data plane has one reactor with at
// most one write in flight; when a write completes and a newer snapshot exists, the reactor
// sends the newest one only, so a slow data plane skips intermediate versions (coalescing).
// Thread-safe: publish() may be called from any thread.
//
// Every stream is checked by DataPlaneAuth first (dataplane_auth.h): a caller without a valid
// data-plane credential gets UNAUTHENTICATED and never sees a snapshot or the data-plane list.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "controlplane/grpc/dataplane_auth.h"
#include "finops/v1/admin.pb.h"
#include "finops/v1/config.grpc.pb.h"

namespace finops::cp {

class ConfigStreamReactor;

class Publisher {
 public:
  void publish(std::shared_ptr<const finops::v1::Snapshot> snapshot);
  std::shared_ptr<const finops::v1::Snapshot> current() const { return current_.load(); }

  // Ends every config stream (UNAVAILABLE), at shutdown.
  void shutdown();
  void add(ConfigStreamReactor* r);
  void remove(ConfigStreamReactor* r);

  // Status of data planes seen since start (connected ones and the last state of others).
  std::vector<finops::v1::DataPlaneInfo> dataPlanes() const;
  void updateInfo(const std::string& key, const std::function<void(finops::v1::DataPlaneInfo&)>& f);

 private:
  std::atomic<std::shared_ptr<const finops::v1::Snapshot>> current_;
  mutable std::mutex mu_;
  std::set<ConfigStreamReactor*> reactors_;                  // GUARDED_BY(mu_)
  std::map<std::string, finops::v1::DataPlaneInfo> infos_;  // GUARDED_BY(mu_)
};

class ConfigServiceImpl final : public finops::v1::ConfigService::CallbackService {
 public:
  // `auth` decides who may subscribe; it must outlive the service.
  ConfigServiceImpl(Publisher& publisher, const DataPlaneAuth& auth)
      : publisher_(publisher), auth_(auth) {}
  grpc::ServerBidiReactor<finops::v1::DataPlaneMessage, finops::v1::ConfigPush>* StreamConfig(
      grpc::CallbackServerContext* context) override;

 private:
  Publisher& publisher_;
  const DataPlaneAuth& auth_;
};

}  // namespace finops::cp
