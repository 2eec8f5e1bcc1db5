// The control plane's state in SQLite. One connection guarded by a mutex: every method is
// thread-safe and runs in its own transaction. Mutations bump the config version in the
// same transaction. Errors are thrown as StoreError (caller-facing) or std::exception
// (internal failures).
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "controlplane/store/secrets.h"
#include "finops/v1/usage.pb.h"

namespace finops::cp {

class StoreError : public std::runtime_error {
 public:
  // kFailedPrecondition: the request is valid but the current state forbids it (e.g. revoking
  // the last active admin token). kAborted: a conditional update whose condition no longer
  // holds (another change came first); reading again and retrying can succeed.
  enum class Code { kNotFound, kAlreadyExists, kInvalidArgument, kFailedPrecondition, kAborted };
  StoreError(Code code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  Code code() const { return code_; }

 private:
  Code code_;
};

struct ProviderKeyRow {
  std::string id;
  std::string value;  // SECRET
};

// Options only some provider types use (stored as a JSON object).
struct ProviderOptionsRow {
  int64_t defaultMaxTokens = 0;  // Anthropic: 0 = 4096
  std::string vertexProject, vertexLocation, tokenUrl;
};

struct ProviderRow {
  std::string name;
  std::string type;  // "openai" | "anthropic" | "gemini" | "vertex"
  std::string baseUrl;
  std::vector<std::string> models;
  bool listUpstreamModels = true;
  std::vector<ProviderKeyRow> keys;
  ProviderOptionsRow options;
  int64_t createdAt = 0;
  int64_t updatedAt = 0;
};

struct VirtualKeyRow {
  std::string id;
  std::string name;
  std::string keyHash;  // 32 raw bytes
  std::string keyPrefix;
  std::string status;  // "active" | "disabled" | "revoked"
  int64_t createdAt = 0;
  std::optional<int64_t> revokedAt;
  std::optional<int64_t> rotatedAt;
  std::string teamId, teamName;
  std::string customerId, customerName;  // the key's own customer (not its team's)
  std::string effectiveCustomerId, effectiveCustomerName;  // own or its team's
  std::optional<int64_t> expiresAt;  // unix seconds
  std::vector<std::string> allowedProviders;
  std::vector<std::string> allowedModels;
  // False: the request logs of this key's requests never hold their content.
  bool logContent = true;
};

struct CustomerRow {
  std::string id;
  std::string name;
  int64_t createdAt = 0;
  int teams = 0;
  int keys = 0;
};

struct TeamRow {
  std::string id;
  std::string name;
  std::string customerId, customerName;
  int64_t createdAt = 0;
  int keys = 0;
};

// A budget ("budget", amount in nano-dollars) or rate limit ("requests", "tokens",
// "concurrency").
struct LimitRow {
  std::string id;
  std::string name;
  std::string ownerKind;  // "customer" | "team" | "key"
  std::string ownerId;
  std::string ownerName;
  std::string provider;  // empty: every provider
  std::string kind;
  int64_t amount = 0;
  std::string window;  // empty for concurrency
  bool calendar = true;
  int64_t anchorMs = 0;
  int64_t createdAt = 0;
  // Filled by getLimit/listLimits: the current window and its usage.
  int64_t windowStartMs = 0;
  int64_t windowEndMs = 0;
  int64_t used = 0;
};

struct LimitSpec {
  std::string ownerKind;
  std::string owner;  // name or id
  std::string provider;
  std::string name;
  std::string kind;
  int64_t amount = 0;
  std::string window;
  bool calendar = true;
};

struct LimitPatch {
  std::optional<int64_t> amount;
  std::optional<std::string> window;
  std::optional<bool> calendar;
};

// Nano-dollars per million tokens; per image / per second in nano-dollars.
struct PriceRow {
  std::string provider;
  std::string model;
  int64_t input = 0;
  int64_t output = 0;
  std::optional<int64_t> cachedInput;
  std::optional<int64_t> cacheWrite;
  int64_t perImage = 0;
  int64_t perSecond = 0;
  std::string source;  // "builtin" | "custom"
};

struct KeySpec {
  std::string name;
  std::string team;      // name or id; empty: none
  std::string customer;  // name or id; empty: none
  std::optional<int64_t> expiresAt;
  std::vector<std::string> allowedProviders;
  std::vector<std::string> allowedModels;
  bool disabled = false;
  // False: keep the content of this key's requests out of the request logs.
  bool logContent = true;
};

struct KeyPatch {
  std::optional<std::string> name;
  std::optional<std::string> team;      // "" detaches
  std::optional<std::string> customer;  // "" detaches
  std::optional<std::optional<int64_t>> expiresAt;
  std::optional<std::vector<std::string>> allowedProviders;
  std::optional<std::vector<std::string>> allowedModels;
  std::optional<std::string> status;  // "active" | "disabled"
  std::optional<bool> logContent;
};

struct UsageFilter {
  int64_t fromMs = 0;
  int64_t toMs = 0;
  std::vector<std::string> groupBy;  // key, team, customer, provider, model, day, hour
  std::string key, team, customer, provider, model;  // names or ids
};

struct UsageAgg {
  std::map<std::string, std::string> group;
  int64_t requests = 0, promptTokens = 0, completionTokens = 0, cachedTokens = 0;
  int64_t costNano = 0, unpriced = 0, estimated = 0, failed = 0;
};

// Allowance timing, shared with the data planes through Grant.ttl_ms.
struct GrantPolicy {
  int64_t ttlMs = 30'000;    // a data plane uses a grant at most this long without renewal
  int64_t graceMs = 30'000;  // extra time the control plane keeps it reserved (late reports)
  int64_t activeMs = 3'000;  // a node that reported this recently shares concurrency limits
};

// The effective settings: lists never set hold their defaults (common/header_policy.h), so a
// snapshot always carries what applies. Header names lower case; origins normalised.
struct SettingsRow {
  bool enforceKeys = true;
  std::vector<std::string> forwardHeaders;
  std::vector<std::string> allowedHeaders;  // default: defaultAllowedHeaders()
  std::vector<std::string> allowedOrigins;  // default: defaultAllowedOrigins()
  std::vector<std::string> extraHeaders;
  // False: no request log holds request or response content. Default true.
  bool logContent = true;
  // Counts the settings updates (0: never updated).
  uint64_t revision = 0;
};

// An admin token's metadata; the token itself is never stored (only its SHA-256).
struct AdminTokenRow {
  std::string id;
  std::string name;
  std::string scope;  // "admin" | "keys:write" | "read"
  int64_t createdAt = 0;                // unix seconds
  std::optional<int64_t> revokedAt;     // unix seconds; unset while active
  std::optional<int64_t> lastUsedAt;    // unix seconds, at most a minute stale (see AuditPolicy)
  std::string createdBy;                // id of the token that created it; "" for the first one
};

// One admin call, allowed or refused. Holds no secret.
struct AuditRow {
  int64_t id = 0;     // assigned by appendAudit
  int64_t atMs = 0;   // unix milliseconds
  std::string tokenId, tokenName, scope;  // empty when the call had no valid token
  std::string method;   // AdminService method name
  std::string target;   // the object the call named
  std::string code;     // gRPC status code name ("OK", "PERMISSION_DENIED", ...)
  std::string message;  // error message; empty on success
  std::string peer;
};

struct AuditFilter {
  int64_t sinceMs = 0;  // entries at or after; 0: no bound
  int64_t untilMs = 0;  // entries before; 0: no bound
  std::string token;    // token id or token name as recorded; empty: all
  std::string method;   // exact method name (case-insensitive); empty: all
  int limit = 100;      // 1..10000
  int64_t beforeId = 0; // only entries with a smaller id (paging); 0: no bound
};

struct AuditPolicy {
  // Entries older than this are deleted (checked on append, at most every pruneIntervalMs).
  int64_t retentionMs = 365LL * 24 * 3600 * 1000;
  int64_t pruneIntervalMs = 3600LL * 1000;
  // An admin token's last_used_at is written at most this often (not a write per call).
  int64_t lastUsedIntervalMs = 60LL * 1000;
};

// Everything a snapshot is built from, read in one transaction.
struct StateView {
  uint64_t version = 0;
  std::vector<ProviderRow> providers;
  std::vector<VirtualKeyRow> keys;
  SettingsRow settings;
  std::vector<LimitRow> limits;
  std::vector<PriceRow> customPrices;
};

struct ProviderPatch {
  std::optional<std::string> baseUrl;
  std::optional<std::vector<std::string>> keys;    // replaces all keys
  std::optional<std::vector<std::string>> models;  // replaces the list
  std::optional<bool> listUpstreamModels;
  std::optional<int64_t> defaultMaxTokens;
  std::optional<std::string> vertexProject, vertexLocation, tokenUrl;
};

// Each list set here replaces the stored one; it is validated and normalised by
// normalizeSettingList (bad entries: StoreError kInvalidArgument).
struct SettingsPatch {
  std::optional<bool> enforceKeys;
  std::optional<std::vector<std::string>> forwardHeaders;
  std::optional<std::vector<std::string>> allowedHeaders;
  std::optional<std::vector<std::string>> allowedOrigins;
  std::optional<std::vector<std::string>> extraHeaders;
  std::optional<bool> logContent;
  // Apply only if SettingsRow::revision is still this (else StoreError kAborted, no change).
  std::optional<uint64_t> ifRevision;
};

class Store {
 public:
  // Opens (creating directories and the file as needed) and migrates. Throws on failure.
  explicit Store(const std::string& path);

