#include "controlplane/store/store.h"

#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/crypto.h"
#include "controlplane/snapshot/builder.h"
#include "controlplane/store/migrations.h"

namespace finops::cp {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("finops-store-" + randomId(""));
    path_ = (dir_ / "sub" / "finops.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string path_;
  // Provider keys can only be stored once a keyring is installed (secrets.h).
  std::shared_ptr<const Keyring> keyring_ =
      std::make_shared<const Keyring>(parseMasterKey(generateMasterKeyText(), "test"));
};

TEST_F(StoreTest, FirstStartCreatesOneAdminTokenStoredAsAHash) {
  Store s(path_);
  auto token = s.ensureInitialAdminToken();
  ASSERT_TRUE(token);
  EXPECT_TRUE(token->starts_with("fo-admin-"));
  EXPECT_FALSE(s.ensureInitialAdminToken());
  EXPECT_TRUE(s.findAdminToken(*token));
  EXPECT_FALSE(s.findAdminToken(*token + "x"));
  SQLite::Database db(path_);
  SQLite::Statement q(db, "SELECT token_hash FROM admin_tokens");
  ASSERT_TRUE(q.executeStep());
  auto col = q.getColumn(0);
  EXPECT_EQ(std::string(static_cast<const char*>(col.getBlob()), col.getBytes()), sha256Bytes(*token));
}

TEST_F(StoreTest, VirtualKeysAreRandomPrefixedAndOnlyHashed) {
  Store s(path_);
  auto [row, secret] = s.createKey({"team-a"});
  EXPECT_TRUE(secret.starts_with("sk-fo-"));
  EXPECT_EQ(secret.size(), 6u + 43u);  // 256 bits in base64url
  EXPECT_EQ(row.keyHash, sha256Bytes(secret));
  EXPECT_TRUE(secret.starts_with(row.keyPrefix));
  auto [row2, secret2] = s.createKey({"team-b"});
  EXPECT_NE(secret, secret2);
  // The secret is nowhere in the database files (main file and WAL).
  std::string bytes;
  for (const auto& f : std::filesystem::directory_iterator(std::filesystem::path(path_).parent_path())) {
    std::ifstream in(f.path(), std::ios::binary);
    bytes.append(std::istreambuf_iterator<char>(in), {});
  }
  EXPECT_NE(bytes.find(row.keyHash), std::string::npos) << "test setup: the hash should be stored";
  EXPECT_EQ(bytes.find(secret), std::string::npos);
  EXPECT_EQ(bytes.find(secret.substr(6)), std::string::npos);
  EXPECT_THROW(s.createKey({""}), StoreError);
}

TEST_F(StoreTest, EveryChangeBumpsThePersistedVersion) {
  uint64_t v0;
  {
    Store s(path_);
    s.installKeyring(keyring_);
    v0 = s.configVersion();
    ProviderRow p;
    p.name = "openai";
    p.type = "openai";
    p.baseUrl = "https://api.openai.com/v1";
    s.createProvider(p, {"sk-a", "sk-b"});
    EXPECT_EQ(s.configVersion(), v0 + 1);
    auto [k, secret] = s.createKey({"x"});
    s.revokeKey(k.id);
    EXPECT_EQ(s.configVersion(), v0 + 3);
    s.revokeKey(k.id);  // already revoked: no change
    EXPECT_EQ(s.configVersion(), v0 + 3);
  }
  Store reopened(path_);
  reopened.installKeyring(keyring_);
  EXPECT_EQ(reopened.configVersion(), v0 + 3);
  auto state = reopened.loadState();
  ASSERT_EQ(state.providers.size(), 1u);
  EXPECT_EQ(state.providers[0].keys.size(), 2u);
  EXPECT_EQ(state.keys[0].status, "revoked");
}

TEST_F(StoreTest, ProviderValidationAndErrors) {
  Store s(path_);
  s.installKeyring(keyring_);
  ProviderRow p;
  p.name = "openai";
  p.type = "openai";
  p.baseUrl = "https://api.openai.com/v1";
  s.createProvider(p, {});
  try {
    s.createProvider(p, {});
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), StoreError::Code::kAlreadyExists);
  }
  p.name = "Bad/Name";
  EXPECT_THROW(s.createProvider(p, {}), StoreError);
  p.name = "ok";
  p.baseUrl = "not a url";
  EXPECT_THROW(s.createProvider(p, {}), StoreError);
  try {
    s.getProvider("missing");
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), StoreError::Code::kNotFound);
  }
  ProviderPatch patch;
  patch.keys = std::vector<std::string>{"sk-new"};
  auto updated = s.updateProvider("openai", patch);
  ASSERT_EQ(updated.keys.size(), 1u);
  EXPECT_EQ(updated.keys[0].value, "sk-new");
  s.deleteProvider("openai");
  EXPECT_TRUE(s.listProviders().empty());
}

