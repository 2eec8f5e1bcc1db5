// Micro-benchmark of the metrics hot path (common/metrics.h): the cost of one
// CounterFamily::add and one HistogramFamily::observe on a label set that already exists, as the
// data plane does per request, from 1 and 2 threads updating the same series (the worst case:
// both threads take the same family locks).
//
//   finops-metrics-bench [ITERATIONS per thread, default 2000000]
//
// Prints one line per thread count: ns per add+observe pair as each thread sees it (wall time,
// and the thread's own CPU time, which stays meaningful on a busy machine), and the pairs per
// second of all threads together.
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"

namespace {

using finops::metrics::CounterFamily;
using finops::metrics::HistogramFamily;
using finops::metrics::Registry;

struct Result {
  double nsPerPair;     // wall time of one thread's loop / iterations
  double cpuNsPerPair;  // CPU time of one thread's loop / iterations
  double pairsPerSec;   // all threads together
};

double threadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

Result run(int threads, long iterations) {
  Registry registry;
  CounterFamily requests(registry, "finops_requests_total", "Requests.",
                         {"provider", "model", "key", "status"});
  HistogramFamily duration(registry, "finops_request_duration_seconds", "Latency.",
                           {"provider", "model"}, finops::metrics::latencyBuckets());
  // A realistic table: the measured series among 1,000 others.
  for (int i = 0; i < 1000; ++i) {
    std::string m = "openai/model-" + std::to_string(i);
    requests.add({"openai", m, "team-key", "200"});
    duration.observe({"openai", m}, 0.1);
  }
  const std::string provider = "openai", model = "openai/gpt-4o-mini", key = "team-key";
  requests.add({provider, model, key, "200"});
  duration.observe({provider, model}, 0.1);

  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<double> ns(threads), cpuNs(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ++ready;
      while (!go.load(std::memory_order_acquire)) {
      }
      double cpuStart = threadCpuNs();
      auto start = std::chrono::steady_clock::now();
      for (long i = 0; i < iterations; ++i) {
        requests.add({provider, model, key, "200"});
        duration.observe({provider, model}, 0.0123);
      }
      auto end = std::chrono::steady_clock::now();
      ns[t] = std::chrono::duration<double, std::nano>(end - start).count();
      cpuNs[t] = threadCpuNs() - cpuStart;
    });
  }
  while (ready.load() < threads) std::this_thread::yield();
  auto start = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  for (auto& th : pool) th.join();
  double wallNs =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  double sum = 0, cpuSum = 0;
  for (int t = 0; t < threads; ++t) {
    sum += ns[t];
    cpuSum += cpuNs[t];
  }
  double perThread = static_cast<double>(iterations) * threads;
  return {sum / perThread, cpuSum / perThread,
          static_cast<double>(iterations) * threads / (wallNs / 1e9)};
}

}  // namespace

int main(int argc, char** argv) {
  long iterations = argc > 1 ? std::atol(argv[1]) : 2'000'000;
  if (iterations <= 0) {
    std::fprintf(stderr, "usage: finops-metrics-bench [ITERATIONS per thread > 0]\n");
    return 2;
  }
  run(1, iterations / 10);  // warm-up
  for (int threads : {1, 2}) {
    Result r = run(threads, iterations);
    std::printf(
        "threads=%d  add+observe: %.1f ns wall, %.1f ns CPU per pair per thread; %.2f M pairs/s "
        "in all\n",
        threads, r.nsPerPair, r.cpuNsPerPair, r.pairsPerSec / 1e6);
  }
  return 0;
}