  // --- admin tokens (admin_tokens.cc). Tokens are "fo-admin-" + 256 random bits, stored only
  // as their SHA-256; the secret is returned once, by the call that creates it.
  // Creates the first admin token if none exists; returns it (the only time it is seen).
  std::optional<std::string> ensureInitialAdminToken();
  // The active token with this secret, if any (no write).
  std::optional<AdminTokenRow> findAdminToken(std::string_view token);
  // findAdminToken, then records last_used_at = nowMs if the last write for that token is older
  // than AuditPolicy::lastUsedIntervalMs (so at most one write a minute per token).
  std::optional<AdminTokenRow> authenticateAdminToken(std::string_view token, int64_t nowMs);
  // Scope must be "admin", "keys:write" or "read"; the name (validateDisplayName) must be unique
  // among active tokens (kAlreadyExists). Returns the row and the secret.
  std::pair<AdminTokenRow, std::string> createAdminToken(const std::string& name,
                                                         const std::string& scope,
                                                         const std::string& createdBy);
  // Newest first; revoked ones too when includeRevoked.
  std::vector<AdminTokenRow> listAdminTokens(bool includeRevoked);
  // `ref` is an id or an active token's name. Revoking a revoked token changes nothing.
  // kFailedPrecondition when it is the last active admin-scope token.
  AdminTokenRow revokeAdminToken(const std::string& ref);

