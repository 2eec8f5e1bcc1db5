#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/process.h"
#include "tests/common/temp_dir.h"

namespace finops {
namespace {

class SmallFileTest : public finops::testing::TempDirTest {};

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
