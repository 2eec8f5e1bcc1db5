#include "dataplane/config/snapshot.h"

#include "dataplane/config/subscriber.h"

#include <gtest/gtest.h>

#include "common/crypto.h"

namespace finops::dp {
namespace {

finops::v1::Snapshot sample() {
  finops::v1::Snapshot s;
  s.set_version(7);
  auto* p = s.add_providers();
  p->set_name("openai");
  p->set_type(finops::v1::PROVIDER_TYPE_OPENAI_COMPATIBLE);
  p->set_base_url("https://api.openai.com/v1");
  p->add_keys()->set_value("sk-one");
  p->add_keys()->set_value("sk-two");
  p->add_models("gpt-4o-mini");
  auto* k = s.add_virtual_keys();
  k->set_id("vk_1");
  k->set_name("team-a");
  k->set_key_hash(sha256Bytes("sk-fo-secret"));
  k->set_active(true);
  auto* r = s.add_virtual_keys();
  r->set_id("vk_2");
  r->set_key_hash(sha256Bytes("sk-fo-revoked"));
  r->set_active(false);
  s.mutable_settings()->set_enforce_keys(true);
  s.mutable_settings()->add_forward_headers("X-Trace-Id");
  return s;
}

TEST(CompileSnapshot, BuildsLookupsFromTheSnapshot) {
  std::string err;
  auto c = compileSnapshot(sample(), &err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->version, 7u);
  const ProviderRoute* p = c->provider("openai");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->url.tls);
  EXPECT_EQ(p->url.basePath, "/v1");
  EXPECT_EQ(p->poolKey, "https://api.openai.com:443");
  using Header = std::pair<std::string, std::string>;
  EXPECT_EQ(*p->nextAuth(), Header("authorization", "Bearer sk-one"));
  EXPECT_EQ(*p->nextAuth(), Header("authorization", "Bearer sk-two"));
  EXPECT_EQ(*p->nextAuth(), Header("authorization", "Bearer sk-one"));
  EXPECT_EQ(c->provider("nope"), nullptr);
  EXPECT_TRUE(c->forwardHeaders.count("x-trace-id"));
}

TEST(CompileSnapshot, NativeProvidersGetTheirAuthHeadersAndVertexItsPath) {
  auto s = sample();
  auto add = [&](const char* name, finops::v1::ProviderType type, const char* url) {
    auto* p = s.add_providers();
    p->set_name(name);
    p->set_type(type);
    p->set_base_url(url);
    return p;
  };
  add("anthropic", finops::v1::PROVIDER_TYPE_ANTHROPIC, "https://api.anthropic.com/v1")
      ->add_keys()->set_value("sk-ant");
  add("gemini", finops::v1::PROVIDER_TYPE_GEMINI, "https://generativelanguage.googleapis.com/v1beta")
      ->add_keys()->set_value("AIza");
  auto* v = add("vertex", finops::v1::PROVIDER_TYPE_VERTEX, "http://127.0.0.1:9");
  v->add_keys()->set_value(R"({"type":"service_account","client_email":"a@b","private_key":"x"})");
  v->mutable_options()->set_vertex_project("proj");
  v->mutable_options()->set_vertex_location("us-east5");
  std::string err;
  auto c = compileSnapshot(s, &err);
  ASSERT_TRUE(c) << err;
  using Header = std::pair<std::string, std::string>;
  EXPECT_EQ(*c->provider("anthropic")->nextAuth(), Header("x-api-key", "sk-ant"));
  EXPECT_EQ(*c->provider("gemini")->nextAuth(), Header("x-goog-api-key", "AIza"));
  const ProviderRoute* vr = c->provider("vertex");
  EXPECT_EQ(vr->nextAuth(), nullptr);
  ASSERT_TRUE(vr->tokenSource);
  EXPECT_EQ(vr->url.basePath, "/v1/projects/proj/locations/us-east5");

  // A Vertex provider without a project, or with a key that is not a service account, is NACKed.
  v->mutable_options()->clear_vertex_project();
  EXPECT_FALSE(compileSnapshot(s, &err));
  v->mutable_options()->set_vertex_project("proj");
  v->mutable_keys(0)->set_value("not json");
  EXPECT_FALSE(compileSnapshot(s, &err));
  EXPECT_NE(err.find("vertex"), std::string::npos) << err;
}

TEST(CompileSnapshot, KeysGetTheirLimitsPerProvider) {
  auto s = sample();
  auto addLimit = [&](const char* id, const char* provider, const char* window) {
    auto* l = s.add_limits();
    l->set_id(id);
    l->set_kind(finops::v1::LIMIT_KIND_BUDGET);
    l->set_amount(1000);
    l->set_window(window);
    l->set_provider(provider);
    s.mutable_virtual_keys(0)->add_limit_ids(id);
  };
  addLimit("all", "", "1d");
  addLimit("oa", "openai", "1h");
  std::string err;
  auto c = compileSnapshot(s, &err);
  ASSERT_TRUE(c) << err;
  const KeyEntry* k = c->findKey("sk-fo-secret");
  ASSERT_TRUE(k);
  auto ids = [](const std::vector<const LimitDef*>& v) {
    std::vector<std::string> out;
    for (const auto* d : v) out.push_back(d->id);
    return out;
  };
  EXPECT_EQ(ids(k->limitsFor("openai")), (std::vector<std::string>{"all", "oa"}));
  EXPECT_EQ(ids(k->limitsFor("groq")), (std::vector<std::string>{"all"}));

  // A limit with a bad window or an unknown limit id is NACKed.
  auto bad = s;
  bad.mutable_limits(1)->set_window("1x");
  EXPECT_FALSE(compileSnapshot(bad, &err));
  EXPECT_NE(err.find("oa"), std::string::npos) << err;
  auto dangling = sample();
  dangling.mutable_virtual_keys(0)->add_limit_ids("missing");
  EXPECT_FALSE(compileSnapshot(dangling, &err));
  EXPECT_NE(err.find("missing"), std::string::npos) << err;
}

TEST(CompileSnapshot, FindsKeysByHashOnly) {
  std::string err;
  auto c = compileSnapshot(sample(), &err);
  ASSERT_TRUE(c);
  const KeyEntry* k = c->findKey("sk-fo-secret");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->id, "vk_1");
  EXPECT_TRUE(k->active);
  const KeyEntry* revoked = c->findKey("sk-fo-revoked");
  ASSERT_TRUE(revoked);
  EXPECT_FALSE(revoked->active);
  EXPECT_EQ(c->findKey("sk-fo-secreT"), nullptr);
  EXPECT_EQ(c->findKey(""), nullptr);
}

