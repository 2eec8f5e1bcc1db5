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

std::string controlPlaneAuthHint(const ChannelSecurity& security, bool hasToken) {
  if (hasToken)
    return "the control plane does not accept this data plane's token: the token in "
           "--control-plane-token-file (or FINOPS_DATAPLANE_TOKEN) must be one of the tokens in "
           "the control plane's --dataplane-token-file";
  std::string hint =
      "the control plane requires a data-plane token: pass --control-plane-token-file FILE (or "
      "set FINOPS_DATAPLANE_TOKEN) with a token from the control plane's --dataplane-token-file";
  if (!security.clientCertificate)
    hint += ", or use mutual TLS (--control-plane-cert/--control-plane-key)";
  return hint;
}

namespace {

// What to check when the link to the control plane cannot be established.
std::string linkHint(const ChannelSecurity& security, const grpc::Status& status) {
  // Only for a link that was never established (not for a stream that broke).
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE ||
      status.error_message().find("failed to connect") == std::string::npos)
    return {};
  if (status.error_message().find("Connection refused") != std::string::npos)
    return "nothing listens at the control plane address";
  if (!security.tls())
    return "if the control plane serves TLS, pass --control-plane-ca FILE (and "
           "--control-plane-cert/--control-plane-key if it requires client certificates)";
  if (!security.clientCertificate)
    return "check that --control-plane-ca signed the control plane's certificate; if the control "
           "plane requires client certificates (--tls-client-ca), pass --control-plane-cert and "
           "--control-plane-key";
  return "check that --control-plane-ca signed the control plane's certificate (and "
         "--control-plane-server-name matches it), and that the control plane's --tls-client-ca "
         "signed --control-plane-cert; the control plane's log names the handshake error";
}

}  // namespace

Subscriber::Subscriber(std::string target, std::string nodeId, ConfigStore& store,
                       ChannelSecurity security, std::string token)
    : target_(std::move(target)),
      nodeId_(std::move(nodeId)),
      security_(std::move(security)),
      token_(std::move(token)),
      store_(store) {}

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
  auto channel = security_.createChannel(target_, args);
  auto stub = finops::v1::ConfigService::NewStub(channel);
  std::mt19937 rng(std::random_device{}());
  auto backoff = std::chrono::milliseconds(100);
  const auto maxBackoff = std::chrono::milliseconds(1000);
  bool warnedDown = false;
  auto lastWarning = std::chrono::steady_clock::time_point();
  grpc::StatusCode lastWarnedCode = grpc::StatusCode::OK;
  const auto warnEvery = std::chrono::seconds(30);

  for (;;) {
    // Wait for the channel to connect (it retries on its own short backoff), so that a restarted
    // control plane is picked up as soon as it listens; in 250 ms slices, so stop() is not held
    // up. If it does not connect within 2 s the call below fails fast with gRPC's reason
    // (refused, TLS handshake failed, ...), which is logged, rather than waiting silently.
    bool ready = false;
    const auto connectUntil = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
      ready = channel->WaitForConnected(std::chrono::system_clock::now() +
                                        std::chrono::milliseconds(250));
      if (ready || std::chrono::steady_clock::now() >= connectUntil) break;
    }
    grpc::ClientContext ctx;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      activeCall_ = &ctx;
    }
    ctx.set_wait_for_ready(ready);
    if (!token_.empty()) ctx.AddMetadata("authorization", "Bearer " + token_);
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
    auto now = std::chrono::steady_clock::now();
    // Said at once when something changes (including the kind of failure), then every 30 s.
    bool due = store_.connected() || !warnedDown || status.error_code() != lastWarnedCode ||
               now - lastWarning >= warnEvery;
    if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      // A configuration problem, not an outage: said as an error, with the flag to check.
      if (due) {
        nlohmann::json fields = {{"control_plane", target_},
                                 {"transport", security_.mode()},
                                 {"token", token_.empty() ? "none" : "given"},
                                 {"grpc_code", static_cast<int>(status.error_code())},
                                 {"error", status.error_message()},
                                 {"hint", controlPlaneAuthHint(security_, !token_.empty())}};
        log::error(store_.get() ? "the control plane refused this data plane (UNAUTHENTICATED); "
                                  "serving the last good config and retrying"
                                : "the control plane refused this data plane (UNAUTHENTICATED); "
                                  "not ready until it sends a config; retrying",
                   fields);
        warnedDown = true;
        lastWarning = now;
        lastWarnedCode = status.error_code();
      }
    } else if (due) {
      nlohmann::json fields = {{"control_plane", target_},
                               {"transport", security_.mode()},
                               {"grpc_code", static_cast<int>(status.error_code())},
                               {"error", status.error_message()}};
      if (std::string hint = linkHint(security_, status); !hint.empty()) fields["hint"] = hint;
      if (store_.connected())
        log::warn("control plane stream lost; serving the last good config and reconnecting",
                  fields);
      else if (store_.get())
        log::warn("cannot reach the control plane; serving the last good config and retrying",
                  fields);
      else
        log::warn("cannot reach the control plane; not ready until it sends a config; retrying",
                  fields);
      warnedDown = true;
      lastWarning = now;
      lastWarnedCode = status.error_code();
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
