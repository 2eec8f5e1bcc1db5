#include <gtest/gtest.h>

#include <filesystem>

#include "common/crypto.h"
#include "common/header_policy.h"
#include "controlplane/snapshot/builder.h"
#include "controlplane/store/store.h"

namespace finops::cp {
namespace {

class SettingsStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("finops-settings-" + randomId(""));
    path_ = (dir_ / "finops.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string path_;
};

using List = std::vector<std::string>;

TEST_F(SettingsStoreTest, DefaultsWhenNeverSetAndInTheSnapshot) {
  Store s(path_);
  auto st = s.getSettings();
  EXPECT_EQ(st.allowedHeaders, (List{"content-type", "authorization", "x-requested-with",
                                     "x-stainless-timeout", "x-api-key"}));
  EXPECT_EQ(st.allowedOrigins,
            (List{"http://localhost:*", "https://localhost:*", "http://127.0.0.1:*",
                  "https://127.0.0.1:*", "http://[::1]:*", "https://[::1]:*"}));
  EXPECT_TRUE(st.extraHeaders.empty());
  EXPECT_TRUE(st.forwardHeaders.empty());
  auto snap = buildSnapshot(s.loadState());
  EXPECT_EQ(snap.settings().allowed_headers_size(), 5);
  EXPECT_EQ(snap.settings().allowed_origins_size(), 6);
  EXPECT_EQ(snap.settings().allowed_origins(0), "http://localhost:*");
}

TEST_F(SettingsStoreTest, UpdatesAreNormalisedStoredAndBumpTheVersion) {
  uint64_t before;
  {
    Store s(path_);
    before = s.configVersion();
    SettingsPatch p;
    p.allowedHeaders = List{"Content-Type", "X-Stainless-*", "content-type"};
    p.allowedOrigins = List{"HTTPS://App.Example.com", "https://*.example.org:*"};
    p.extraHeaders = List{"OpenAI-Project"};
    p.forwardHeaders = List{"X-Trace-Id"};
    auto st = s.updateSettings(p);
    EXPECT_EQ(st.allowedHeaders, (List{"content-type", "x-stainless-*"}));
    EXPECT_GT(s.configVersion(), before);
  }
  Store s(path_);  // survives a restart
  auto st = s.getSettings();
  EXPECT_EQ(st.allowedHeaders, (List{"content-type", "x-stainless-*"}));
  EXPECT_EQ(st.allowedOrigins, (List{"https://app.example.com", "https://*.example.org:*"}));
  EXPECT_EQ(st.extraHeaders, List{"openai-project"});
  EXPECT_EQ(st.forwardHeaders, List{"x-trace-id"});
  auto snap = buildSnapshot(s.loadState());
  ASSERT_EQ(snap.settings().extra_headers_size(), 1);
  EXPECT_EQ(snap.settings().allowed_origins(1), "https://*.example.org:*");
  // An empty list is a setting of its own (no browser origin at all), not the default.
  SettingsPatch none;
  none.allowedOrigins = List{};
  EXPECT_TRUE(s.updateSettings(none).allowedOrigins.empty());
  EXPECT_TRUE(s.getSettings().allowedOrigins.empty());
}

TEST_F(SettingsStoreTest, ConditionalUpdatesApplyOnlyOnTheRevisionRead) {
  Store s(path_);
  EXPECT_EQ(s.getSettings().revision, 0u);
  SettingsPatch a;
  a.allowedOrigins = List{"https://a.example.com"};
  a.ifRevision = 0;
  EXPECT_EQ(s.updateSettings(a).revision, 1u);
  // An edit computed from revision 0 loses to the one above: refused, nothing written.
  uint64_t version = s.configVersion();
  SettingsPatch b;
  b.allowedOrigins = List{"https://b.example.com"};
  b.ifRevision = 0;
  try {
    s.updateSettings(b);
    ADD_FAILURE() << "a stale conditional update was applied";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), StoreError::Code::kAborted);
    EXPECT_NE(std::string(e.what()).find("revision 0, now 1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(s.getSettings().allowedOrigins, List{"https://a.example.com"});
  EXPECT_EQ(s.getSettings().revision, 1u);
  EXPECT_EQ(s.configVersion(), version);
  // On the current revision it applies; an unconditional update always does.
  b.ifRevision = 1;
  EXPECT_EQ(s.updateSettings(b).allowedOrigins, List{"https://b.example.com"});
  SettingsPatch c;
  c.logContent = false;
  EXPECT_EQ(s.updateSettings(c).revision, 3u);
  // A refused bad entry does not count as a revision.
  SettingsPatch bad;
  bad.allowedOrigins = List{"not an origin"};
  EXPECT_THROW(s.updateSettings(bad), StoreError);
  EXPECT_EQ(s.getSettings().revision, 3u);
}

TEST_F(SettingsStoreTest, BadEntriesAreInvalidArgumentAndChangeNothing) {
  Store s(path_);
  uint64_t before = s.configVersion();
  auto refused = [&](SettingsPatch p, std::string_view needle) {
    try {
      s.updateSettings(p);
      ADD_FAILURE() << "accepted; expected an error containing " << needle;
    } catch (const StoreError& e) {
      EXPECT_EQ(e.code(), StoreError::Code::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  SettingsPatch p;
  p.allowedOrigins = List{"https://app.example.com/chat"};
  refused(p, "allowed_origins");
  p = {};
  p.forwardHeaders = List{"authorization"};
  refused(p, "never forwarded");
  p = {};
  p.extraHeaders = List{"x-bf-vk"};
  refused(p, "never forwarded");
  p = {};
  p.allowedHeaders = List{"bad header"};
  refused(p, "'bad header'");
  // One bad list refuses the whole patch.
  p = {};
  p.allowedHeaders = List{"x-ok"};
  p.forwardHeaders = List{"cookie"};
  refused(p, "forward_headers");
  EXPECT_EQ(s.getSettings().allowedHeaders, defaultAllowedHeaders());
  EXPECT_EQ(s.configVersion(), before);
}

}  // namespace
}  // namespace finops::cp