TEST_F(StoreTest, NativeProviderTypesValidateTheirOptionsAndKeys) {
  Store s(path_);
  s.installKeyring(keyring_);
  auto expectInvalid = [&](ProviderRow p, std::vector<std::string> keys, const char* what) {
    try {
      s.createProvider(p, keys);
      ADD_FAILURE() << what << ": accepted";
    } catch (const StoreError& e) {
      EXPECT_EQ(e.code(), StoreError::Code::kInvalidArgument) << what;
    }
  };
  const std::string sa = R"({"type":"service_account","client_email":"a@p.iam","private_key":"-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n"})";
  ProviderRow v;
  v.name = "vertex";
  v.type = "vertex";
  v.baseUrl = defaultBaseUrl("vertex", "vertex", "us-east5");
  EXPECT_EQ(v.baseUrl, "https://us-east5-aiplatform.googleapis.com");
  v.options.vertexProject = "proj";
  v.options.vertexLocation = "us-east5";
  expectInvalid(v, {}, "vertex without a key");
  expectInvalid(v, {sa, sa}, "vertex with two keys");
  expectInvalid(v, {"sk-not-json"}, "vertex key that is not a service account");
  ProviderRow noProject = v;
  noProject.options.vertexProject.clear();
  expectInvalid(noProject, {sa}, "vertex without a project");
  ProviderRow badLocation = v;
  badLocation.options.vertexLocation = "us/east";
  expectInvalid(badLocation, {sa}, "vertex location with a slash");
  ProviderRow unknown = v;
  unknown.type = "bedrock";
  expectInvalid(unknown, {sa}, "unknown type");

  auto created = s.createProvider(v, {sa});
  EXPECT_EQ(created.options.vertexProject, "proj");
  EXPECT_EQ(created.options.vertexLocation, "us-east5");
  ProviderPatch clearKeys;
  clearKeys.keys = std::vector<std::string>{};
  EXPECT_THROW(s.updateProvider("vertex", clearKeys), StoreError);

  ProviderRow a;
  a.name = "claude";
  a.type = "anthropic";
  a.baseUrl = defaultBaseUrl("anthropic", "claude", "");
  a.options.defaultMaxTokens = 8192;
  s.createProvider(a, {"sk-ant"});
  ProviderPatch mt;
  mt.defaultMaxTokens = 1024;
  EXPECT_EQ(s.updateProvider("claude", mt).options.defaultMaxTokens, 1024);
  auto snap = buildSnapshot(s.loadState());
  bool sawClaude = false;
  for (const auto& p : snap.providers()) {
    if (p.name() != "claude") continue;
    sawClaude = true;
    EXPECT_EQ(p.type(), finops::v1::PROVIDER_TYPE_ANTHROPIC);
    EXPECT_EQ(p.base_url(), "https://api.anthropic.com/v1");
    EXPECT_EQ(p.options().default_max_tokens(), 1024);
  }
  EXPECT_TRUE(sawClaude);
}

TEST_F(StoreTest, SnapshotCarriesHashesNotSecrets) {
  Store s(path_);
  s.installKeyring(keyring_);
  ProviderRow p;
  p.name = "groq";
  p.type = "openai";
  p.baseUrl = defaultBaseUrl("openai", "groq", "");
  p.models = {"llama-3.1-8b-instant"};
  s.createProvider(p, {"gsk-upstream"});
  auto [k, secret] = s.createKey({"team"});
  SettingsPatch sp;
  sp.enforceKeys = false;
  sp.forwardHeaders = std::vector<std::string>{"X-Trace"};
  s.updateSettings(sp);
  auto snap = buildSnapshot(s.loadState());
  EXPECT_EQ(snap.version(), s.configVersion());
  ASSERT_EQ(snap.providers_size(), 1);
  EXPECT_EQ(snap.providers(0).base_url(), "https://api.groq.com/openai/v1");
  EXPECT_EQ(snap.providers(0).type(), finops::v1::PROVIDER_TYPE_OPENAI_COMPATIBLE);
  EXPECT_EQ(snap.providers(0).keys(0).value(), "gsk-upstream");
  ASSERT_EQ(snap.virtual_keys_size(), 1);
  EXPECT_EQ(snap.virtual_keys(0).key_hash(), sha256Bytes(secret));
  EXPECT_EQ(snap.SerializeAsString().find(secret), std::string::npos);
  EXPECT_FALSE(snap.settings().enforce_keys());
  EXPECT_EQ(snap.settings().forward_headers(0), "x-trace");
}

TEST_F(StoreTest, RefusesADatabaseNewerThanTheCode) {
  { Store s(path_); }
  {
    SQLite::Database db(path_, SQLite::OPEN_READWRITE);
    db.exec("INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', 'x', 0)");
  }
  EXPECT_THROW(Store s(path_), std::runtime_error);
}

TEST_F(StoreTest, RefusesAnEditedMigration) {
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path());
  SQLite::Database db(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  std::vector<EmbeddedMigration> v1 = {{"0001_a.sql", "CREATE TABLE a(x);"}};
  EXPECT_EQ(applyMigrations(db, v1), 1);
  EXPECT_EQ(applyMigrations(db, v1), 0);
  std::vector<EmbeddedMigration> edited = {{"0001_a.sql", "CREATE TABLE a(y);"}};
  EXPECT_THROW(applyMigrations(db, edited), std::runtime_error);
  std::vector<EmbeddedMigration> more = {{"0001_a.sql", "CREATE TABLE a(x);"},
                                         {"0002_b.sql", "CREATE TABLE b(x);"}};
  EXPECT_EQ(applyMigrations(db, more), 1);
}

}  // namespace
}  // namespace finops::cp
