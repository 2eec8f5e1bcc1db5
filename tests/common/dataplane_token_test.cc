// Data-plane token files and FINOPS_DATAPLANE_TOKEN: what is a token, what is ignored, and
// errors that name the place without quoting a token.
#include "common/dataplane_token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "tests/common/temp_dir.h"

namespace finops {
namespace {

const std::string kA = "tokA-0123456789abcdef";
const std::string kB = "tokB-fedcba9876543210";

TEST(DataPlaneTokenParse, OneALineWithCommentsBlankLinesAndCommas) {
  std::string error;
  auto t = parseDataPlaneTokens(
      "# the new token first\n  " + kA + "  \r\n\n" + kB + "\n" + kA + "\n", "f", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(*t, (std::vector<std::string>{kA, kB})) << "trimmed, deduplicated, in order";
  t = parseDataPlaneTokens(kB + "," + kA, "FINOPS_DATAPLANE_TOKEN", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(*t, (std::vector<std::string>{kB, kA}));
  t = parseDataPlaneTokens(kA, "x", &error);  // no final newline
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(*t, std::vector<std::string>{kA});
}

TEST(DataPlaneTokenParse, NoTokenIsAnError) {
  std::string error;
  EXPECT_FALSE(parseDataPlaneTokens("", "--dataplane-token-file /t", &error));
  EXPECT_EQ(error, "--dataplane-token-file /t: holds no token");
  EXPECT_FALSE(parseDataPlaneTokens("# only a comment\n\n  \n", "f", &error));
  EXPECT_EQ(error, "f: holds no token");
}

TEST(DataPlaneTokenParse, BadTokensAreNamedByLineNeverQuoted) {
  std::string error;
  EXPECT_FALSE(parseDataPlaneTokens(kA + "\nshort-secret\n", "f", &error));
  EXPECT_NE(error.find("f: line 2: a token must have at least 16 characters"), std::string::npos)
      << error;
  EXPECT_EQ(error.find("short-secret"), std::string::npos) << error;
  EXPECT_FALSE(parseDataPlaneTokens("tok with-inner-spaces-0123\n", "f", &error));
  EXPECT_NE(error.find("line 1: a token may hold only printable ASCII"), std::string::npos)
      << error;
  EXPECT_EQ(error.find("inner-spaces"), std::string::npos) << error;
  EXPECT_FALSE(parseDataPlaneTokens(std::string(1025, 'x'), "f", &error));
  EXPECT_NE(error.find("at most 1024"), std::string::npos) << error;
  EXPECT_TRUE(parseDataPlaneTokens(std::string(1024, 'x'), "f", &error)) << error;
  EXPECT_FALSE(parseDataPlaneTokens("tokC-0123456789abcde\xc3\xa9", "f", &error));
}

class DataPlaneTokenFile : public finops::testing::TempDirTest {};

TEST_F(DataPlaneTokenFile, FileOrEnvironmentNeverBoth) {
  std::string error;
  std::string path = write("tokens", kA + "\n" + kB + "\n");
  auto t = loadDataPlaneTokens(path, std::nullopt, "--dataplane-token-file", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->tokens, (std::vector<std::string>{kA, kB}));
  EXPECT_EQ(t->source, "--dataplane-token-file " + path);
  EXPECT_TRUE(t->warnings.empty());

  t = loadDataPlaneTokens("", kB, "--control-plane-token-file", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->tokens, std::vector<std::string>{kB});
  EXPECT_EQ(t->source, "FINOPS_DATAPLANE_TOKEN");

  t = loadDataPlaneTokens("", std::nullopt, "--dataplane-token-file", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_TRUE(t->tokens.empty()) << "neither: no token configured";
  EXPECT_EQ(t->source, "");

  EXPECT_FALSE(loadDataPlaneTokens(path, kB, "--dataplane-token-file", &error));
  EXPECT_EQ(error, "--dataplane-token-file and FINOPS_DATAPLANE_TOKEN are both given; use one");
  EXPECT_FALSE(loadDataPlaneTokens("", std::string(" \n"), "--dataplane-token-file", &error));
  EXPECT_EQ(error, "FINOPS_DATAPLANE_TOKEN is set but empty");
}

TEST_F(DataPlaneTokenFile, AnOversizedFileIsRefused) {
  std::string error;
  std::string path = write("big", std::string(70 * 1024, 'a'));
  EXPECT_FALSE(loadDataPlaneTokens(path, std::nullopt, "--dataplane-token-file", &error));
  EXPECT_NE(error.find("larger than 64 KiB"), std::string::npos) << error;
  EXPECT_NE(error.find(path), std::string::npos) << error;
}

TEST_F(DataPlaneTokenFile, UnusableFilesAreNamed) {
  std::string error;
  std::string missing = (dir_ / "missing").string();
  EXPECT_FALSE(loadDataPlaneTokens(missing, std::nullopt, "--dataplane-token-file", &error));
  EXPECT_NE(error.find("--dataplane-token-file " + missing + ": does not exist"), std::string::npos)
      << error;
  EXPECT_FALSE(loadDataPlaneTokens(dir_.string(), std::nullopt, "--dataplane-token-file", &error));
  EXPECT_NE(error.find("not a regular file"), std::string::npos) << error;
  EXPECT_FALSE(loadDataPlaneTokens(write("empty", ""), std::nullopt, "--x", &error));
  EXPECT_NE(error.find("holds no token"), std::string::npos) << error;
  EXPECT_FALSE(
      loadDataPlaneTokens(write("big", std::string(70000, 'a')), std::nullopt, "--x", &error));
  EXPECT_NE(error.find("larger than 64 KiB"), std::string::npos) << error;
}

TEST_F(DataPlaneTokenFile, AFileOthersCanReadIsAWarning) {
  std::string error;
  auto t = loadDataPlaneTokens(write("open", kA + "\n", 0644), std::nullopt, "--x", &error);
  ASSERT_TRUE(t) << error;
  ASSERT_EQ(t->warnings.size(), 1u);
  EXPECT_NE(t->warnings[0].find("mode 0644"), std::string::npos) << t->warnings[0];
  EXPECT_EQ(t->warnings[0].find(kA), std::string::npos);
  // Group access is how Kubernetes mounts Secrets for the pod's fsGroup: no warning.
  t = loadDataPlaneTokens(write("group", kA + "\n", 0640), std::nullopt, "--x", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_TRUE(t->warnings.empty());
}

}  // namespace
}  // namespace finops
