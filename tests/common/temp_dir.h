// A test fixture with a fresh temporary directory (removed after the test) and a helper that
// writes a file in it with a given mode.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/crypto.h"

namespace finops::testing {

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("finops-test-" + randomId(""));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // Writes `content` to `name` in the directory, then sets its mode; returns the path.
  std::string write(const std::string& name, const std::string& content, mode_t mode = 0600) {
    std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << content;
    ::chmod(p.c_str(), mode);
    return p;
  }
  std::filesystem::path dir_;
};

}  // namespace finops::testing
