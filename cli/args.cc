#include "cli/args.h"

namespace finops::cli {

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& valueFlags,
           const std::set<std::string>& boolFlags) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    // "--long" flags, and declared one-letter ones such as "-f". A lone "-" (standard input)
    // stays a positional.
    bool shortFlag = a.size() == 2 && a[0] == '-' && a[1] != '-';
    if ((a.size() > 2 && a.starts_with("--")) || shortFlag) {
      std::string name = a.substr(0, a.find('='));
      if (valueFlags.count(name)) {
        if (a.find('=') != std::string::npos) {
          values_.emplace(name, a.substr(a.find('=') + 1));
        } else {
          if (i + 1 >= argv.size()) throw CliError(kExitUsage, name + " needs a value");
          values_.emplace(name, argv[++i]);
        }
      } else if (boolFlags.count(name) && a.find('=') == std::string::npos) {
        bools_.insert(name);
      } else {
        throw CliError(kExitUsage, "unknown flag " + name);
      }
    } else {
      positional_.push_back(a);
    }
  }
}

std::string Args::value(const std::string& flag, const std::string& def) const {
  auto range = values_.equal_range(flag);
  std::string v = def;
  for (auto it = range.first; it != range.second; ++it) v = it->second;  // last wins
  return v;
}

std::vector<std::string> Args::values(const std::string& flag) const {
  std::vector<std::string> out;
  auto range = values_.equal_range(flag);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

void Args::expectPositional(size_t n, const std::string& what) const {
  if (positional_.size() != n) throw CliError(kExitUsage, "usage: " + what);
}

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    size_t b = cur.find_first_not_of(" \t"), e = cur.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
    cur.clear();
  };
  for (char c : s) {
    if (c == ',') flush();
    else cur.push_back(c);
  }
  flush();
  return out;
}

}  // namespace finops::cli