  // --- audit log (audit.cc)
  // Appends `row` (its id is assigned and returned); prunes old entries now and then.
  int64_t appendAudit(const AuditRow& row);
  // Newest first (by id). Throws kInvalidArgument for a limit outside 1..10000.
  std::vector<AuditRow> listAudit(const AuditFilter& f);
  void setAuditPolicy(const AuditPolicy& p);

  // --- providers (providers.cc)
  ProviderRow createProvider(ProviderRow row, const std::vector<std::string>& keys);
  ProviderRow updateProvider(const std::string& name, const ProviderPatch& patch);
  ProviderRow getProvider(const std::string& name);
  std::vector<ProviderRow> listProviders();
  ProviderRow deleteProvider(const std::string& name);

  // --- provider secrets at rest (providers.cc, secrets.h). Provider keys are stored sealed
  // (AES-256-GCM) under the installed keyring's current key, bound to their row; the methods
  // above return them decrypted, never sealed. Without an installed keyring, storing a provider
  // key throws SecretsError, and so does reading a sealed one.
  // Ids of the master keys the stored provider keys are sealed under.
  std::set<std::string> providerSecretKeyIds();
  // Installs `keyring` and, in one transaction, opens every stored provider key (all must
  // authenticate) and re-seals under the current key those sealed under another key or stored
  // in the clear by an older version; then, if it rewrote any, vacuums the database so no old
  // bytes remain. Throws SecretsError naming the provider and row that cannot be opened, and
  // then installs nothing and changes nothing.
  KeyringInstallResult installKeyring(std::shared_ptr<const Keyring> keyring);

  // --- virtual keys (keys.cc). `id` arguments take an id or a live key's name.
  // Returns the row and the secret key (shown once).
  std::pair<VirtualKeyRow, std::string> createKey(const KeySpec& spec);
  VirtualKeyRow getKey(const std::string& id);
  std::vector<VirtualKeyRow> listKeys();
  VirtualKeyRow revokeKey(const std::string& id);
  VirtualKeyRow updateKey(const std::string& id, const KeyPatch& patch);
  std::pair<VirtualKeyRow, std::string> rotateKey(const std::string& id);
  VirtualKeyRow deleteKey(const std::string& id);

  // --- customers and teams (owners.cc). `ref` is an id or a name.
  CustomerRow createCustomer(const std::string& name);
  CustomerRow renameCustomer(const std::string& ref, const std::string& name);
  CustomerRow getCustomer(const std::string& ref);
  std::vector<CustomerRow> listCustomers();
  CustomerRow deleteCustomer(const std::string& ref);
  TeamRow createTeam(const std::string& name, const std::string& customer);
  TeamRow updateTeam(const std::string& ref, const std::optional<std::string>& name,
                     const std::optional<std::string>& customer);
  TeamRow getTeam(const std::string& ref);
  std::vector<TeamRow> listTeams(const std::string& customer);
  TeamRow deleteTeam(const std::string& ref);

