#include "controlplane/pricing/builtin.h"

#include <yaml-cpp/yaml.h>

#include <map>
#include <stdexcept>

#include "common/money.h"

namespace finops::cp {

std::string_view builtinPricesYaml();  // generated (cmake/embed_text.cmake)

namespace {
int64_t dollars(const YAML::Node& n, const std::string& where) {
  if (!n.IsScalar()) throw std::runtime_error(where + ": expected a dollar amount");
  auto v = parseDollars(n.Scalar());
  if (!v) throw std::runtime_error(where + ": '" + n.Scalar() + "' is not a dollar amount");
  return *v;
}
}  // namespace

PriceTable parsePriceTable(std::string_view text) {
  YAML::Node root = YAML::Load(std::string(text));
  PriceTable t;
  if (root["as_of"]) t.asOf = root["as_of"].as<std::string>();
  YAML::Node providers = root["providers"];
  if (!providers || !providers.IsMap()) throw std::runtime_error("price table: no 'providers' map");
  for (const auto& p : providers) {
    std::string provider = p.first.as<std::string>();
    if (!p.second.IsMap()) throw std::runtime_error("price table: " + provider + " is not a map");
    for (const auto& m : p.second) {
      PriceRow r;
      r.provider = provider;
      r.model = m.first.as<std::string>();
      r.source = "builtin";
      std::string where = provider + "/" + r.model;
      if (!m.second.IsMap()) throw std::runtime_error(where + ": expected {input, output, ...}");
      if (!m.second["input"] || !m.second["output"])
        throw std::runtime_error(where + ": input and output prices are required");
      for (const auto& f : m.second) {
        std::string field = f.first.as<std::string>();
        int64_t v = dollars(f.second, where + "." + field);
        if (field == "input") r.input = v;
        else if (field == "output") r.output = v;
        else if (field == "cached_input") r.cachedInput = v;
        else if (field == "cache_write") r.cacheWrite = v;
        else if (field == "per_image") r.perImage = v;
        else if (field == "per_second") r.perSecond = v;
        else throw std::runtime_error(where + ": unknown field '" + field + "'");
      }
      t.prices.push_back(std::move(r));
    }
  }
  return t;
}

const PriceTable& builtinPrices() {
  static const PriceTable kTable = parsePriceTable(builtinPricesYaml());
  return kTable;
}

std::vector<PriceRow> mergePrices(const std::vector<PriceRow>& builtin,
                                  const std::vector<PriceRow>& custom) {
  std::map<std::pair<std::string, std::string>, PriceRow> all;
  for (const auto& p : builtin) all[{p.provider, p.model}] = p;
  for (const auto& p : custom) all[{p.provider, p.model}] = p;
  std::vector<PriceRow> out;
  out.reserve(all.size());
  for (auto& [k, v] : all) out.push_back(std::move(v));
  return out;
}

}  // namespace finops::cp
