#include "common/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace finops::metrics {
namespace {

const std::string kCappedZero =
    "# HELP finops_metrics_series_capped_total Updates recorded under an \"_other\" label set "
    "because their metric family already held its maximum number of label sets.\n"
    "# TYPE finops_metrics_series_capped_total counter\n"
    "finops_metrics_series_capped_total 0\n";

// The lines of `text` that start with `prefix`, joined with newlines.
std::string linesStartingWith(const std::string& text, const std::string& prefix) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    if (line.rfind(prefix, 0) == 0) out += line + "\n";
    pos = end + 1;
  }
  return out;
}

TEST(Metrics, CounterRendersSortedSeriesWithHelpAndType) {
  Registry r;
  CounterFamily c(r, "finops_requests_total", "Requests handled.", {"provider", "model", "status"});
  c.add({"openai", "openai/gpt-4o-mini", "200"});
  c.add({"anthropic", "anthropic/claude", "200"}, 2);
  c.add({"openai", "openai/gpt-4o-mini", "200"});
  c.add({"openai", "openai/gpt-4o-mini", "429"});
  EXPECT_EQ(
      r.render(),
      "# HELP finops_requests_total Requests handled.\n"
      "# TYPE finops_requests_total counter\n"
      "finops_requests_total{provider=\"anthropic\",model=\"anthropic/claude\",status=\"200\"} 2\n"
      "finops_requests_total{provider=\"openai\",model=\"openai/gpt-4o-mini\",status=\"200\"} 2\n"
      "finops_requests_total{provider=\"openai\",model=\"openai/gpt-4o-mini\",status=\"429\"} 1\n" +
          kCappedZero);
}

TEST(Metrics, UnlabelledFamilyShowsZeroFromTheStart) {
  Registry r;
  CounterFamily c(r, "finops_x_total", "X.", {});
  GaugeFamily g(r, "finops_y", "Y.", {});
  std::string out = r.render();
  EXPECT_NE(out.find("\nfinops_x_total 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\nfinops_y 0\n"), std::string::npos) << out;
  c.add({});
  c.add({}, 2.5);
  g.set({}, -3);
  out = r.render();
  EXPECT_NE(out.find("\nfinops_x_total 3.5\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\nfinops_y -3\n"), std::string::npos) << out;
}

TEST(Metrics, LabelledFamilyWithoutSeriesRendersHeaderOnly) {
  Registry r;
  CounterFamily c(r, "finops_a_total", "A.", {"k"});
  EXPECT_EQ(r.render(), "# HELP finops_a_total A.\n# TYPE finops_a_total counter\n" + kCappedZero);
}

TEST(Metrics, FloatValuesUseShortestRoundTrip) {
  Registry r;
  CounterFamily c(r, "finops_cost_dollars_total", "Cost.", {"provider"});
  c.add({"openai"}, 0.1);
  c.add({"openai"}, 0.2);  // 0.30000000000000004
  c.add({"gemini"}, 0.000125);
  c.add({"x"}, 1e20);
  std::string out = linesStartingWith(r.render(), "finops_cost_dollars_total{");
  EXPECT_EQ(out,
            "finops_cost_dollars_total{provider=\"gemini\"} 0.000125\n"
            "finops_cost_dollars_total{provider=\"openai\"} 0.30000000000000004\n"
            "finops_cost_dollars_total{provider=\"x\"} 1e+20\n");
}

