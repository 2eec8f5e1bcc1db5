// Subscribes to the control plane's ConfigService on a thread of its own: applies each
// pushed snapshot (build first, then swap), ACKs or NACKs it, and reconnects with
// exponential backoff and jitter when the stream breaks. The ConfigStore keeps serving the
// last good snapshot meanwhile.
#pragma once

#include <condition_variable>
#include <grpcpp/grpcpp.h>
#include <mutex>
#include <string>
#include <thread>

#include "dataplane/config/snapshot.h"

namespace finops::dp {

class Subscriber {
 public:
  Subscriber(std::string target, std::string nodeId, ConfigStore& store);
  ~Subscriber();
  void start();
  void stop();

 private:
  void run();

  const std::string target_;
  const std::string nodeId_;
  ConfigStore& store_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                    // GUARDED_BY(mu_)
  grpc::ClientContext* activeCall_ = nullptr;  // GUARDED_BY(mu_)
};

}  // namespace finops::dp
