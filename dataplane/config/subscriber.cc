#include "dataplane/config/subscriber.h"

#include <random>

#include "common/log.h"
#include "finops/v1/config.grpc.pb.h"

namespace finops::dp {

finops::v1::DataPlaneMessage applyPush(const finops::v1::ConfigPush& push, ConfigStore& store) {
  std::string error;
  auto compiled = compileSnapshot(push.snapshot(), &error);
  finops::v1::DataPlaneMessage reply;
  if (compiled) {
    store.set(compiled);
    reply.mutable_ack()->set_version(push.snapshot().version());
    reply.mutable_ack()->set_nonce(push.nonce());
    log::info("config applied", {{"version", push.snapshot().version()},
                                 {"providers", compiled->providers.size()},
                                 {"keys", compiled->keysByHash.size()}});
  } else {
    reply.mutable_nack()->set_version(push.snapshot().version());
    reply.mutable_nack()->set_nonce(push.nonce());
    reply.mutable_nack()->set_error_detail(error);
    log::error("config rejected; keeping the previous one",
               {{"version", push.snapshot().version()}, {"error", error}});
  }
  return reply;
}

Subscriber::Subscriber(std::string target, std::string nodeId, ConfigStore& store)
    : target_(std::move(target)), nodeId_(std::move(nodeId)), store_(store) {}

Subscriber::~Subscriber() { stop(); }

void Subscriber::start() { thread_ = std::thread([this] { run(); }); }

void Subscriber::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (activeCall_) activeCall_->TryCancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Subscriber::run() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  auto channel = grpc::CreateCustomChannel(target_, grpc::InsecureChannelCredentials(), args);
  auto stub = finops::v1::ConfigService::NewStub(channel);
  std::mt19937 rng(std::random_device{}());
  auto backoff = std::chrono::milliseconds(100);
  const auto maxBackoff = std::chrono::milliseconds(1000);
  bool warnedDown = false;

  for (;;) {
    grpc::ClientContext ctx;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      activeCall_ = &ctx;
    }
    // Wait for the channel to connect (it retries on its own short backoff) instead of
    // failing fast, so a restarted control plane is picked up as soon as it listens.
    ctx.set_wait_for_ready(true);
    auto stream = stub->StreamConfig(&ctx);
    finops::v1::DataPlaneMessage hello;
    hello.mutable_hello()->set_node_id(nodeId_);
    hello.mutable_hello()->set_version(FINOPS_VERSION);
    auto current = store_.get();
    hello.mutable_hello()->set_current_version(current ? current->version : 0);
    finops::v1::ConfigPush push;
    if (stream->Write(hello)) {
      while (stream->Read(&push)) {
        if (!store_.connected()) {
          log::info("connected to control plane", {{"control_plane", target_}});
          store_.setConnected(true);
        }
        warnedDown = false;
        backoff = std::chrono::milliseconds(100);
        finops::v1::DataPlaneMessage reply = applyPush(push, store_);
        if (!stream->Write(reply)) break;
      }
    }
    stream->WritesDone();
    grpc::Status status = stream->Finish();
    {
      std::lock_guard lock(mu_);
      activeCall_ = nullptr;
      if (stopping_) return;
    }
    if (store_.connected() || !warnedDown) {
      log::warn("control plane stream lost; serving the last good config and reconnecting",
                {{"control_plane", target_},
                 {"grpc_code", static_cast<int>(status.error_code())},
                 {"error", status.error_message()}});
      warnedDown = true;
    }
    store_.setConnected(false);
    // Full jitter in [backoff/2, backoff].
    std::uniform_int_distribution<int> dist(static_cast<int>(backoff.count() / 2),
                                            static_cast<int>(backoff.count()));
    auto wait = std::chrono::milliseconds(dist(rng));
    backoff = std::min(backoff * 2, maxBackoff);
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [&] { return stopping_; });
    if (stopping_) return;
  }
}

}  // namespace finops::dp
