#include "common/clock.h"
#include "controlplane/grpc/config_service.h"

#include <google/protobuf/util/time_util.h>

#include "common/crypto.h"
#include "common/log.h"

namespace finops::cp {

using finops::v1::ConfigPush;
using finops::v1::DataPlaneMessage;
using google::protobuf::util::TimeUtil;

class ConfigStreamReactor final : public grpc::ServerBidiReactor<DataPlaneMessage, ConfigPush> {
 public:
  ConfigStreamReactor(grpc::CallbackServerContext* ctx, Publisher& publisher, std::string auth)
      : publisher_(publisher),
        peer_(ctx->peer()),
        auth_(std::move(auth)),
        infoKey_(randomId("conn_")) {
    publisher_.updateInfo(infoKey_, [&](finops::v1::DataPlaneInfo& i) {
      i.set_peer(peer_);
      i.set_connected(true);
      *i.mutable_connected_at() = TimeUtil::MillisecondsToTimestamp(wallNowMs());
    });
    publisher_.add(this);
    StartRead(&in_);
  }

  // Called by the publisher (any thread) when a newer snapshot exists.
  void offer() {
    std::lock_guard lock(mu_);
    if (!helloSeen_ || finished_) return;
    if (writing_) {
      pending_ = true;
      return;
    }
    startWriteLocked();
  }

  // Called by the publisher when the control plane stops: the data plane reconnects (to
  // another replica, or to this one once it is back) instead of waiting for a deadline.
  void shutdown() {
    std::lock_guard lock(mu_);
    finishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the control plane is shutting down"));
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the data plane closed its side or the stream broke
      std::lock_guard lock(mu_);
      finishLocked(grpc::Status::OK);
      return;
    }
    handle(in_);
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) {
      finishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    if (finishRequested_) {
      finishLocked(finishStatus_);
      return;
    }
    if (pending_) {
      pending_ = false;
      startWriteLocked();
    }
  }

  void OnCancel() override {
    std::lock_guard lock(mu_);
    finishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    publisher_.remove(this);
    publisher_.updateInfo(infoKey_, [](finops::v1::DataPlaneInfo& i) { i.set_connected(false); });
    log::info("data plane disconnected", {{"node_id", nodeId_}, {"peer", peer_}});
    delete this;
  }

 private:
  void handle(const DataPlaneMessage& m) {
    if (m.has_hello()) {
      nodeId_ = m.hello().node_id();
      publisher_.updateInfo(infoKey_, [&](finops::v1::DataPlaneInfo& i) {
        i.set_node_id(nodeId_);
        i.set_acked_version(m.hello().current_version());
      });
      log::info("data plane connected", {{"node_id", nodeId_},
                                         {"peer", peer_},
                                         {"auth", auth_},
                                         {"current_version", m.hello().current_version()}});
      std::lock_guard lock(mu_);
      helloSeen_ = true;
      if (writing_) pending_ = true;
      else startWriteLocked();
    } else if (m.has_ack()) {
      publisher_.updateInfo(infoKey_, [&](finops::v1::DataPlaneInfo& i) {
        i.set_acked_version(m.ack().version());
        i.clear_last_nack();
        *i.mutable_last_ack_at() = TimeUtil::MillisecondsToTimestamp(wallNowMs());
      });
      log::debug("config ack", {{"node_id", nodeId_}, {"version", m.ack().version()}});
    } else if (m.has_nack()) {
      publisher_.updateInfo(infoKey_, [&](finops::v1::DataPlaneInfo& i) {
        i.set_last_nack("version " + std::to_string(m.nack().version()) + ": " +
                        m.nack().error_detail());
      });
      log::warn("config nack", {{"node_id", nodeId_},
                                {"version", m.nack().version()},
                                {"error", m.nack().error_detail()}});
    }
  }

