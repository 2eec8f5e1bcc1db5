// Rendering command results: a table for people, JSON or YAML for scripts.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace finops::cli {

struct Column {
  std::string header;
  std::string field;  // top-level field of each row object
};

// Prints `value` (an object or an array of objects) as -o says. In table mode, `columns`
// picks the fields; an object is printed as one row.
void print(const nlohmann::ordered_json& value, const std::string& format,
           const std::vector<Column>& columns);

std::string toYaml(const nlohmann::ordered_json& value);

}  // namespace finops::cli
