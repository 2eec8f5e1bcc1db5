#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/crypto.h"
#include "common/process.h"

namespace finops {
namespace {

class SmallFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("finops-small-file-" + randomId(""));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& content, mode_t mode = 0600) {
    std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << content;
    ::chmod(p.c_str(), mode);
    return p;
  }
  std::filesystem::path dir_;
};

TEST_F(SmallFileTest, ReadsUpToTheBoundAndNoFurther) {
  auto f = readSmallFile(write("k", "0123456789", 0640), 10);
  ASSERT_TRUE(f.ok()) << f.why();
  EXPECT_EQ(f.text, "0123456789");
  EXPECT_EQ(f.mode, 0640u);
  auto big = readSmallFile(write("big", std::string(11, 'a')), 10);
  EXPECT_EQ(big.error, SmallFile::Error::kTooLarge);
  EXPECT_TRUE(big.text.empty());
  EXPECT_EQ(big.why(), "is larger than 10 bytes");
  auto empty = readSmallFile(write("empty", ""), 10);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty.text, "");
}

TEST_F(SmallFileTest, MissingDirectoryAndFifoAreRefusedWithoutBlocking) {
  auto missing = readSmallFile((dir_ / "nope").string(), 10);
  EXPECT_EQ(missing.error, SmallFile::Error::kMissing);
  EXPECT_EQ(missing.why(), "does not exist");
  auto dir = readSmallFile(dir_.string(), 10);
  EXPECT_EQ(dir.error, SmallFile::Error::kNotRegular);
  EXPECT_EQ(dir.why(), "is not a regular file");
  // A FIFO with no writer would block a plain open(); this must return at once.
  std::string fifo = (dir_ / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(readSmallFile(fifo, 10).error, SmallFile::Error::kNotRegular);
}

TEST_F(SmallFileTest, UnreadableFileNamesTheReason) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  auto f = readSmallFile(write("locked", "x", 0), 10);
  EXPECT_EQ(f.error, SmallFile::Error::kUnreadable);
  EXPECT_EQ(f.why(), "cannot be read: Permission denied");
}

}  // namespace
}  // namespace finops
