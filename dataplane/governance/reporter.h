// Sends usage records to the control plane and brings back quota grants, on a thread of its
// own (UsageService.Report, about every 100 ms while there is something to say).
//
// Records wait in a bounded buffer until a reply accepts them: a control plane that is down
// or restarting loses nothing; they are resent (at-least-once; the control plane applies
// each request id once). When the buffer is full the data plane refuses new governed work
// rather than lose a record (hasRoom()).
#pragma once

#include <condition_variable>
#include <deque>
#include <grpcpp/grpcpp.h>
#include <mutex>
#include <string>
#include <thread>

#include "common/grpc_tls.h"
#include "dataplane/config/snapshot.h"
#include "dataplane/governance/quota.h"
#include "finops/v1/usage.grpc.pb.h"

namespace finops::dp {

struct ReporterOptions {
  std::string target;        // control plane address
  std::string nodeName;      // --node-id
  ChannelSecurity security;  // plaintext by default, else the control plane link's TLS
  std::string token;         // SECRET: data-plane token ("authorization: Bearer"); empty: none
  size_t maxBuffered = 200'000;
  size_t maxBatch = 2'000;
  std::chrono::milliseconds interval{100};
};

class Reporter {
 public:
  Reporter(ReporterOptions options, Quota& quota, ConfigStore& config);
  ~Reporter();
  void start();
  // Sends what is buffered for up to `deadline`, then stops the thread.
  void stopAndFlush(std::chrono::milliseconds deadline);

  bool hasRoom() const;
  void enqueue(finops::v1::UsageRecord record);
  // This process's node id (name + random suffix): grants belong to one process.
  const std::string& nodeId() const { return nodeId_; }
  size_t buffered() const;

 private:
  void run();
  bool reportOnce(bool withDemands);

  ReporterOptions options_;
  Quota& quota_;
  ConfigStore& config_;
  std::string nodeId_;
  std::unique_ptr<finops::v1::UsageService::Stub> stub_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<finops::v1::UsageRecord> buffer_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                         // GUARDED_BY(mu_)
  uint64_t syncedVersion_ = 0;                    // reporter thread only
};

}  // namespace finops::dp
