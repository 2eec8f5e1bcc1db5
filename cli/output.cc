#include "cli/output.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iostream>

namespace finops::cli {
namespace {

void emit(YAML::Emitter& out, const nlohmann::ordered_json& v) {
  if (v.is_object()) {
    out << YAML::BeginMap;
    for (auto it = v.begin(); it != v.end(); ++it) {
      out << YAML::Key << it.key() << YAML::Value;
      emit(out, it.value());
    }
    out << YAML::EndMap;
  } else if (v.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& e : v) emit(out, e);
    out << YAML::EndSeq;
  } else if (v.is_string()) {
    out << YAML::DoubleQuoted << v.get<std::string>();
  } else if (v.is_null()) {
    out << YAML::Null;
  } else {
    out << v.dump();
  }
}

std::string cell(const nlohmann::ordered_json& row, const std::string& field) {
  auto it = row.find(field);
  if (it == row.end() || it->is_null()) return "-";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {
    std::string s;
    for (const auto& e : *it) {
      if (!s.empty()) s += ",";
      s += e.is_string() ? e.get<std::string>() : e.dump();
    }
    return s.empty() ? "-" : s;
  }
  return it->dump();
}

}  // namespace

std::string toYaml(const nlohmann::ordered_json& value) {
  YAML::Emitter out;
  emit(out, value);
  return std::string(out.c_str()) + "\n";
}

void print(const nlohmann::ordered_json& value, const std::string& format,
           const std::vector<Column>& columns) {
  if (format == "json") {
    std::cout << value.dump(2) << "\n";
    return;
  }
  if (format == "yaml") {
    std::cout << toYaml(value);
    return;
  }
  std::vector<nlohmann::ordered_json> rows;
  if (value.is_array()) rows.assign(value.begin(), value.end());
  else rows.push_back(value);
  std::vector<size_t> widths;
  for (const auto& c : columns) widths.push_back(c.header.size());
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : rows) {
    std::vector<std::string> line;
    for (size_t i = 0; i < columns.size(); ++i) {
      line.push_back(cell(r, columns[i].field));
      widths[i] = std::max(widths[i], line.back().size());
    }
    cells.push_back(std::move(line));
  }
  auto printLine = [&](const std::vector<std::string>& line) {
    std::string s;
    for (size_t i = 0; i < line.size(); ++i) {
      s += line[i];
      if (i + 1 < line.size()) s += std::string(widths[i] - line[i].size() + 2, ' ');
    }
    std::cout << s << "\n";
  };
  std::vector<std::string> headers;
  for (const auto& c : columns) headers.push_back(c.header);
  printLine(headers);
  for (const auto& l : cells) printLine(l);
}

}  // namespace finops::cli
