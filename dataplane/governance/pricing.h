// Prices per provider/model and the cost of a request, in integer nano-dollars.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "dataplane/governance/usage.h"

namespace finops::dp {

// Nano-dollars per million tokens (input, output, cachedInput, cacheWrite); per image and
// per second in nano-dollars. A missing cached or cache-write price means those tokens are
// charged at the input price.
struct Price {
  int64_t input = 0;
  int64_t output = 0;
  int64_t cachedInput = 0;
  int64_t cacheWrite = 0;
  int64_t perImage = 0;
  int64_t perSecond = 0;
  bool hasCachedInput = false;
  bool hasCacheWrite = false;
};

class PriceTable {
 public:
  void add(std::string_view provider, std::string_view model, const Price& price);

  // The price of provider/model: an exact entry, else the entry for the model without a
  // date suffix ("gpt-4o-2024-08-06" -> "gpt-4o", "claude-x-20250929" -> "claude-x").
  // nullptr when neither is known.
  const Price* find(std::string_view provider, std::string_view model) const;

  size_t size() const { return size_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <typename V>
  using Map = std::unordered_map<std::string, V, Hash, std::equal_to<>>;
  // provider -> model -> price: looked up by string_view, no allocation per request.
  Map<Map<Price>> prices_;
  size_t size_ = 0;
};

// Cost of `usage` at `price`, rounded to the nearest nano-dollar. Exact: the sum of token
// counts times per-million prices is computed in 128 bits and divided once.
int64_t costNano(const Price& price, const Usage& usage);

}  // namespace finops::dp
