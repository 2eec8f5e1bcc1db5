// TLS and mutual TLS for the gRPC links: the control plane's server, and the channels the data
// planes and finopsctl open to it. Also the loopback rule: plaintext is for addresses that
// never leave the machine, unless a program's --allow-plaintext says otherwise.
//
// Every function here is thread-safe. Errors are returned as a message (for a log line or a
// CLI error) that names the file or flag at fault; nothing throws.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace finops {

enum class PemKind {
  kCertificates,  // one or more "CERTIFICATE" blocks (a chain or a CA bundle)
  kPrivateKey,    // one unencrypted private key (PKCS#8, RSA or EC)
};

// Reads `path` and checks that it holds what `kind` says, parsed by OpenSSL. Returns the file's
// text, or nullopt and sets `error` ("<what> <path>: does not exist" / "cannot be read: ..." /
// "is not a PEM certificate file" / "is an encrypted private key" ...). `what` names the file
// in the message, e.g. "--tls-cert".
std::optional<std::string> readPemFile(const std::string& path, PemKind kind, std::string_view what,
                                       std::string* error);

// The server side (finops-controlplane).
struct ServerTlsOptions {
  std::string certFile;      // PEM certificate chain, leaf first. Required.
  std::string keyFile;       // PEM private key of the leaf. Required.
  std::string clientCaFile;  // Empty: TLS only. Set: mutual TLS; every client must present a
                             // certificate that chains to one of these CAs, or the handshake
                             // fails.
};

// Loads the files (checking that the key belongs to the certificate) and builds the server
// credentials. nullptr and `error` set on failure.
std::shared_ptr<grpc::ServerCredentials> makeServerCredentials(const ServerTlsOptions& options,
                                                               std::string* error);

// The client side (finops-dataplane, finopsctl).
struct ClientTlsOptions {
  std::string caFile;      // PEM CA bundle that signs the server's certificate. Empty: the
                           // system's trusted roots.
  std::string certFile;    // PEM client certificate chain, for mutual TLS (with keyFile).
  std::string keyFile;     // PEM private key of certFile.
  std::string serverName;  // Name the server certificate must carry, when it differs from the
                           // host dialled (e.g. dialling an IP). Empty: the dialled host.
};

// How a client reaches the control plane. Default-constructed: plaintext.
struct ChannelSecurity {
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // nullptr: plaintext
  std::string serverName;                                 // see ClientTlsOptions
  bool clientCertificate = false;                         // presents a client certificate

  bool tls() const { return credentials != nullptr; }
  // "plaintext", "tls" or "mtls", for log lines.
  std::string mode() const;
  // A channel to `target` with these credentials; the server-name override goes into `args`.
  std::shared_ptr<grpc::Channel> createChannel(const std::string& target,
                                               grpc::ChannelArguments args) const;
};

// Loads the files and builds TLS channel credentials. A client certificate needs both certFile
// and keyFile. nullopt and `error` set on failure.
std::optional<ChannelSecurity> makeChannelSecurity(const ClientTlsOptions& options,
                                                   std::string* error);

// True when `target` never leaves this machine: a host in 127.0.0.0/8, ::1 (or ::ffff:127.x),
// "localhost", or a unix-domain socket ("unix:..."). Accepts "host", "host:port", "[v6]:port",
// and gRPC targets ("dns:///host:port", "ipv4:...", "ipv6:..."). 0.0.0.0, "::" and an empty
// host (all interfaces) are not loopback.
bool isLoopback(std::string_view target);

// Splits an optional scheme off a control-plane address: "https://host:port" asks for TLS,
// "http://host:port" for plaintext. Returns the address without the scheme (and without a
// trailing '/'); sets *tls to true for https, false for http, and leaves it alone otherwise.
std::string stripAddressScheme(std::string_view address, bool* tls);

}  // namespace finops
