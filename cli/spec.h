// Governance input that finopsctl checks before calling the control plane: dollar amounts,
// counts, windows, times, limit flags ("5.00/1d", "openai=2/1d") and the `apply` file.
//
// Nothing here talks to the control plane or depends on the generated gRPC code, so it is unit
// tested on its own. Errors are SpecError with a message ready for the user (it names the flag
// or the file path, e.g. "keys[0].budgets[1].windw: unknown field"); main() reports them as
// usage errors (exit 2).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace finops::cli {

class SpecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a limit counts (mirrors finops.v1.LimitKind).
enum class LimitType { kBudget, kRequests, kTokens, kConcurrency };

// "budget", "requests", "tokens", "concurrency": the word used in names, flags and output.
const char* limitTypeName(LimitType t);

struct LimitSpec {
  LimitType type = LimitType::kBudget;
  std::string name;      // empty: effectiveName() picks the default
  std::string provider;  // empty: requests to every provider count
  int64_t amount = 0;  // nano-dollars for budgets; requests, tokens or in-flight requests otherwise
  std::string window;  // "1d", "1M"...; empty for concurrency
  bool calendar = true;  // windows aligned to UTC calendar boundaries; false: rolling
  std::string origin;    // the flag or file path it came from, for messages

  // The name the limit is created with and matched by: `name`, else "<type>-<window>"
  // ("budget-1d", "requests-1m") or "concurrency".
  std::string effectiveName() const;
};

// Each throws SpecError naming `what` (a flag or a file path) when the text is not acceptable.
int64_t parseDollarsArg(std::string_view text, const std::string& what);     // >= 0, nano-dollars
int64_t parseCountArg(std::string_view text, const std::string& what);       // plain digits, >= 0
std::string parseWindowArg(std::string_view text, const std::string& what);  // see common/window.h

// "AMOUNT/WINDOW" (dollars for budgets, a count otherwise); with `withProvider`,
// "PROVIDER=AMOUNT/WINDOW". Calendar-aligned.
LimitSpec parseLimitArg(LimitType type, std::string_view text, bool withProvider,
                        const std::string& flag);

// Two limits of one owner may not share (provider, effective name): the control plane would
// refuse the second, and `apply` could not tell them apart.
void checkDistinct(const std::vector<LimitSpec>& limits, const std::string& owner);

// RFC 3339 ("2027-01-01T00:00:00Z", "2027-01-01T01:00:00.5+01:00") or a bare date
// ("2027-01-01", midnight UTC), as milliseconds since the Unix epoch; nullopt otherwise.
std::optional<int64_t> parseTime(std::string_view text);
int64_t parseTimeArg(std::string_view text, const std::string& what);
// "<N><unit>" with unit m, h, d or w ("30m", "24h", "7d", "2w"), as milliseconds; N > 0.
std::optional<int64_t> parseDurationMs(std::string_view text);

// ---- the `finopsctl apply` file (format in docs/cli.md). Fields left out of the file are
// left as they are on the control plane; `std::nullopt` below means "left out".

struct CustomerSpec {
  std::string name;
  std::string path;  // "customers[0]"
  std::vector<LimitSpec> limits;
};

struct TeamSpec {
  std::string name;
  std::string path;
  std::optional<std::string> customer;  // "" (or null in the file): no customer
  std::vector<LimitSpec> limits;
};

struct KeySpec {
  std::string name;
  std::string path;
  std::optional<std::string> team;      // "" : no team
  std::optional<std::string> customer;  // "" : no customer
  std::optional<int64_t> expiresAtMs;   // 0: never expires
  std::optional<std::vector<std::string>> allowedProviders;
  std::optional<std::vector<std::string>> allowedModels;
  std::optional<bool> disabled;
  std::vector<LimitSpec> limits;  // the per-provider ones have `provider` set
};

// Amounts in nano-dollars per million tokens (per image / per second for those two).
struct PriceSpec {
  std::string provider;
  std::string model;
  std::string path;
  int64_t input = 0;
  int64_t output = 0;
  std::optional<int64_t> cachedInput;
  std::optional<int64_t> cacheWrite;
  int64_t perImage = 0;
  int64_t perSecond = 0;
};

struct ApplyFile {
  std::vector<CustomerSpec> customers;
  std::vector<TeamSpec> teams;
  std::vector<KeySpec> keys;
  std::vector<PriceSpec> prices;
  bool empty() const {
    return customers.empty() && teams.empty() && keys.empty() && prices.empty();
  }
};

// Parses and validates a whole apply file (YAML text); `source` names it in YAML syntax errors.
// Checks everything that can be checked without the control plane: types, unknown fields,
// amounts, windows, times, duplicate names, a key with both a team and a customer.
ApplyFile parseApplyFile(const std::string& yaml, const std::string& source);

}  // namespace finops::cli
