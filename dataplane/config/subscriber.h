// Subscribes to the control plane's ConfigService on a thread of its own: applies each
// pushed snapshot (build first, then swap), ACKs or NACKs it, and reconnects with
// exponential backoff and jitter when the stream breaks. The ConfigStore keeps serving the
// last good snapshot meanwhile.
//
// A link that cannot be established (control plane down, TLS handshake refused, e.g. a missing
// or untrusted client certificate under mutual TLS) is retried the same way and logged as a
// warning with gRPC's reason, again every 30 s while it lasts. A control plane that refuses the
// data plane's credential (UNAUTHENTICATED: no data-plane token, or a wrong one) is retried the
// same way and logged as an error naming the flag to check; the data plane stays not ready
// until it gets a config.
#pragma once

#include <condition_variable>
#include <grpcpp/grpcpp.h>
#include <mutex>
#include <string>
#include <thread>

#include "common/grpc_tls.h"
#include "dataplane/config/snapshot.h"
#include "finops/v1/config.pb.h"

namespace finops::dp {

// Builds the pushed snapshot and, if it builds, puts it in service. Returns the Ack, or the
// Nack with the reason (the store then keeps its previous snapshot).
finops::v1::DataPlaneMessage applyPush(const finops::v1::ConfigPush& push, ConfigStore& store);

// What an operator should check when the control plane answers UNAUTHENTICATED: the token
// flags (`hasToken`: this data plane sends one), or mutual TLS.
std::string controlPlaneAuthHint(const ChannelSecurity& security, bool hasToken);

class Subscriber {
 public:
  // `security`: plaintext by default, else the TLS credentials for the control plane link.
  // `token` (SECRET): the data-plane token sent as "authorization: Bearer <token>" on the config
  // stream; empty: none (mutual TLS, or a control plane on the same host that needs none).
  Subscriber(std::string target, std::string nodeId, ConfigStore& store,
             ChannelSecurity security = {}, std::string token = {});
  ~Subscriber();
  void start();
  void stop();

 private:
  void run();

  const std::string target_;
  const std::string nodeId_;
  const ChannelSecurity security_;
  const std::string token_;  // SECRET
  ConfigStore& store_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                    // GUARDED_BY(mu_)
  grpc::ClientContext* activeCall_ = nullptr;  // GUARDED_BY(mu_)
};

}  // namespace finops::dp