TEST(CompileSnapshot, RejectsWhatItCannotBuild) {
  std::string err;
  auto bad = sample();
  bad.mutable_providers(0)->set_base_url("ftp://x");
  EXPECT_FALSE(compileSnapshot(bad, &err));
  EXPECT_NE(err.find("openai"), std::string::npos);

  bad = sample();
  bad.mutable_providers(0)->set_type(finops::v1::PROVIDER_TYPE_UNSPECIFIED);
  EXPECT_FALSE(compileSnapshot(bad, &err));

  bad = sample();
  bad.mutable_virtual_keys(0)->set_key_hash("short");
  EXPECT_FALSE(compileSnapshot(bad, &err));

  bad = sample();
  *bad.add_providers() = bad.providers(0);
  EXPECT_FALSE(compileSnapshot(bad, &err));
  EXPECT_NE(err.find("duplicate"), std::string::npos);
}

TEST(ApplyPush, AcksAGoodSnapshotAndNacksABadOneKeepingThePrevious) {
  ConfigStore store;
  EXPECT_EQ(store.get(), nullptr);
  EXPECT_LT(store.configAgeSeconds(), 0);
  finops::v1::ConfigPush push;
  *push.mutable_snapshot() = sample();
  push.set_nonce("n1");
  auto ack = applyPush(push, store);
  ASSERT_TRUE(ack.has_ack());
  EXPECT_EQ(ack.ack().version(), 7u);
  EXPECT_EQ(ack.ack().nonce(), "n1");
  ASSERT_TRUE(store.get());
  EXPECT_EQ(store.get()->version, 7u);
  EXPECT_GE(store.configAgeSeconds(), 0);

  push.mutable_snapshot()->set_version(8);
  push.mutable_snapshot()->mutable_providers(0)->set_base_url("nope");
  push.set_nonce("n2");
  auto nack = applyPush(push, store);
  ASSERT_TRUE(nack.has_nack());
  EXPECT_EQ(nack.nack().version(), 8u);
  EXPECT_EQ(nack.nack().nonce(), "n2");
  EXPECT_NE(nack.nack().error_detail().find("openai"), std::string::npos);
  EXPECT_EQ(store.get()->version, 7u) << "the previous snapshot stays in service";
}

}  // namespace
}  // namespace finops::dp
