// Prometheus metrics shared by the data plane and the control plane: counter, gauge and
// histogram families with labels, a registry that renders them in the Prometheus text
// exposition format 0.0.4, and helpers for collectors that compute series at scrape time.
//
// Thread-safety: every family may be updated from any number of threads at once, and
// Registry::render() may run at the same time. An update takes one short lock on its family;
// it allocates only the first time a label set is seen (the lookup key is built in a
// per-thread buffer that keeps its capacity).
//
// Ownership: a family registers itself with the Registry it is given and unregisters in its
// destructor; the Registry must outlive its families. Families are neither copyable nor movable.
//
// Cardinality: a family holds at most `maxSeries` label sets. Once full, an update with a new
// label set is recorded under the same first label value with every other label replaced by
// "_other" (so {provider="openai", model="x", key="k"} becomes {provider="openai",
// model="_other", key="_other"}); if that series would be new too and the family already holds
// maxSeries + kOverflowSlack series (or the family has a single label), every label becomes
// "_other". Each redirected update counts in finops_metrics_series_capped_total, which every
// Registry renders.
//
// Values: counters ignore negative, NaN and infinite increments (a counter never goes down);
// histograms ignore NaN observations. A call with fewer label values than label names pads
// with "", extra values are dropped.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace finops::metrics {

class Registry;

namespace detail {

struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// One label set's values. Counters and gauges use `value`; histograms use `value` as the sum,
// `buckets` (one per upper bound plus +Inf, not cumulative) and `count`.
struct Series {
  std::vector<std::string> labels;
  double value = 0;
  std::unique_ptr<uint64_t[]> buckets;
  uint64_t count = 0;
};

// What every family shares: the name, the series table, the cap. Not used directly.
class Family {
 public:
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;
  virtual ~Family();

  const std::string& name() const { return name_; }
  // Number of label sets held now.
  size_t seriesCount() const;
  // Appends HELP, TYPE and every series (sorted by label values).
  void render(std::string& out) const;

 protected:
  Family(Registry& registry, std::string name, std::string help, const char* type,
         std::vector<std::string> labelNames, std::vector<double> upperBounds, size_t maxSeries);

  // Finds (or creates, applying the cap) the series for `labelValues` and runs `f` on it
  // under the family's lock. Defined in metrics.cc (only used there).
  template <typename F>
  void update(std::initializer_list<std::string_view> labelValues, F&& f);

  // The bucket index of an observation (first bound >= v; bounds_.size() for +Inf).
  size_t bucketIndex(double v) const;

 private:
  Series& insertLocked(std::string_view key, std::initializer_list<std::string_view> labelValues);
  Series& createLocked(std::string key, std::vector<std::string> labels);
  void renderSeries(std::string& out, const Series& s) const;

  Registry& registry_;
  const std::string name_;
  const std::string help_;
  const char* const type_;
  const std::vector<std::string> labelNames_;
  const std::vector<double> bounds_;  // histograms: sorted, finite, distinct
  const size_t maxSeries_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Series, KeyHash, std::equal_to<>> series_;  // GUARDED_BY(mu_)
};

}  // namespace detail

// Series allowed beyond maxSeries for the per-first-label "_other" series.
inline constexpr size_t kOverflowSlack = 256;

// A counter with labels: values only go up.
class CounterFamily : public detail::Family {
 public:
  CounterFamily(Registry& r, std::string name, std::string help,
                std::vector<std::string> labelNames, size_t maxSeries = 10000);
  void add(std::initializer_list<std::string_view> labelValues, double v = 1);
};

// A gauge with labels: set or moved either way.
class GaugeFamily : public detail::Family {
 public:
  GaugeFamily(Registry& r, std::string name, std::string help, std::vector<std::string> labelNames,
              size_t maxSeries = 10000);
  void set(std::initializer_list<std::string_view> labelValues, double v);
  void add(std::initializer_list<std::string_view> labelValues, double v);
};

// A histogram with labels. `upperBounds` are the buckets' inclusive upper bounds (sorted and
// de-duplicated here; an infinite or NaN bound is dropped: the +Inf bucket is always there).
class HistogramFamily : public detail::Family {
 public:
  HistogramFamily(Registry& r, std::string name, std::string help,
                  std::vector<std::string> labelNames, std::vector<double> upperBounds,
                  size_t maxSeries = 10000);
  void observe(std::initializer_list<std::string_view> labelValues, double v);
};

// Bucket bounds in seconds for request latency and time to first token: 5 ms ... 120 s.
std::vector<double> latencyBuckets();

class Registry {
 public:
  Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  ~Registry();

  // Collectors write series computed at scrape time (gauges read from atomics, store
  // totals...), whole metrics with HELP and TYPE (see writeMetric). They run inside render(),
  // in registration order, under the registry's lock: they must not call into this Registry.
  void addCollector(std::function<void(std::string& out)> collect);

  // The whole exposition: families in registration order, then collectors (the first of which
  // is finops_metrics_series_capped_total). Each family: HELP, TYPE, then its series sorted by
  // label values (a family without labels shows its one series, 0 until updated; a labelled
  // family with no series yet shows HELP and TYPE only). Histograms: cumulative _bucket lines
  // (le="+Inf" last), then _sum and _count, per series.
  std::string render() const;

  // Updates redirected to an "_other" series by a family's cap, since start.
  uint64_t cappedTotal() const { return capped_.load(std::memory_order_relaxed); }

 private:
  friend class detail::Family;
  void add(detail::Family* f);
  void remove(detail::Family* f);
  void noteCapped() { capped_.fetch_add(1, std::memory_order_relaxed); }

  mutable std::mutex mu_;
  std::vector<detail::Family*> families_;                      // GUARDED_BY(mu_)
  std::vector<std::function<void(std::string&)>> collectors_;  // GUARDED_BY(mu_)
  std::atomic<uint64_t> capped_{0};
};

// For collectors: one whole metric with HELP and TYPE, without labels...
void writeMetric(std::string& out, std::string_view name, std::string_view type,
                 std::string_view help, double value);
// ... or with one label, one series per (label value, value) pair, in the order given.
void writeLabelled(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help, std::string_view label,
                   const std::vector<std::pair<std::string, double>>& values);

// A label value as it goes between the quotes: `\` -> `\\`, `"` -> `\"`, newline -> `\n`.
std::string escapeLabelValue(std::string_view);
// A sample value: an integer when it is one (below 2^53), else the shortest text that reads
// back as the same double; "NaN", "+Inf", "-Inf".
void appendValue(std::string& out, double v);

}  // namespace finops::metrics
