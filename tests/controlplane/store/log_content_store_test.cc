// The content-logging switches in the state: a key's log_content (column of migration 0006) and
// the log_content setting, stored, survive a restart, bump the config version and reach the
// snapshot the data planes receive.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/crypto.h"
#include "controlplane/snapshot/builder.h"
#include "controlplane/store/store.h"

namespace finops::cp {
namespace {

class LogContentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("finops-logcontent-" + randomId(""));
    path_ = (dir_ / "finops.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static const finops::v1::VirtualKey* snapshotKey(const finops::v1::Snapshot& s,
                                                   const std::string& id) {
    for (const auto& k : s.virtual_keys())
      if (k.id() == id) return &k;
    return nullptr;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(LogContentStoreTest, KeysLogContentByDefaultAndCanBeCreatedWithout) {
  std::string plainId, quietId;
  {
    Store s(path_);
    KeySpec plain;
    plain.name = "plain";
    auto [p, ps] = s.createKey(plain);
    EXPECT_TRUE(p.logContent);
    plainId = p.id;
    KeySpec quiet;
    quiet.name = "quiet";
    quiet.logContent = false;
    auto [q, qs] = s.createKey(quiet);
    EXPECT_FALSE(q.logContent);
    quietId = q.id;
  }
  Store s(path_);  // survives a restart
  EXPECT_TRUE(s.getKey("plain").logContent);
  EXPECT_FALSE(s.getKey("quiet").logContent);
  auto keys = s.listKeys();
  ASSERT_EQ(keys.size(), 2u);
  for (const auto& k : keys) EXPECT_EQ(k.logContent, k.name == "plain") << k.name;

  auto snap = buildSnapshot(s.loadState());
  ASSERT_NE(snapshotKey(snap, plainId), nullptr);
  ASSERT_NE(snapshotKey(snap, quietId), nullptr);
  EXPECT_TRUE(snapshotKey(snap, plainId)->log_content());
  EXPECT_FALSE(snapshotKey(snap, quietId)->log_content());
}

TEST_F(LogContentStoreTest, UpdatingAKeysLogContentBumpsTheVersionAndKeepsTheRest) {
  Store s(path_);
  KeySpec spec;
  spec.name = "app";
  spec.allowedModels = {"openai/gpt-4o*"};
  auto [row, secret] = s.createKey(spec);
  uint64_t before = s.configVersion();

  KeyPatch off;
  off.logContent = false;
  auto updated = s.updateKey("app", off);
  EXPECT_FALSE(updated.logContent);
  EXPECT_EQ(updated.allowedModels, std::vector<std::string>{"openai/gpt-4o*"});
  EXPECT_EQ(updated.status, "active");
  EXPECT_GT(s.configVersion(), before);
  EXPECT_FALSE(snapshotKey(buildSnapshot(s.loadState()), row.id)->log_content());

  // A patch that does not name log_content leaves it as it is.
  KeyPatch rename;
  rename.name = "app2";
  EXPECT_FALSE(s.updateKey("app", rename).logContent);
  KeyPatch on;
  on.logContent = true;
  EXPECT_TRUE(s.updateKey("app2", on).logContent);
  EXPECT_TRUE(s.getKey(row.id).logContent);
  EXPECT_TRUE(snapshotKey(buildSnapshot(s.loadState()), row.id)->log_content());
  // Rotating keeps it too.
  KeyPatch off2;
  off2.logContent = false;
  s.updateKey(row.id, off2);
  EXPECT_FALSE(s.rotateKey(row.id).first.logContent);
}

TEST_F(LogContentStoreTest, TheLogContentSettingDefaultsToTrueAndIsStored) {
  {
    Store s(path_);
    EXPECT_TRUE(s.getSettings().logContent);
    EXPECT_TRUE(buildSnapshot(s.loadState()).settings().log_content())
        << "the snapshot always carries the setting, true by default";
    uint64_t before = s.configVersion();
    SettingsPatch off;
    off.logContent = false;
    EXPECT_FALSE(s.updateSettings(off).logContent);
    EXPECT_GT(s.configVersion(), before);
    // Other settings changes leave it alone.
    SettingsPatch other;
    other.enforceKeys = false;
    auto st = s.updateSettings(other);
    EXPECT_FALSE(st.logContent);
    EXPECT_FALSE(st.enforceKeys);
  }
  Store s(path_);
  EXPECT_FALSE(s.getSettings().logContent);
  EXPECT_FALSE(buildSnapshot(s.loadState()).settings().log_content());
  SettingsPatch on;
  on.logContent = true;
  EXPECT_TRUE(s.updateSettings(on).logContent);
  EXPECT_TRUE(buildSnapshot(s.loadState()).settings().log_content());
}

}  // namespace
}  // namespace finops::cp
