#include "dataplane/routes/routing.h"

#include <gtest/gtest.h>

#include "dataplane/routes/models_cache.h"

namespace finops::dp {
namespace {

TEST(Routing, SplitsAtTheFirstSlashOnly) {
  auto r = splitModel("openrouter/anthropic/claude-3.5");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->provider, "openrouter");
  EXPECT_EQ(r->model, "anthropic/claude-3.5");
}

TEST(Routing, KeepsColons) {
  auto r = splitModel("ollama/llama3.1:8b");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->provider, "ollama");
  EXPECT_EQ(r->model, "llama3.1:8b");
}

TEST(Routing, RejectsIdsWithoutAProviderOrModel) {
  EXPECT_FALSE(splitModel("gpt-4o"));
  EXPECT_FALSE(splitModel("/gpt-4o"));
  EXPECT_FALSE(splitModel("openai/"));
  EXPECT_FALSE(splitModel(""));
}

TEST(Models, ParsesUpstreamListShapes) {
  EXPECT_EQ(parseUpstreamModels(R"({"object":"list","data":[{"id":"a"},{"id":"b"}]})"),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(parseUpstreamModels(R"([{"id":"a"},"b"])"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(parseUpstreamModels(R"({"models":[{"name":"llama3.1:8b"}]})"),
            (std::vector<std::string>{"llama3.1:8b"}));
  EXPECT_TRUE(parseUpstreamModels("not json").empty());
}

}  // namespace
}  // namespace finops::dp
