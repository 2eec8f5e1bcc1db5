// Provider secrets at rest: the master keys (the current one and previous ones kept for
// rotation), the stored format of a sealed secret, and where the keys come from at startup.
// See docs/security.md ("Provider secrets at rest").
//
// Stored format of a sealed secret (a provider_keys.value):
//   fenc1:<key id>:<base64url(nonce[12] | ciphertext | tag[16])>
// AES-256-GCM under the master key named by <key id>, with associated data that binds the
// value to its row (see Store), so a value copied to another row does not open.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace finops::cp {

class Store;

// A problem with master keys or sealed secrets: a key that cannot be read or parsed, a key
// id the keyring lacks, a value that is malformed or does not authenticate. The message names
// the file, variable, key id or row concerned; it never contains key material or secrets.
class SecretsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A 32-byte AES-256-GCM master key and its id.
struct MasterKey {
  std::string bytes;  // SECRET: 32 raw bytes
  std::string id;     // 16 hex characters, a digest of the key: safe to log and store
};

// The id of a 32-byte key: the first 8 bytes of SHA-256("finops master key id\0" || key), in
// hex. It identifies the key without revealing it.
std::string masterKeyId(std::string_view keyBytes);

// Parses a master key written as base64 (standard or URL-safe alphabet, "=" padding optional)
// or as 64 hex characters; surrounding whitespace is ignored. `source` names where the text
// came from (e.g. "--master-key-file /etc/finops/master-key" or "FINOPS_MASTER_KEY") in the
// error thrown (SecretsError) when it is not 32 bytes; the error never quotes the text.
MasterKey parseMasterKey(std::string_view text, const std::string& source);

// A new random master key, as 64 hex characters.
std::string generateMasterKeyText();

inline constexpr std::string_view kSealedPrefix = "fenc1:";

// True if `stored` is in the sealed format (starts with "fenc1:"). Anything else is a value
// written in the clear before encryption existed.
bool isSealed(std::string_view stored);

// The key id named by a sealed value; "" if the value is not sealed or has no key id.
std::string sealedKeyId(std::string_view stored);

// The current master key (seals and opens) and previous keys (open only). Immutable after
// construction, so thread-safe.
class Keyring {
 public:
  // Previous keys equal to the current key, or repeated, are dropped.
  explicit Keyring(MasterKey current, std::vector<MasterKey> previous = {});

  const std::string& currentId() const { return current_.id; }
  bool hasKey(std::string_view id) const;
  // Ids of the previous keys (after dropping duplicates), in the order given.
  std::vector<std::string> previousIds() const;

  // Seals `plaintext` under the current key with `associatedData`.
  std::string seal(std::string_view plaintext, std::string_view associatedData) const;

  // Opens a value made by seal() under any key of the ring, with the same associated data.
  // Throws SecretsError when the value is malformed, names a key id the ring lacks (the message
  // names that id), or does not authenticate (modified, or moved from another row).
  std::string open(std::string_view stored, std::string_view associatedData) const;

 private:
  const MasterKey* find(std::string_view id) const;

  MasterKey current_;
  std::vector<MasterKey> previous_;
};

// Where master keys come from; finops-controlplane fills this from its flags and environment.
struct MasterKeySources {
  std::string keyFile;                         // --master-key-file PATH
  std::vector<std::string> previousKeyFiles;   // --previous-master-key-file PATH (repeatable)
  std::optional<std::string> keyEnv;           // FINOPS_MASTER_KEY (set, even if empty)
  std::optional<std::string> previousKeysEnv;  // FINOPS_PREVIOUS_MASTER_KEYS, comma-separated
  // Where a key is generated on first start when none is given, and picked up from on later
  // starts: "master-key" beside the database.
  std::string generatedKeyFile;
};

struct ResolvedKeyring {
  std::shared_ptr<const Keyring> keyring;
  std::string source;                 // where the current key came from (for the log)
  bool generated = false;             // a new key was written to generatedKeyFile
  std::vector<std::string> warnings;  // e.g. a key file readable by group or others
};

// Builds the keyring at startup. `idsInUse`: the key ids of the secrets already sealed in the
// database (Store::providerSecretKeyIds).
// - The current key is --master-key-file or FINOPS_MASTER_KEY (giving both is an error); else
//   the generated key file if it exists; else, if nothing is sealed yet, a new key written
//   there (mode 0600, synced to disk).
// - Previous keys come from --previous-master-key-file and FINOPS_PREVIOUS_MASTER_KEYS.
// Throws SecretsError if a key cannot be read or parsed, if secrets are sealed but no key is
// configured, or if a key id in use is in none of the configured keys (the message names it).
ResolvedKeyring resolveKeyring(const MasterKeySources& sources,
                               const std::set<std::string>& idsInUse);

// What installing a keyring did (Store::installKeyring).
struct KeyringInstallResult {
  int total = 0;      // provider key rows
  int rotated = 0;    // re-sealed from a previous key to the current one
  int plaintext = 0;  // sealed for the first time (written in the clear by an older version)
};

// The control plane's startup step: resolves the keyring from `sources`, installs it in the
// store (re-sealing what needs it), and logs what it did (never a key). Throws SecretsError
// (or a database error) when the control plane must not start.
KeyringInstallResult setUpProviderSecrets(Store& store, const MasterKeySources& sources);

}  // namespace finops::cp