TEST(Metrics, AppendValueSpecials) {
  auto v = [](double d) {
    std::string s;
    appendValue(s, d);
    return s;
  };
  EXPECT_EQ(v(0), "0");
  EXPECT_EQ(v(-0.0), "0");
  EXPECT_EQ(v(42), "42");
  EXPECT_EQ(v(-7), "-7");
  EXPECT_EQ(v(9007199254740991.0), "9007199254740991");
  EXPECT_EQ(v(1.5), "1.5");
  EXPECT_EQ(v(0.0001), "0.0001");
  EXPECT_EQ(v(0.00005), "5e-05");
  EXPECT_EQ(v(1e20), "1e+20");
  EXPECT_EQ(v(1234.5), "1234.5");
  EXPECT_EQ(v(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(v(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(v(-std::numeric_limits<double>::infinity()), "-Inf");
  // Reads back as the same double.
  double x = 0.1 + 0.7;
  EXPECT_EQ(std::stod(v(x)), x);
}

TEST(Metrics, CounterIgnoresNegativeAndNonFiniteIncrements) {
  Registry r;
  CounterFamily c(r, "finops_c_total", "C.", {});
  c.add({}, 5);
  c.add({}, -1);
  c.add({}, std::numeric_limits<double>::quiet_NaN());
  c.add({}, std::numeric_limits<double>::infinity());
  EXPECT_EQ(linesStartingWith(r.render(), "finops_c_total "), "finops_c_total 5\n");
}

TEST(Metrics, GaugeSetAndAdd) {
  Registry r;
  GaugeFamily g(r, "finops_g", "G.", {"node"});
  g.set({"a"}, 10);
  g.add({"a"}, -2.5);
  g.add({"b"}, 1);
  EXPECT_EQ(r.render(),
            "# HELP finops_g G.\n# TYPE finops_g gauge\n"
            "finops_g{node=\"a\"} 7.5\nfinops_g{node=\"b\"} 1\n" +
                kCappedZero);
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escapeLabelValue("plain"), "plain");
  EXPECT_EQ(escapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escapeLabelValue("tab\there"), "tab\there");  // only \, " and newline
  Registry r;
  CounterFamily c(r, "finops_e_total", "Line one\nback\\slash \"quotes\" stay.", {"model"});
  c.add({"we\"ird\\mo\ndel"});
  EXPECT_EQ(r.render(),
            "# HELP finops_e_total Line one\\nback\\\\slash \"quotes\" stay.\n"
            "# TYPE finops_e_total counter\n"
            "finops_e_total{model=\"we\\\"ird\\\\mo\\ndel\"} 1\n" +
                kCappedZero);
}

TEST(Metrics, LabelSetsWithSeparatorLikeBytesStayDistinct) {
  Registry r;
  CounterFamily c(r, "finops_k_total", "K.", {"a", "b"});
  c.add({std::string_view("x\0", 2), ""});
  c.add({"x", std::string_view("\0", 1)});
  c.add({"x", ""});
  EXPECT_EQ(c.seriesCount(), 3u);
}

TEST(Metrics, MissingLabelValuesArePaddedExtraDropped) {
  Registry r;
  CounterFamily c(r, "finops_p_total", "P.", {"a", "b"});
  c.add({"x"});
  c.add({"x", ""});
  c.add({"x", "", "ignored"});
  EXPECT_EQ(linesStartingWith(r.render(), "finops_p_total{"), "finops_p_total{a=\"x\",b=\"\"} 3\n");
}

TEST(Metrics, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry r;
  HistogramFamily h(r, "finops_request_duration_seconds", "Latency.", {"provider"},
                    {1, 0.1, 0.5, 0.5, std::numeric_limits<double>::infinity()});
  h.observe({"openai"}, 0.05);
  h.observe({"openai"}, 0.1);  // on the bound: counted in le="0.1"
  h.observe({"openai"}, 0.3);
  h.observe({"openai"}, 7);                                         // +Inf only
  h.observe({"openai"}, std::numeric_limits<double>::quiet_NaN());  // ignored
  EXPECT_EQ(r.render(),
            "# HELP finops_request_duration_seconds Latency.\n"
            "# TYPE finops_request_duration_seconds histogram\n"
            "finops_request_duration_seconds_bucket{provider=\"openai\",le=\"0.1\"} 2\n"
            "finops_request_duration_seconds_bucket{provider=\"openai\",le=\"0.5\"} 3\n"
            "finops_request_duration_seconds_bucket{provider=\"openai\",le=\"1\"} 3\n"
            "finops_request_duration_seconds_bucket{provider=\"openai\",le=\"+Inf\"} 4\n"
            "finops_request_duration_seconds_sum{provider=\"openai\"} 7.45\n"
            "finops_request_duration_seconds_count{provider=\"openai\"} 4\n" +
                kCappedZero);
}

TEST(Metrics, UnlabelledHistogram) {
  Registry r;
  HistogramFamily h(r, "finops_gateway_overhead_seconds", "Overhead.", {}, {0.001, 0.01});
  h.observe({}, 0.002);
  EXPECT_EQ(linesStartingWith(r.render(), "finops_gateway_overhead_seconds_"),
            "finops_gateway_overhead_seconds_bucket{le=\"0.001\"} 0\n"
            "finops_gateway_overhead_seconds_bucket{le=\"0.01\"} 1\n"
            "finops_gateway_overhead_seconds_bucket{le=\"+Inf\"} 1\n"
            "finops_gateway_overhead_seconds_sum 0.002\n"
            "finops_gateway_overhead_seconds_count 1\n");
}

TEST(Metrics, LatencyBucketsSpan5msTo120s) {
  auto b = latencyBuckets();
  ASSERT_FALSE(b.empty());
  EXPECT_DOUBLE_EQ(b.front(), 0.005);
  EXPECT_DOUBLE_EQ(b.back(), 120);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
}

TEST(Metrics, CapFoldsNewLabelSetsIntoOtherKeepingTheFirstLabel) {
  Registry r;
  CounterFamily c(r, "finops_requests_total", "R.", {"provider", "model", "key"}, 2);
  c.add({"openai", "m1", "k"});
  c.add({"openai", "m2", "k"});
  // Full: new label sets go to {provider, _other, _other}.
  c.add({"openai", "m3", "k"});
  c.add({"openai", "m4", "k2"}, 2);
  c.add({"gemini", "m5", "k"});
  // Existing label sets still count on their own.
  c.add({"openai", "m1", "k"});
  EXPECT_EQ(linesStartingWith(r.render(), "finops_requests_total{"),
            "finops_requests_total{provider=\"gemini\",model=\"_other\",key=\"_other\"} 1\n"
            "finops_requests_total{provider=\"openai\",model=\"_other\",key=\"_other\"} 3\n"
            "finops_requests_total{provider=\"openai\",model=\"m1\",key=\"k\"} 2\n"
            "finops_requests_total{provider=\"openai\",model=\"m2\",key=\"k\"} 1\n");
  EXPECT_EQ(r.cappedTotal(), 3u);
  EXPECT_NE(r.render().find("\nfinops_metrics_series_capped_total 3\n"), std::string::npos);
}

TEST(Metrics, CapIsBoundedEvenWhenTheFirstLabelVaries) {
  Registry r;
  CounterFamily c(r, "finops_f_total", "F.", {"provider", "model"}, 10);
  for (int i = 0; i < 5000; ++i) c.add({"p" + std::to_string(i), "m"});
  // maxSeries real ones, up to kOverflowSlack per-provider "_other" ones, then one for all.
  EXPECT_LE(c.seriesCount(), 10 + kOverflowSlack + 1);
  EXPECT_NE(r.render().find("finops_f_total{provider=\"_other\",model=\"_other\"} "),
            std::string::npos);
  EXPECT_EQ(r.cappedTotal(), 4990u);
}

TEST(Metrics, CapWithOneLabelUsesOther) {
  Registry r;
  HistogramFamily h(r, "finops_h", "H.", {"model"}, {1}, 1);
  h.observe({"a"}, 0.5);
  h.observe({"b"}, 0.5);
  h.observe({"c"}, 2);
  EXPECT_EQ(linesStartingWith(r.render(), "finops_h_count"),
            "finops_h_count{model=\"_other\"} 2\nfinops_h_count{model=\"a\"} 1\n");
}

TEST(Metrics, ConcurrentUpdatesFromFourThreadsSumCorrectly) {
  Registry r;
  CounterFamily c(r, "finops_t_total", "T.", {"provider", "model"});
  HistogramFamily h(r, "finops_t_seconds", "T.", {"provider"}, latencyBuckets());
  GaugeFamily g(r, "finops_t_g", "T.", {});
  constexpr int kThreads = 4, kIters = 50000;
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      std::string model = "m" + std::to_string(t % 2);
      for (int i = 0; i < kIters; ++i) {
        c.add({"openai", model});
        h.observe({"openai"}, 0.02);
        g.add({}, 1);
        if (i % 1000 == 0) (void)r.render();  // scrapes meanwhile
      }
    });
  }
  go = true;
  for (auto& th : threads) th.join();
  std::string out = r.render();
  EXPECT_NE(out.find("finops_t_total{provider=\"openai\",model=\"m0\"} 100000\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("finops_t_total{provider=\"openai\",model=\"m1\"} 100000\n"),
            std::string::npos);
  EXPECT_NE(out.find("finops_t_seconds_count{provider=\"openai\"} 200000\n"), std::string::npos);
  EXPECT_NE(out.find("finops_t_seconds_bucket{provider=\"openai\",le=\"0.01\"} 0\n"),
            std::string::npos);
  EXPECT_NE(out.find("finops_t_seconds_bucket{provider=\"openai\",le=\"0.025\"} 200000\n"),
            std::string::npos);
  EXPECT_NE(out.find("\nfinops_t_g 200000\n"), std::string::npos);
}

TEST(Metrics, RegistryOrderFamiliesThenCollectors) {
  Registry r;
  GaugeFamily b(r, "finops_b", "B.", {});
  CounterFamily a(r, "finops_a_total", "A.", {});
  r.addCollector([](std::string& out) {
    writeMetric(out, "finops_config_version", "gauge", "Version.", 42);
    writeLabelled(out, "finops_log_records_deleted_total", "counter", "Deleted.", "reason",
                  {{"age", 3}, {"size", 0}});
  });
  EXPECT_EQ(r.render(),
            "# HELP finops_b B.\n# TYPE finops_b gauge\nfinops_b 0\n"
            "# HELP finops_a_total A.\n# TYPE finops_a_total counter\nfinops_a_total 0\n" +
                kCappedZero +
                "# HELP finops_config_version Version.\n# TYPE finops_config_version gauge\n"
                "finops_config_version 42\n"
                "# HELP finops_log_records_deleted_total Deleted.\n"
                "# TYPE finops_log_records_deleted_total counter\n"
                "finops_log_records_deleted_total{reason=\"age\"} 3\n"
                "finops_log_records_deleted_total{reason=\"size\"} 0\n");
}

TEST(Metrics, DestroyedFamilyLeavesTheRegistry) {
  Registry r;
  {
    CounterFamily c(r, "finops_gone_total", "Gone.", {});
    EXPECT_NE(r.render().find("finops_gone_total"), std::string::npos);
  }
  EXPECT_EQ(r.render(), kCappedZero);
}

}  // namespace
}  // namespace finops::metrics
