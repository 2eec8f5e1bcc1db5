#include "controlplane/store/secrets.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/crypto.h"
#include "common/log.h"
#include "common/process.h"
#include "controlplane/store/store.h"

namespace finops::cp {
namespace {

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Reads a key file (at most 4 KiB). Adds a warning when group or others have any access.
std::string readKeyFile(const std::string& path, const std::string& source,
                        std::vector<std::string>& warnings) {
  SmallFile f = readSmallFile(path, 4096);
  if (f.error == SmallFile::Error::kTooLarge)
    throw SecretsError("the master key (" + source + ") is too large to be a 32-byte key");
  if (!f.ok()) throw SecretsError("cannot read the master key (" + source + "): " + f.why());
  if (f.mode & 077)
    warnings.push_back("the master key file " + path + " is accessible by group or others (mode " +
                       octalMode(f.mode) + "); restrict it: chmod 600 " + path);
  return std::move(f.text);
}

// Creates `path` (which must not exist) with mode 0600 holding `content`, synced to disk with
// its directory entry, so that a crash right after cannot lose a key that secrets are sealed
// under.
void writeNewKeyFile(const std::string& path, const std::string& content) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    throw SecretsError("cannot create the master key file " + path + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, 0600) == 0;
  size_t off = 0;
  while (ok && off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      ok = false;
    else
      off += static_cast<size_t>(n);
  }
  int err = ok ? 0 : errno;
  if (ok && ::fsync(fd) != 0) {
    ok = false;
    err = errno;
  }
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(path.c_str());
    throw SecretsError("cannot write the master key file " + path + ": " + std::strerror(err));
  }
  int dir = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

std::vector<std::string> splitCommas(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) comma = s.size();
    auto item = trim(s.substr(start, comma - start));
    if (!item.empty()) out.emplace_back(item);
    start = comma + 1;
  }
  return out;
}

std::string joinIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ", ") + id;
  return out;
}

}  // namespace

std::string masterKeyId(std::string_view keyBytes) {
  std::string input("finops master key id");
  input.push_back('\0');
  input.append(keyBytes);
  return toHex(sha256Bytes(input).substr(0, 8));
}

MasterKey parseMasterKey(std::string_view text, const std::string& source) {
  text = trim(text);
  if (text.empty()) throw SecretsError("the master key (" + source + ") is empty");
  std::optional<std::string> bytes;
  if (text.size() == 64) bytes = fromHex(text);
  if (!bytes) bytes = base64Decode(text);
  bool allHex = text.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
  if (allHex && (!bytes || bytes->size() != kAesGcmKeyBytes))
    throw SecretsError("the master key (" + source + ") looks like hex but has " +
                       std::to_string(text.size()) +
                       " characters; it must be 64 hex characters (32 bytes, e.g. `openssl rand "
                       "-hex 32`)");
  if (!bytes)
    throw SecretsError("the master key (" + source +
                       ") is neither base64 nor hex; give 32 random bytes as base64 (e.g. "
                       "`openssl rand -base64 32`) or 64 hex characters (`openssl rand -hex 32`)");
  if (bytes->size() != kAesGcmKeyBytes)
    throw SecretsError("the master key (" + source + ") is " + std::to_string(bytes->size()) +
                       " bytes long once decoded; it must be 32 bytes (44 base64 or 64 hex "
                       "characters, e.g. `openssl rand -base64 32`)");
  MasterKey key;
  key.id = masterKeyId(*bytes);
  key.bytes = std::move(*bytes);
  return key;
}

std::string generateMasterKeyText() { return toHex(randomBytes(kAesGcmKeyBytes)); }

bool isSealed(std::string_view stored) { return stored.starts_with(kSealedPrefix); }

std::string sealedKeyId(std::string_view stored) {
  if (!isSealed(stored)) return "";
  stored.remove_prefix(kSealedPrefix.size());
  auto colon = stored.find(':');
  if (colon == std::string_view::npos) return "";
  return std::string(stored.substr(0, colon));
}

Keyring::Keyring(MasterKey current, std::vector<MasterKey> previous)
    : current_(std::move(current)) {
  if (current_.bytes.size() != kAesGcmKeyBytes) throw SecretsError("a master key must be 32 bytes");
  for (auto& k : previous) {
    if (k.bytes.size() != kAesGcmKeyBytes) throw SecretsError("a master key must be 32 bytes");
    if (!find(k.id)) previous_.push_back(std::move(k));
  }
}

const MasterKey* Keyring::find(std::string_view id) const {
  if (current_.id == id) return &current_;
  for (const auto& k : previous_)
    if (k.id == id) return &k;
  return nullptr;
}

bool Keyring::hasKey(std::string_view id) const { return find(id) != nullptr; }

std::vector<std::string> Keyring::previousIds() const {
  std::vector<std::string> ids;
  for (const auto& k : previous_) ids.push_back(k.id);
  return ids;
}

std::string Keyring::seal(std::string_view plaintext, std::string_view associatedData) const {
  return std::string(kSealedPrefix) + current_.id + ":" +
         base64Url(aesGcmSeal(current_.bytes, plaintext, associatedData));
}

std::string Keyring::open(std::string_view stored, std::string_view associatedData) const {
  if (!isSealed(stored)) throw SecretsError("not an encrypted value (no 'fenc1:' prefix)");
  std::string id = sealedKeyId(stored);
  if (id.empty()) throw SecretsError("malformed encrypted value (no key id)");
  const MasterKey* key = find(id);
  if (!key)
    throw SecretsError("encrypted with master key " + id +
                       ", which is not configured (current key " + current_.id + ")");
  auto payload = base64Decode(stored.substr(kSealedPrefix.size() + id.size() + 1));
  if (!payload) throw SecretsError("malformed encrypted value (the payload is not base64url)");
  try {
    return aesGcmOpen(key->bytes, *payload, associatedData);
  } catch (const CryptoError& e) {
    throw SecretsError(std::string("cannot decrypt with master key ") + id + ": " + e.what());
  }
}