  // --- budgets and rate limits (limits.cc)
  LimitRow createLimit(const LimitSpec& spec);
  LimitRow updateLimit(const std::string& id, const LimitPatch& patch);
  LimitRow getLimit(const std::string& id);
  // ownerKind empty: all; kinds empty: all.
  std::vector<LimitRow> listLimits(const std::string& ownerKind, const std::string& owner,
                                   const std::vector<std::string>& kinds);
  LimitRow deleteLimit(const std::string& id);

  // --- prices (prices.cc): custom rows; the builtin table lives in pricing/.
  std::vector<PriceRow> listCustomPrices();
  PriceRow setPrice(const PriceRow& row);
  PriceRow deletePrice(const std::string& provider, const std::string& model);

  // --- usage (usage.cc)
  // Applies a data plane's report in one transaction: records exactly once by request_id,
  // then grants for its demands. `nowMs` is injected for tests.
  finops::v1::UsageReply applyReport(const finops::v1::UsageReport& report, int64_t nowMs);
  std::vector<UsageAgg> queryUsage(const UsageFilter& f, UsageAgg* total);
  void setGrantPolicy(const GrantPolicy& p);

  // --- settings (settings.cc)
  SettingsRow getSettings();
  SettingsRow updateSettings(const SettingsPatch& patch);

  uint64_t configVersion();
  StateView loadState();

 private:
  void bumpVersionLocked();
  uint64_t versionLocked();
  std::vector<ProviderRow> listProvidersLocked(const std::string* only);
  std::vector<VirtualKeyRow> listKeysLocked(const std::string* only);
  SettingsRow settingsLocked();
  std::string resolveKeyLocked(const std::string& ref);
  std::string resolveCustomerLocked(const std::string& ref);
  std::string resolveTeamLocked(const std::string& ref);
  std::vector<CustomerRow> listCustomersLocked(const std::string* only);
  std::vector<TeamRow> listTeamsLocked(const std::string* only, const std::string* customer);
  std::vector<LimitRow> listLimitsLocked(const std::string* only);
  void fillWindowLocked(LimitRow& row, int64_t nowMs);
  int64_t windowUsedLocked(const LimitRow& limit, int64_t windowStartMs, int64_t windowEndMs);
  const std::vector<LimitRow>& limitsCacheLocked();
  void grantLocked(const std::string& node, const finops::v1::LimitDemand& d, int64_t nowMs,
                   finops::v1::UsageReply& reply);

  std::mutex mu_;
  SQLite::Database db_;  // GUARDED_BY(mu_)

  // Cache of the limits table, rebuilt when the config version moves.
  uint64_t limitsCacheVersion_ = 0;
  std::vector<LimitRow> limitsCache_;
  std::map<std::string, const LimitRow*> limitsById_;
  // "key:<id>", "team:<id>", "customer:<id>" -> the limits that owner carries.
  std::map<std::string, std::vector<const LimitRow*>> limitsByOwner_;

  // Concurrency slots per limit and node live in memory only (see docs/governance.md).
  struct SlotHolder {
    int64_t granted = 0, honored = 0, inFlight = 0, lastSeenMs = 0;
  };
  std::map<std::string, std::map<std::string, SlotHolder>> slots_;
  std::map<std::string, int64_t> nodesLastSeen_;
  GrantPolicy policy_;
  int64_t startedMs_ = 0;

  // Admin tokens and audit (admin_tokens.cc, audit.cc), GUARDED_BY(mu_).
  AuditPolicy auditPolicy_;
  std::map<std::string, int64_t> tokenUsedWrittenMs_;  // token id -> last last_used_at write
  int64_t auditPrunedMs_ = 0;                          // last retention check

  // Provider secrets (providers.cc), GUARDED_BY(mu_); null until installKeyring.
  std::shared_ptr<const Keyring> keyring_;
};

// Helpers shared by the store's files.
// True when `e` is a UNIQUE constraint violation (the caller reports kAlreadyExists).
bool isUniqueViolation(const SQLite::Exception& e);
// Names of keys, teams and customers: 1 to 128 characters, no control characters. `what`
// names the object in the error ("key", "team"...).
void validateDisplayName(const std::string& what, const std::string& name);

// Prefix of virtual keys.
inline constexpr const char* kVirtualKeyPrefix = "sk-fo-";
inline constexpr const char* kAdminTokenPrefix = "fo-admin-";
// True for the admin token scopes: "admin", "keys:write", "read".
bool isAdminScope(const std::string& scope);

}  // namespace finops::cp
