#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

namespace finops::metrics {

namespace {

// The lookup key of a label set: each value as a 4-byte length and its bytes, so that no two
// label sets share a key whatever bytes they hold.
// Missing values (fewer than n) are "", extra ones are left out.
void encodeKey(std::string& key, std::initializer_list<std::string_view> values, size_t n) {
  size_t size = 4 * n;
  size_t i = 0;
  for (std::string_view v : values) {
    if (i++ == n) break;
    size += v.size();
  }
  key.resize(size);  // no allocation once the buffer has grown to the family's usual size
  char* p = key.data();
  i = 0;
  for (std::string_view v : values) {
    if (i++ == n) break;
    uint32_t len = static_cast<uint32_t>(v.size());
    std::memcpy(p, &len, 4);
    if (!v.empty()) std::memcpy(p + 4, v.data(), v.size());
    p += 4 + v.size();
  }
  for (; i < n; ++i, p += 4) std::memset(p, 0, 4);
}

void encodeKey(std::string& key, const std::vector<std::string>& values) {
  key.clear();
  for (const auto& v : values) {
    uint32_t len = static_cast<uint32_t>(v.size());
    char b[4];
    std::memcpy(b, &len, 4);
    key.append(b, 4).append(v);
  }
}

// The per-thread buffer the hot path builds keys in (keeps its capacity between calls).
std::string& keyBuffer() {
  thread_local std::string buf;
  return buf;
}

// HELP text: `\` -> `\\`, newline -> `\n`.
void appendHelp(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

void appendHeader(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help) {
  out.append("# HELP ").append(name).append(" ");
  appendHelp(out, help);
  out.append("\n# TYPE ").append(name).append(" ").append(type).append("\n");
}

void appendEscaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

// `{a="x",b="y"` plus `extra` (e.g. `le="0.5"`), then `}`; nothing when there is no label.
void appendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view extraName = {},
                  std::string_view extraValue = {}) {
  if (names.empty() && extraName.empty()) return;
  out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out.append(names[i]).append("=\"");
    appendEscaped(out, values[i]);
    out += '"';
  }
  if (!extraName.empty()) {
    if (!names.empty()) out += ',';
    out.append(extraName).append("=\"").append(extraValue).append("\"");
  }
  out += '}';
}

void appendUnsigned(std::string& out, uint64_t v) {
  char b[24];
  auto r = std::to_chars(b, b + sizeof b, v);
  out.append(b, r.ptr);
}

std::vector<double> cleanBounds(std::vector<double> b) {
  std::erase_if(b, [](double x) { return !std::isfinite(x); });
  std::sort(b.begin(), b.end());
  b.erase(std::unique(b.begin(), b.end()), b.end());
  return b;
}

}  // namespace

void appendValue(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char b[32];
  std::to_chars_result r;
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0)
    r = std::to_chars(b, b + sizeof b, static_cast<int64_t>(v));
  else  // shortest round trip, printf %g style: 0.0001, 5e-05, 1e+20
    r = std::to_chars(b, b + sizeof b, v, std::chars_format::general);
  out.append(b, r.ptr);
}

std::string escapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  appendEscaped(out, v);
  return out;
}

void writeMetric(std::string& out, std::string_view name, std::string_view type,
                 std::string_view help, double value) {
  appendHeader(out, name, type, help);
  out.append(name).append(" ");
  appendValue(out, value);
  out += '\n';
}

void writeLabelled(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help, std::string_view label,
                   const std::vector<std::pair<std::string, double>>& values) {
  appendHeader(out, name, type, help);
  for (const auto& [labelValue, v] : values) {
    out.append(name).append("{").append(label).append("=\"");
    appendEscaped(out, labelValue);
    out.append("\"} ");
    appendValue(out, v);
    out += '\n';
  }
}

std::vector<double> latencyBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120};
}

// ---- Family ------------------------------------------------------------------------------

