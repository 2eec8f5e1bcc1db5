// Command-line arguments of one finopsctl command: positionals and declared flags.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "cli/connection.h"

namespace finops::cli {

class Args {
 public:
  // `valueFlags` take a value (--name V or --name=V) and may repeat; `boolFlags` do not. Flags
  // may also be one dash and one letter ("-f FILE"); any other word is a positional.
  Args(const std::vector<std::string>& argv, const std::set<std::string>& valueFlags,
       const std::set<std::string>& boolFlags);
  const std::vector<std::string>& positional() const { return positional_; }
  bool has(const std::string& flag) const { return values_.count(flag) || bools_.count(flag); }
  std::string value(const std::string& flag, const std::string& def = "") const;
  std::vector<std::string> values(const std::string& flag) const;
  // Exactly `n` positionals, else a usage error naming `what`.
  void expectPositional(size_t n, const std::string& what) const;

 private:
  std::vector<std::string> positional_;
  std::multimap<std::string, std::string> values_;
  std::set<std::string> bools_;
};

// Splits "a,b, c" into trimmed non-empty items.
std::vector<std::string> splitList(const std::string& s);

}  // namespace finops::cli
