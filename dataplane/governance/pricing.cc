#include "dataplane/governance/pricing.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace finops::dp {

void PriceTable::add(std::string_view provider, std::string_view model, const Price& price) {
  auto& models = prices_[std::string(provider)];
  if (models.insert_or_assign(std::string(model), price).second) ++size_;
}

namespace {
// "-2024-08-06" or "-20250929" at the end of a model id.
size_t dateSuffixStart(std::string_view m) {
  auto digits = [&](size_t from, size_t n) {
    if (from + n > m.size()) return false;
    for (size_t i = from; i < from + n; ++i)
      if (!std::isdigit(static_cast<unsigned char>(m[i]))) return false;
    return true;
  };
  if (m.size() > 11) {
    size_t s = m.size() - 11;
    if (m[s] == '-' && digits(s + 1, 4) && m[s + 5] == '-' && digits(s + 6, 2) && m[s + 8] == '-' &&
        digits(s + 9, 2))
      return s;
  }
  if (m.size() > 9) {
    size_t s = m.size() - 9;
    if (m[s] == '-' && digits(s + 1, 8)) return s;
  }
  return std::string_view::npos;
}
}  // namespace

const Price* PriceTable::find(std::string_view provider, std::string_view model) const {
  auto p = prices_.find(provider);
  if (p == prices_.end()) return nullptr;
  if (auto it = p->second.find(model); it != p->second.end()) return &it->second;
  if (size_t s = dateSuffixStart(model); s != std::string_view::npos)
    if (auto it = p->second.find(model.substr(0, s)); it != p->second.end()) return &it->second;
  return nullptr;
}

int64_t costNano(const Price& p, const Usage& u) {
  using i128 = __int128;
  int64_t cached = std::min(u.cachedTokens, u.promptTokens);
  int64_t writes = std::min(u.cacheWriteTokens, u.promptTokens - cached);
  int64_t plain = u.promptTokens - cached - writes;
  i128 sum = i128(plain) * p.input + i128(u.completionTokens) * p.output +
             i128(cached) * (p.hasCachedInput ? p.cachedInput : p.input) +
             i128(writes) * (p.hasCacheWrite ? p.cacheWrite : p.input);
  i128 cost = (sum + 500'000) / 1'000'000;  // per million tokens, rounded half up
  if (cost > INT64_MAX) return INT64_MAX;
  return static_cast<int64_t>(cost);
}

}  // namespace finops::dp