ResolvedKeyring resolveKeyring(const MasterKeySources& src, const std::set<std::string>& idsInUse) {
  ResolvedKeyring out;
  std::optional<MasterKey> current;
  if (!src.keyFile.empty() && src.keyEnv)
    throw SecretsError(
        "both --master-key-file and FINOPS_MASTER_KEY are set; give the master key one way only");
  if (!src.keyFile.empty()) {
    out.source = "--master-key-file " + src.keyFile;
    current = parseMasterKey(readKeyFile(src.keyFile, out.source, out.warnings), out.source);
  } else if (src.keyEnv) {
    out.source = "FINOPS_MASTER_KEY";
    current = parseMasterKey(*src.keyEnv, out.source);
  } else if (!src.generatedKeyFile.empty() && std::filesystem::exists(src.generatedKeyFile)) {
    out.source = "the generated key file " + src.generatedKeyFile;
    current =
        parseMasterKey(readKeyFile(src.generatedKeyFile, out.source, out.warnings), out.source);
  } else if (!idsInUse.empty()) {
    throw SecretsError("the database holds provider keys encrypted with master key " +
                       joinIds({idsInUse.begin(), idsInUse.end()}) +
                       ", but no master key is configured: give it with --master-key-file PATH or "
                       "FINOPS_MASTER_KEY" +
                       (src.generatedKeyFile.empty()
                            ? std::string()
                            : " (" + src.generatedKeyFile + " does not exist)"));
  } else if (src.generatedKeyFile.empty()) {
    throw SecretsError(
        "no master key is configured: give one with --master-key-file PATH or "
        "FINOPS_MASTER_KEY");
  } else {
    std::string text = generateMasterKeyText();
    writeNewKeyFile(src.generatedKeyFile, text + "\n");
    out.source = "the generated key file " + src.generatedKeyFile;
    current =
        parseMasterKey(readKeyFile(src.generatedKeyFile, out.source, out.warnings), out.source);
    if (current->id != parseMasterKey(text, out.source).id)
      throw SecretsError("the master key file " + src.generatedKeyFile +
                         " does not read back as written");
    out.generated = true;
  }

  std::vector<MasterKey> previous;
  for (const auto& f : src.previousKeyFiles) {
    std::string source = "--previous-master-key-file " + f;
    previous.push_back(parseMasterKey(readKeyFile(f, source, out.warnings), source));
  }
  if (src.previousKeysEnv) {
    auto items = splitCommas(*src.previousKeysEnv);
    for (size_t i = 0; i < items.size(); ++i)
      previous.push_back(
          parseMasterKey(items[i], "FINOPS_PREVIOUS_MASTER_KEYS, entry " + std::to_string(i + 1)));
  }
  auto ring = std::make_shared<const Keyring>(std::move(*current), std::move(previous));

  std::vector<std::string> missing;
  for (const auto& id : idsInUse)
    if (!ring->hasKey(id)) missing.push_back(id);
  if (!missing.empty()) {
    std::string msg = "the database holds provider keys encrypted with master key " +
                      joinIds(missing) + ", which is not configured (current key " +
                      ring->currentId();
    auto prev = ring->previousIds();
    if (!prev.empty()) msg += ", previous keys " + joinIds(prev);
    msg +=
        "). To rotate, give the new key as the current key and the old one with "
        "--previous-master-key-file PATH or FINOPS_PREVIOUS_MASTER_KEYS";
    // The usual case: a key generated on a first start, then a key given explicitly.
    if (!src.generatedKeyFile.empty() &&
        out.source.find(src.generatedKeyFile) == std::string::npos &&
        std::filesystem::exists(src.generatedKeyFile)) {
      try {
        std::vector<std::string> ignored;
        auto k = parseMasterKey(readKeyFile(src.generatedKeyFile, "", ignored), "");
        for (const auto& id : missing)
          if (k.id == id) msg += "; " + src.generatedKeyFile + " holds key " + id;
      } catch (const SecretsError&) {
      }
    }
    throw SecretsError(msg);
  }
  out.keyring = std::move(ring);
  return out;
}

KeyringInstallResult setUpProviderSecrets(Store& store, const MasterKeySources& sources) {
  auto resolved = resolveKeyring(sources, store.providerSecretKeyIds());
  for (const auto& w : resolved.warnings) log::warn(w);
  const auto& ring = *resolved.keyring;
  if (resolved.generated)
    log::warn(
        "no master key was given: generated one to encrypt provider keys at rest. Back up this "
        "file now, apart from the database backups: without it the provider keys stored in the "
        "database cannot be decrypted. Later starts read it from there; to keep it elsewhere, "
        "give it with --master-key-file PATH or FINOPS_MASTER_KEY",
        {{"path", sources.generatedKeyFile}, {"key_id", ring.currentId()}});
  auto result = store.installKeyring(resolved.keyring);
  log::info("provider keys are encrypted at rest",
            {{"key_id", ring.currentId()},
             {"key_source", resolved.source},
             {"previous_key_ids", ring.previousIds()},
             {"provider_keys", result.total},
             {"re_encrypted", result.rotated},
             {"encrypted_from_plaintext", result.plaintext}});
  if (!ring.previousIds().empty())
    log::info(
        "every provider key is now encrypted with the current master key; the previous keys are "
        "no longer needed and can be removed from the configuration",
        {{"key_id", ring.currentId()}, {"previous_key_ids", ring.previousIds()}});
  return result;
}

}  // namespace finops::cp