  void startWriteLocked() {
    auto snap = publisher_.current();
    if (!snap) return;
    if (snap->version() == lastSentVersion_) return;  // nothing new
    out_.Clear();
    *out_.mutable_snapshot() = *snap;
    out_.set_nonce(randomId("n_", 6));
    lastSentVersion_ = snap->version();
    writing_ = true;
    StartWrite(&out_);
  }

  void finishLocked(const grpc::Status& status) {
    if (finished_) return;
    if (writing_) {  // Finish must wait for the outstanding write
      finishRequested_ = true;
      finishStatus_ = status;
      return;
    }
    finished_ = true;
    Finish(status);
  }

  Publisher& publisher_;
  const std::string peer_;
  const std::string auth_;  // how the data plane was accepted (DataPlaneAuth::check)
  const std::string infoKey_;
  std::string nodeId_;
  DataPlaneMessage in_;
  std::mutex mu_;
  ConfigPush out_;               // GUARDED_BY(mu_)
  bool helloSeen_ = false;       // GUARDED_BY(mu_)
  bool writing_ = false;         // GUARDED_BY(mu_)
  bool pending_ = false;         // GUARDED_BY(mu_)
  bool finished_ = false;        // GUARDED_BY(mu_)
  bool finishRequested_ = false; // GUARDED_BY(mu_)
  grpc::Status finishStatus_;    // GUARDED_BY(mu_)
  uint64_t lastSentVersion_ = 0; // GUARDED_BY(mu_)
};

void Publisher::publish(std::shared_ptr<const finops::v1::Snapshot> snapshot) {
  {
    // Never move backwards (two concurrent publishes may finish out of order).
    auto cur = current_.load();
    while (!cur || cur->version() < snapshot->version()) {
      if (current_.compare_exchange_weak(cur, snapshot)) break;
    }
  }
  std::lock_guard lock(mu_);
  for (auto* r : reactors_) r->offer();
}

void Publisher::shutdown() {
  std::lock_guard lock(mu_);
  for (auto* r : reactors_) r->shutdown();
}

void Publisher::add(ConfigStreamReactor* r) {
  std::lock_guard lock(mu_);
  reactors_.insert(r);
}

void Publisher::remove(ConfigStreamReactor* r) {
  std::lock_guard lock(mu_);
  reactors_.erase(r);
}

std::vector<finops::v1::DataPlaneInfo> Publisher::dataPlanes() const {
  std::lock_guard lock(mu_);
  std::set<std::string> connectedNodes;
  for (const auto& [k, v] : infos_)
    if (v.connected()) connectedNodes.insert(v.node_id());
  std::vector<finops::v1::DataPlaneInfo> out;
  for (const auto& [k, v] : infos_) {
    // A node that reconnected is listed once, by its live connection.
    if (!v.connected() && connectedNodes.count(v.node_id())) continue;
    out.push_back(v);
  }
  return out;
}

void Publisher::updateInfo(const std::string& key,
                           const std::function<void(finops::v1::DataPlaneInfo&)>& f) {
  std::lock_guard lock(mu_);
  auto& info = infos_[key];
  f(info);
  // Keep the list bounded: forget disconnected entries beyond the newest 100.
  if (infos_.size() > 200) {
    for (auto it = infos_.begin(); it != infos_.end() && infos_.size() > 100;) {
      if (!it->second.connected()) it = infos_.erase(it);
      else ++it;
    }
  }
}

namespace {

// A stream refused before anything is read or sent: finishes at once with `status`.
class RefusedStream final : public grpc::ServerBidiReactor<DataPlaneMessage, ConfigPush> {
 public:
  explicit RefusedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerBidiReactor<DataPlaneMessage, ConfigPush>* ConfigServiceImpl::StreamConfig(
    grpc::CallbackServerContext* context) {
  std::string via;
  grpc::Status status = auth_.check(*context, "StreamConfig", &via);
  if (!status.ok()) return new RefusedStream(status);
  return new ConfigStreamReactor(context, publisher_, std::move(via));
}

}  // namespace finops::cp
