// Provider secrets at rest: master key parsing, the keyring, where keys come from at startup,
// and the store sealing provider keys (raw SQLite bytes, legacy rows, rotation, refusals).
#include "controlplane/store/secrets.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include "common/crypto.h"
#include "controlplane/snapshot/builder.h"
#include "controlplane/store/store.h"

namespace finops::cp {
namespace {

std::string what(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

// ---- master keys

TEST(MasterKey, ParsesBase64EitherAlphabetAndHex) {
  std::string raw = randomBytes(32);
  raw[0] = '\xfb';  // so that the two base64 alphabets differ
  raw[1] = '\xff';
  std::string url = base64Url(raw);  // 43 characters, URL-safe, unpadded
  std::string standard = url;
  for (char& c : standard) c = c == '-' ? '+' : c == '_' ? '/' : c;
  standard += "=";
  std::string hex = toHex(raw);
  std::string upperHex = hex;
  for (char& c : upperHex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& text : {url, standard, hex, upperHex, "  " + standard + "\n", hex + "\r\n"}) {
    auto k = parseMasterKey(text, "test");
    EXPECT_EQ(k.bytes, raw) << text;
    EXPECT_EQ(k.id, masterKeyId(raw));
  }
}

TEST(MasterKey, IdIsAShortDigestNotTheKey) {
  std::string a = randomBytes(32), b = randomBytes(32);
  EXPECT_EQ(masterKeyId(a).size(), 16u);
  EXPECT_EQ(masterKeyId(a), masterKeyId(a));
  EXPECT_NE(masterKeyId(a), masterKeyId(b));
  EXPECT_EQ(toHex(a).find(masterKeyId(a)), std::string::npos);
  EXPECT_EQ(masterKeyId(a).find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(MasterKey, WrongLengthOrNotAKeyIsAClearErrorThatDoesNotEchoTheText) {
  std::string shortKey = base64Url(randomBytes(16));
  auto msg = what([&] { parseMasterKey(shortKey, "FINOPS_MASTER_KEY"); });
  EXPECT_NE(msg.find("FINOPS_MASTER_KEY"), std::string::npos) << msg;
  EXPECT_NE(msg.find("16 bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("32 bytes"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(shortKey), std::string::npos) << msg;
  // 63 hex characters: a truncated hex key.
  msg = what([&] { parseMasterKey(toHex(randomBytes(32)).substr(1), "--master-key-file /k"); });
  EXPECT_NE(msg.find("--master-key-file /k"), std::string::npos) << msg;
  EXPECT_NE(msg.find("63 characters"), std::string::npos) << msg;
  EXPECT_NE(msg.find("64 hex characters"), std::string::npos) << msg;
  // Hex of 16 bytes (32 characters, which is also valid base64 of 24 bytes).
  msg = what([&] { parseMasterKey(toHex(randomBytes(16)), "x"); });
  EXPECT_NE(msg.find("64 hex characters"), std::string::npos) << msg;
  msg = what([&] { parseMasterKey("not a key!", "FINOPS_MASTER_KEY"); });
  EXPECT_NE(msg.find("neither base64 nor hex"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("not a key!"), std::string::npos) << msg;
  EXPECT_THROW(parseMasterKey(" \n", "x"), SecretsError);
  EXPECT_THROW(parseMasterKey(base64Url(randomBytes(33)), "x"), SecretsError);
  EXPECT_EQ(parseMasterKey(generateMasterKeyText(), "x").bytes.size(), 32u);
}

// ---- the keyring

MasterKey newKey() { return parseMasterKey(generateMasterKeyText(), "test"); }

TEST(Keyring, SealsUnderTheCurrentKeyAndOpensWithAnyKey) {
  MasterKey a = newKey(), b = newKey();
  Keyring oldRing(a);
  std::string sealedA = oldRing.seal("sk-upstream", "row-1");
  EXPECT_TRUE(sealedA.starts_with("fenc1:" + a.id + ":")) << sealedA;
  EXPECT_TRUE(isSealed(sealedA));
  EXPECT_EQ(sealedKeyId(sealedA), a.id);
  EXPECT_EQ(sealedA.find("sk-upstream"), std::string::npos);
  EXPECT_EQ(oldRing.open(sealedA, "row-1"), "sk-upstream");

  Keyring rotated(b, {a, b, a});  // duplicates and the current key dropped from previous
  EXPECT_EQ(rotated.currentId(), b.id);
  EXPECT_EQ(rotated.previousIds(), std::vector<std::string>{a.id});
  EXPECT_EQ(rotated.open(sealedA, "row-1"), "sk-upstream");
  EXPECT_TRUE(rotated.seal("x", "").starts_with("fenc1:" + b.id + ":"));

  Keyring onlyB(b);
  auto msg = what([&] { onlyB.open(sealedA, "row-1"); });
  EXPECT_NE(msg.find(a.id), std::string::npos) << msg;
  EXPECT_NE(msg.find("not configured"), std::string::npos) << msg;
}

TEST(Keyring, TamperedOrMovedValuesDoNotOpen) {
  Keyring ring(newKey());
  std::string sealed = ring.seal("sk-upstream", "row-1");
  auto msg = what([&] { ring.open(sealed, "row-2"); });
  EXPECT_NE(msg.find("authentication failed"), std::string::npos) << msg;
  std::string tampered = sealed;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_THROW(ring.open(tampered, "row-1"), SecretsError);
  EXPECT_THROW(ring.open(sealed.substr(0, sealed.size() - 8), "row-1"), SecretsError);
  EXPECT_THROW(ring.open("fenc1:" + ring.currentId() + ":!!!", "row-1"), SecretsError);
  EXPECT_THROW(ring.open("fenc1:nokeyid", "row-1"), SecretsError);
  EXPECT_THROW(ring.open("sk-plaintext", "row-1"), SecretsError);
  EXPECT_FALSE(isSealed("sk-plaintext"));
  EXPECT_EQ(sealedKeyId("sk-plaintext"), "");
}

// ---- where keys come from

class KeySourcesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("finops-keys-" + randomId(""));
    std::filesystem::create_directories(dir_);
    src_.generatedKeyFile = (dir_ / "master-key").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string writeFile(const std::string& name, const std::string& content, mode_t mode) {
    auto p = (dir_ / name).string();
    std::ofstream(p) << content;
    ::chmod(p.c_str(), mode);
    return p;
  }
  std::filesystem::path dir_;
  MasterKeySources src_;
};

TEST_F(KeySourcesTest, FirstStartGeneratesAPrivateKeyFileThatLaterStartsReuse) {
  auto first = resolveKeyring(src_, {});
  EXPECT_TRUE(first.generated);
  ASSERT_TRUE(std::filesystem::exists(src_.generatedKeyFile));
  struct stat st {};
  ASSERT_EQ(::stat(src_.generatedKeyFile.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(src_.generatedKeyFile);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(parseMasterKey(text, "file").id, first.keyring->currentId());
  EXPECT_TRUE(first.warnings.empty());

  auto second = resolveKeyring(src_, {first.keyring->currentId()});
  EXPECT_FALSE(second.generated);
  EXPECT_EQ(second.keyring->currentId(), first.keyring->currentId());
}

TEST_F(KeySourcesTest, SealedSecretsWithoutAnyKeyIsARefusalNamingTheKeyId) {
  auto msg = what([&] { resolveKeyring(src_, {"0123456789abcdef"}); });
  EXPECT_NE(msg.find("0123456789abcdef"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--master-key-file"), std::string::npos) << msg;
  EXPECT_NE(msg.find("FINOPS_MASTER_KEY"), std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(src_.generatedKeyFile)) << "must not generate a new key";
}

TEST_F(KeySourcesTest, KeyFromFileOrEnvironmentNotBoth) {
  MasterKey k = newKey();
  src_.keyFile = writeFile("key", toHex(k.bytes) + "\n", 0600);
  auto fromFile = resolveKeyring(src_, {});
  EXPECT_EQ(fromFile.keyring->currentId(), k.id);
  EXPECT_FALSE(fromFile.generated);
  EXPECT_TRUE(fromFile.warnings.empty());
  EXPECT_FALSE(std::filesystem::exists(src_.generatedKeyFile));

  src_.keyEnv = base64Url(k.bytes);
  EXPECT_NE(what([&] { resolveKeyring(src_, {}); }).find("one way only"), std::string::npos);
  src_.keyFile.clear();
  EXPECT_EQ(resolveKeyring(src_, {}).keyring->currentId(), k.id);
  src_.keyEnv = "";
  EXPECT_NE(what([&] { resolveKeyring(src_, {}); }).find("FINOPS_MASTER_KEY"), std::string::npos);
}

TEST_F(KeySourcesTest, GroupOrWorldReadableKeyFileWarns) {
  MasterKey k = newKey();
  src_.keyFile = writeFile("key", toHex(k.bytes), 0640);
  auto r = resolveKeyring(src_, {});
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("0640"), std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[0].find("chmod 600"), std::string::npos) << r.warnings[0];
  EXPECT_EQ(r.warnings[0].find(toHex(k.bytes)), std::string::npos);
  ::chmod(src_.keyFile.c_str(), 0604);
  EXPECT_EQ(resolveKeyring(src_, {}).warnings.size(), 1u);
  src_.keyFile = (dir_ / "missing").string();
  EXPECT_NE(what([&] { resolveKeyring(src_, {}); }).find("missing"), std::string::npos);
}

TEST_F(KeySourcesTest, AnOversizedKeyFileIsRefused) {
  src_.keyFile = writeFile("big", std::string(5000, 'a'), 0600);
  EXPECT_NE(what([&] { resolveKeyring(src_, {}); }).find("too large"), std::string::npos);
}

TEST_F(KeySourcesTest, PreviousKeysFromFilesAndACommaSeparatedVariable) {
  MasterKey cur = newKey(), p1 = newKey(), p2 = newKey(), p3 = newKey();
  src_.keyEnv = toHex(cur.bytes);
  src_.previousKeyFiles = {writeFile("p1", base64Url(p1.bytes), 0600)};
  src_.previousKeysEnv = " " + toHex(p2.bytes) + " ,," + base64Url(p3.bytes) + ",";
  auto r = resolveKeyring(src_, {cur.id, p1.id, p2.id, p3.id});
  EXPECT_EQ(r.keyring->previousIds(), (std::vector<std::string>{p1.id, p2.id, p3.id}));
  src_.previousKeysEnv = toHex(p2.bytes) + ",tooshort";
  auto msg = what([&] { resolveKeyring(src_, {}); });
  EXPECT_NE(msg.find("FINOPS_PREVIOUS_MASTER_KEYS, entry 2"), std::string::npos) << msg;
}

TEST_F(KeySourcesTest, AKeyIdInUseThatNoKeyMatchesIsNamed) {
  MasterKey old = newKey(), cur = newKey();
  src_.keyEnv = toHex(cur.bytes);
  auto msg = what([&] { resolveKeyring(src_, {old.id, cur.id}); });
  EXPECT_NE(msg.find(old.id), std::string::npos) << msg;
  EXPECT_NE(msg.find("not configured"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--previous-master-key-file"), std::string::npos) << msg;
  // The usual mistake: a key generated on first start, then another given explicitly.
  writeFile("master-key", toHex(old.bytes), 0600);
  msg = what([&] { resolveKeyring(src_, {old.id}); });
  EXPECT_NE(msg.find(src_.generatedKeyFile + " holds key " + old.id), std::string::npos) << msg;
}

// ---- the store

class SecretStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("finops-secrets-" + randomId(""));
    path_ = (dir_ / "finops.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::shared_ptr<const Keyring> ring(const MasterKey& current,
                                             std::vector<MasterKey> previous = {}) {
    return std::make_shared<const Keyring>(current, std::move(previous));
  }
  static ProviderRow openaiRow(const std::string& name = "openai") {
    ProviderRow p;
    p.name = name;
    p.type = "openai";
    p.baseUrl = "https://api.openai.com/v1";
    return p;
  }
  // Every byte of the database and its -wal/-shm files.
  std::string fileBytes() {
    std::string bytes;
    for (const auto& f : std::filesystem::directory_iterator(dir_)) {
      std::ifstream in(f.path(), std::ios::binary);
      bytes.append(std::istreambuf_iterator<char>(in), {});
    }
    return bytes;
  }
  // (id, provider, value) of every provider_keys row, straight from SQLite.
  std::vector<std::array<std::string, 3>> rawRows() {
    SQLite::Database db(path_);
    SQLite::Statement q(db, "SELECT id, provider_name, value FROM provider_keys ORDER BY position");
    std::vector<std::array<std::string, 3>> out;
    while (q.executeStep())
      out.push_back(
          {q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString()});
    return out;
  }
  void exec(const std::string& sql) {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    db.exec(sql);
  }

  std::filesystem::path dir_;
  std::string path_;
  MasterKey a_ = newKey(), b_ = newKey();
};

TEST_F(SecretStoreTest, StoredSealedAndReadBackInTheClear) {
  const std::string secret = "sk-proj-DISTINCTIVE-0123456789abcdef";
  {
    Store s(path_);
    s.installKeyring(ring(a_));
    auto created = s.createProvider(openaiRow(), {secret, "sk-second-key-value"});
    ASSERT_EQ(created.keys.size(), 2u);
    EXPECT_EQ(created.keys[0].value, secret);  // callers never see the sealed form
    EXPECT_EQ(s.getProvider("openai").keys[1].value, "sk-second-key-value");
    EXPECT_EQ(s.providerSecretKeyIds(), std::set<std::string>{a_.id});
  }
  auto rows = rawRows();
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) EXPECT_TRUE(r[2].starts_with("fenc1:" + a_.id + ":")) << r[2];
  auto bytes = fileBytes();
  EXPECT_NE(bytes.find(rows[0][0]), std::string::npos) << "test setup: the row id is stored";
  EXPECT_EQ(bytes.find(secret), std::string::npos);
  EXPECT_EQ(bytes.find("DISTINCTIVE"), std::string::npos);

  Store s(path_);
  s.installKeyring(ring(a_));
  auto state = s.loadState();
  ASSERT_EQ(state.providers.size(), 1u);
  ASSERT_EQ(state.providers[0].keys.size(), 2u);
  EXPECT_EQ(state.providers[0].keys[0].value, secret);
  auto snap = buildSnapshot(state);
  EXPECT_EQ(snap.providers(0).keys(0).value(), secret);

  // Replacing the keys seals the new ones too.
  ProviderPatch patch;
  patch.keys = std::vector<std::string>{"sk-replaced-value"};
  EXPECT_EQ(s.updateProvider("openai", patch).keys.at(0).value, "sk-replaced-value");
  EXPECT_TRUE(rawRows().at(0)[2].starts_with("fenc1:"));
}

TEST_F(SecretStoreTest, VertexServiceAccountJsonIsSealedWhole) {
  const std::string sa =
      R"({"type":"service_account","client_email":"svc@proj.iam.gserviceaccount.com",)"
      R"("private_key":"-----BEGIN PRIVATE KEY-----\nPRIVATEKEYMATERIAL\n-----END PRIVATE KEY-----\n"})";
  Store s(path_);
  s.installKeyring(ring(a_));
  ProviderRow v;
  v.name = "vertex";
  v.type = "vertex";
  v.baseUrl = "https://us-east5-aiplatform.googleapis.com";
  v.options.vertexProject = "proj";
  v.options.vertexLocation = "us-east5";
  EXPECT_EQ(s.createProvider(v, {sa}).keys.at(0).value, sa);
  EXPECT_EQ(fileBytes().find("PRIVATEKEYMATERIAL"), std::string::npos);
  EXPECT_EQ(fileBytes().find("svc@proj"), std::string::npos);
  EXPECT_EQ(s.loadState().providers.at(0).keys.at(0).value, sa);
}

TEST_F(SecretStoreTest, WithoutAKeyringNothingIsStoredAndNothingSealedIsRead) {
  {
    Store s(path_);
    auto msg = what([&] { s.createProvider(openaiRow(), {"sk-abc"}); });
    EXPECT_NE(msg.find("no master key"), std::string::npos) << msg;
    EXPECT_TRUE(s.listProviders().empty()) << "the failed create left nothing behind";
    s.createProvider(openaiRow(), {});  // no keys: fine
    s.installKeyring(ring(a_));
    ProviderPatch patch;
    patch.keys = std::vector<std::string>{"sk-abc-123"};
    s.updateProvider("openai", patch);
  }
  Store s(path_);
  auto msg = what([&] { s.loadState(); });
  EXPECT_NE(msg.find(a_.id), std::string::npos) << msg;
  EXPECT_NE(msg.find("no master key is installed"), std::string::npos) << msg;
}

TEST_F(SecretStoreTest, AnApiKeyLookingSealedIsRefused) {
  Store s(path_);
  s.installKeyring(ring(a_));
  try {
    s.createProvider(openaiRow(), {"fenc1:abc:def"});
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), StoreError::Code::kInvalidArgument);
  }
}

TEST_F(SecretStoreTest, ABaseUrlWithACredentialIsRefusedWithoutEchoingIt) {
  Store s(path_);
  s.installKeyring(ring(a_));
  ProviderRow p = openaiRow();
  p.baseUrl = "https://user:pa55-SECRET-word@api.example.com/v1";
  auto msg = what([&] { s.createProvider(p, {}); });
  EXPECT_NE(msg.find("user info"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("SECRET"), std::string::npos) << msg;
  // A query may carry a key too (Gemini's ?key=): no rejected URL is ever echoed.
  p.baseUrl = "https://generativelanguage.googleapis.com/v1?key=AIzaSECRET";
  msg = what([&] { s.createProvider(p, {}); });
  EXPECT_NE(msg.find("query"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("SECRET"), std::string::npos) << msg;
  p.baseUrl = "not a url";
  msg = what([&] { s.createProvider(p, {}); });
  EXPECT_NE(msg.find("http://"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("not a url"), std::string::npos) << msg;
}

TEST_F(SecretStoreTest, ValuesAreBoundToTheirRowAndProvider) {
  {
    Store s(path_);
    s.installKeyring(ring(a_));
    s.createProvider(openaiRow("one"), {"sk-one-value"});
    s.createProvider(openaiRow("two"), {"sk-two-value"});
  }
  auto rows = rawRows();
  ASSERT_EQ(rows.size(), 2u);
  // Swap the two values: each row now holds a value sealed for the other.
  exec("UPDATE provider_keys SET value = '" + rows[1][2] + "' WHERE id = '" + rows[0][0] + "'");
  exec("UPDATE provider_keys SET value = '" + rows[0][2] + "' WHERE id = '" + rows[1][0] + "'");
  Store s(path_);
  auto msg = what([&] { s.installKeyring(ring(a_)); });
  EXPECT_NE(msg.find("authentication failed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("provider '"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("sk-"), std::string::npos) << msg;
  // Nothing was installed: the store still refuses to store or read keys.
  EXPECT_THROW(s.loadState(), SecretsError);
}

TEST_F(SecretStoreTest, ATamperedRowIsAClearErrorNotGarbage) {
  Store s(path_);
  s.installKeyring(ring(a_));
  std::string id = s.createProvider(openaiRow(), {"sk-original-value"}).keys.at(0).id;
  std::string value = rawRows().at(0)[2];
  value[value.size() - 3] = value[value.size() - 3] == 'x' ? 'y' : 'x';
  exec("UPDATE provider_keys SET value = '" + value + "'");
  // While running: reads fail with a clear error.
  auto msg = what([&] { s.getProvider("openai"); });
  EXPECT_NE(msg.find("provider 'openai' key " + id), std::string::npos) << msg;
  EXPECT_NE(msg.find("authentication failed"), std::string::npos) << msg;
  EXPECT_THROW(s.loadState(), SecretsError);
  // At the next start: refused.
  Store again(path_);
  msg = what([&] { again.installKeyring(ring(a_)); });
  EXPECT_NE(msg.find("provider 'openai' key " + id), std::string::npos) << msg;
  EXPECT_NE(msg.find("authentication failed"), std::string::npos) << msg;
}

TEST_F(SecretStoreTest, LegacyPlaintextRowsAreSealedAtStartAndLeaveNoTrace) {
  {
    Store s(path_);
    s.createProvider(openaiRow(), {});
  }
  // What an older version wrote: keys in the clear.
  exec(
      "INSERT INTO provider_keys(id, provider_name, position, value, created_at) VALUES "
      "('pk_legacy1', 'openai', 0, 'sk-LEGACY-PLAINTEXT-ONE', 0), "
      "('pk_legacy2', 'openai', 1, 'sk-LEGACY-PLAINTEXT-TWO', 0)");
  ASSERT_NE(fileBytes().find("sk-LEGACY-PLAINTEXT-ONE"), std::string::npos) << "test setup";
  Store s(path_);
  EXPECT_TRUE(s.providerSecretKeyIds().empty());
  auto result = s.installKeyring(ring(a_));
  EXPECT_EQ(result.total, 2);
  EXPECT_EQ(result.plaintext, 2);
  EXPECT_EQ(result.rotated, 0);
  for (const auto& r : rawRows()) EXPECT_TRUE(r[2].starts_with("fenc1:" + a_.id + ":")) << r[2];
  EXPECT_EQ(fileBytes().find("LEGACY-PLAINTEXT"), std::string::npos);
  auto keys = s.loadState().providers.at(0).keys;
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].value, "sk-LEGACY-PLAINTEXT-ONE");
  EXPECT_EQ(keys[1].value, "sk-LEGACY-PLAINTEXT-TWO");
  // Installing again rewrites nothing.
  EXPECT_EQ(s.installKeyring(ring(a_)).plaintext, 0);
}

TEST_F(SecretStoreTest, RotationReSealsUnderTheNewKeyId) {
  {
    Store s(path_);
    s.installKeyring(ring(a_));
    s.createProvider(openaiRow(), {"sk-rotate-one", "sk-rotate-two"});
  }
  ASSERT_NE(fileBytes().find("fenc1:" + a_.id), std::string::npos) << "test setup";
  {
    Store s(path_);
    auto result = s.installKeyring(ring(b_, {a_}));
    EXPECT_EQ(result.rotated, 2);
    EXPECT_EQ(result.plaintext, 0);
    EXPECT_EQ(s.providerSecretKeyIds(), std::set<std::string>{b_.id});
    EXPECT_EQ(s.loadState().providers.at(0).keys.at(1).value, "sk-rotate-two");
    EXPECT_EQ(fileBytes().find(a_.id), std::string::npos)
        << "the old key id is gone from the files";
  }
  for (const auto& r : rawRows()) EXPECT_TRUE(r[2].starts_with("fenc1:" + b_.id + ":")) << r[2];
  // The old key is no longer needed.
  Store s(path_);
  s.installKeyring(ring(b_));
  EXPECT_EQ(s.loadState().providers.at(0).keys.at(0).value, "sk-rotate-one");
}

TEST_F(SecretStoreTest, StartupRefusesWhenTheKeyIsMissingAndNamesItsId) {
  {
    Store s(path_);
    s.installKeyring(ring(a_));
    s.createProvider(openaiRow(), {"sk-needs-key-a"});
  }
  Store s(path_);
  MasterKeySources src;
  src.keyEnv = toHex(b_.bytes);
  src.generatedKeyFile = (dir_ / "master-key").string();
  auto msg = what([&] { setUpProviderSecrets(s, src); });
  EXPECT_NE(msg.find(a_.id), std::string::npos) << msg;
  EXPECT_EQ(msg.find(toHex(b_.bytes)), std::string::npos) << msg;
  EXPECT_THROW(s.loadState(), SecretsError);  // nothing installed
  // No key at all, and no generated file: the same refusal, and no key is generated.
  src.keyEnv.reset();
  msg = what([&] { setUpProviderSecrets(s, src); });
  EXPECT_NE(msg.find(a_.id), std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(src.generatedKeyFile));
  // With the old key as previous: starts, and rotates.
  src.keyEnv = toHex(b_.bytes);
  src.previousKeysEnv = base64Url(a_.bytes);
  auto result = setUpProviderSecrets(s, src);
  EXPECT_EQ(result.rotated, 1);
  EXPECT_EQ(s.loadState().providers.at(0).keys.at(0).value, "sk-needs-key-a");
}

TEST_F(SecretStoreTest, FirstStartGeneratesTheKeyBesideTheDatabase) {
  Store s(path_);
  MasterKeySources src;
  src.generatedKeyFile = (dir_ / "master-key").string();
  setUpProviderSecrets(s, src);
  ASSERT_TRUE(std::filesystem::exists(src.generatedKeyFile));
  s.createProvider(openaiRow(), {"sk-generated-key-case"});
  std::ifstream in(src.generatedKeyFile);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  auto key = parseMasterKey(text, "file");
  EXPECT_EQ(s.providerSecretKeyIds(), std::set<std::string>{key.id});
  // A later start picks the file up by itself.
  Store again(path_);
  setUpProviderSecrets(again, src);
  EXPECT_EQ(again.loadState().providers.at(0).keys.at(0).value, "sk-generated-key-case");
}

}  // namespace
}  // namespace finops::cp