namespace detail {

Family::Family(Registry& registry, std::string name, std::string help, const char* type,
               std::vector<std::string> labelNames, std::vector<double> upperBounds,
               size_t maxSeries)
    : registry_(registry),
      name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      labelNames_(std::move(labelNames)),
      bounds_(cleanBounds(std::move(upperBounds))),
      maxSeries_(std::max<size_t>(maxSeries, 1)) {
  // A family without labels shows its single series (at zero) from the start.
  if (labelNames_.empty()) createLocked(std::string(), {});
  registry_.add(this);
}

Family::~Family() { registry_.remove(this); }

size_t Family::seriesCount() const {
  std::lock_guard lock(mu_);
  return series_.size();
}

Series& Family::createLocked(std::string key, std::vector<std::string> labels) {
  Series s;
  s.labels = std::move(labels);
  if (std::strcmp(type_, "histogram") == 0) {
    s.buckets = std::make_unique<uint64_t[]>(bounds_.size() + 1);  // zeroed
  }
  return series_.emplace(std::move(key), std::move(s)).first->second;
}

Series& Family::insertLocked(std::string_view key,
                             std::initializer_list<std::string_view> labelValues) {
  const size_t n = labelNames_.size();
  std::vector<std::string> labels;
  labels.reserve(n);
  for (std::string_view v : labelValues) {
    if (labels.size() == n) break;
    labels.emplace_back(v);
  }
  labels.resize(n);
  if (series_.size() < maxSeries_) return createLocked(std::string(key), std::move(labels));

  // Full: fold into the first label's "_other" series (or the all-"_other" one).
  registry_.noteCapped();
  std::string otherKey;
  if (n > 1) {
    for (size_t i = 1; i < n; ++i) labels[i] = "_other";
    encodeKey(otherKey, labels);
    auto it = series_.find(std::string_view(otherKey));
    if (it != series_.end()) return it->second;
  }
  if (n == 1 || series_.size() >= maxSeries_ + kOverflowSlack) {
    for (auto& l : labels) l = "_other";
    encodeKey(otherKey, labels);
    auto it = series_.find(std::string_view(otherKey));
    if (it != series_.end()) return it->second;
  }
  return createLocked(std::move(otherKey), std::move(labels));
}

template <typename F>
void Family::update(std::initializer_list<std::string_view> labelValues, F&& f) {
  std::string& key = keyBuffer();
  encodeKey(key, labelValues, labelNames_.size());
  std::lock_guard lock(mu_);
  auto it = series_.find(std::string_view(key));
  Series& s = it != series_.end() ? it->second : insertLocked(key, labelValues);
  f(s);
}

size_t Family::bucketIndex(double v) const {
  return static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
}

void Family::renderSeries(std::string& out, const Series& s) const {
  if (!s.buckets) {
    out += name_;
    appendLabels(out, labelNames_, s.labels);
    out += ' ';
    appendValue(out, s.value);
    out += '\n';
    return;
  }
  uint64_t cumulative = 0;
  std::string le;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += s.buckets[i];
    le.clear();
    if (i == bounds_.size())
      le = "+Inf";
    else
      appendValue(le, bounds_[i]);
    out.append(name_).append("_bucket");
    appendLabels(out, labelNames_, s.labels, "le", le);
    out += ' ';
    appendUnsigned(out, cumulative);
    out += '\n';
  }
  out.append(name_).append("_sum");
  appendLabels(out, labelNames_, s.labels);
  out += ' ';
  appendValue(out, s.value);
  out.append("\n").append(name_).append("_count");
  appendLabels(out, labelNames_, s.labels);
  out += ' ';
  appendUnsigned(out, s.count);
  out += '\n';
}

void Family::render(std::string& out) const {
  // Copy under the lock, format outside it: updates wait only for the copy.
  std::vector<Series> copy;
  {
    std::lock_guard lock(mu_);
    copy.reserve(series_.size());
    for (const auto& [k, s] : series_) {
      Series c;
      c.labels = s.labels;
      c.value = s.value;
      c.count = s.count;
      if (s.buckets) {
        c.buckets = std::make_unique<uint64_t[]>(bounds_.size() + 1);
        std::copy(s.buckets.get(), s.buckets.get() + bounds_.size() + 1, c.buckets.get());
      }
      copy.push_back(std::move(c));
    }
  }
  std::sort(copy.begin(), copy.end(),
            [](const Series& a, const Series& b) { return a.labels < b.labels; });
  appendHeader(out, name_, type_, help_);
  for (const auto& s : copy) renderSeries(out, s);
}

}  // namespace detail

// ---- families ----------------------------------------------------------------------------

CounterFamily::CounterFamily(Registry& r, std::string name, std::string help,
                             std::vector<std::string> labelNames, size_t maxSeries)
    : Family(r, std::move(name), std::move(help), "counter", std::move(labelNames), {}, maxSeries) {
}

void CounterFamily::add(std::initializer_list<std::string_view> labelValues, double v) {
  if (!(v >= 0) || std::isinf(v)) return;  // negative, NaN, infinite
  update(labelValues, [v](detail::Series& s) { s.value += v; });
}

GaugeFamily::GaugeFamily(Registry& r, std::string name, std::string help,
                         std::vector<std::string> labelNames, size_t maxSeries)
    : Family(r, std::move(name), std::move(help), "gauge", std::move(labelNames), {}, maxSeries) {}

void GaugeFamily::set(std::initializer_list<std::string_view> labelValues, double v) {
  update(labelValues, [v](detail::Series& s) { s.value = v; });
}

void GaugeFamily::add(std::initializer_list<std::string_view> labelValues, double v) {
  update(labelValues, [v](detail::Series& s) { s.value += v; });
}

HistogramFamily::HistogramFamily(Registry& r, std::string name, std::string help,
                                 std::vector<std::string> labelNames,
                                 std::vector<double> upperBounds, size_t maxSeries)
    : Family(r, std::move(name), std::move(help), "histogram", std::move(labelNames),
             std::move(upperBounds), maxSeries) {}

void HistogramFamily::observe(std::initializer_list<std::string_view> labelValues, double v) {
  if (std::isnan(v)) return;
  size_t i = bucketIndex(v);
  update(labelValues, [v, i](detail::Series& s) {
    ++s.buckets[i];
    s.value += v;
    ++s.count;
  });
}

// ---- Registry ----------------------------------------------------------------------------

Registry::Registry() {
  collectors_.push_back([this](std::string& out) {
    writeMetric(out, "finops_metrics_series_capped_total", "counter",
                "Updates recorded under an \"_other\" label set because their metric family "
                "already held its maximum number of label sets.",
                static_cast<double>(cappedTotal()));
  });
}

Registry::~Registry() = default;

void Registry::add(detail::Family* f) {
  std::lock_guard lock(mu_);
  families_.push_back(f);
}

void Registry::remove(detail::Family* f) {
  std::lock_guard lock(mu_);
  std::erase(families_, f);
}

void Registry::addCollector(std::function<void(std::string& out)> collect) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collect));
}

std::string Registry::render() const {
  std::string out;
  out.reserve(4096);
  std::lock_guard lock(mu_);
  for (const auto* f : families_) f->render(out);
  for (const auto& c : collectors_) c(out);
  return out;
}

}  // namespace finops::metrics
