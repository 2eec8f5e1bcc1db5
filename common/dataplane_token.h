// The data-plane credential: a shared secret that data planes present to the control plane as
// "authorization: Bearer <token>" metadata on the config stream and on usage reports. The
// control plane accepts any of a list of tokens (so a token can be rotated without downtime);
// a data plane sends one. Both read theirs once, at start, from a file or from the environment
// variable FINOPS_DATAPLANE_TOKEN. See docs/security.md ("The data-plane credential").
//
// Every function here is thread-safe and never throws. Error messages name the file (or the
// variable) and the line, never a token.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace finops {

inline constexpr std::string_view kDataPlaneTokenEnv = "FINOPS_DATAPLANE_TOKEN";

// A token is 16 to 1024 printable ASCII characters without spaces or commas (e.g. the output of
// `openssl rand -hex 32`).
inline constexpr size_t kMinDataPlaneTokenChars = 16;
inline constexpr size_t kMaxDataPlaneTokenChars = 1024;

// Parses a list of tokens: separated by newlines or commas; whitespace around each is ignored,
// and so are empty entries and lines starting with '#'. Repeated tokens count once; the order
// is kept. Returns nullopt and sets `error` ("<source>: line 3: ...") when an entry is not a
// valid token or there is none at all. `source` names where the text came from, e.g.
// "--dataplane-token-file /etc/finops/token" or "FINOPS_DATAPLANE_TOKEN".
std::optional<std::vector<std::string>> parseDataPlaneTokens(std::string_view text,
                                                             std::string_view source,
                                                             std::string* error);

struct DataPlaneTokens {
  std::vector<std::string> tokens;    // SECRET. Empty: no token configured.
  std::string source;                 // "<flag> <path>" or "FINOPS_DATAPLANE_TOKEN"; "" if none
  std::vector<std::string> warnings;  // e.g. a file that other users may read
};

// Loads the tokens from `file` (the value of the flag named `flag`; empty: not given) or from
// `env` (the value of FINOPS_DATAPLANE_TOKEN; nullopt: not set). Giving both is an error, and so
// is an empty variable or a file that cannot be read or holds no token. Neither: no tokens.
std::optional<DataPlaneTokens> loadDataPlaneTokens(const std::string& file,
                                                   const std::optional<std::string>& env,
                                                   std::string_view flag, std::string* error);

}  // namespace finops
