// The builtin price table: controlplane/data/prices.yaml, embedded in the binary at build
// time. Custom prices in the store override it per provider/model.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "controlplane/store/store.h"

namespace finops::cp {

struct PriceTable {
  std::string asOf;
  std::vector<PriceRow> prices;  // source "builtin"
};

// Parses a price table in the prices.yaml format. Throws std::runtime_error naming the
// offending entry when the file is malformed.
PriceTable parsePriceTable(std::string_view yaml);

// The embedded table, parsed once.
const PriceTable& builtinPrices();

// builtin overridden by custom rows (same provider and model), sorted by provider, model.
std::vector<PriceRow> mergePrices(const std::vector<PriceRow>& builtin,
                                  const std::vector<PriceRow>& custom);

}  // namespace finops::cp
