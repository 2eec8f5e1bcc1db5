// The request-log store at scale: builds a database of N realistic records through
// LogStore::insert (batches of 1000, as the Ship RPC stores them), then times the queries the
// /logs page and `finopsctl logs` make. Plain output, one figure a line.
//
//   log_store_bench [--records N] [--runs N] [--db PATH] [--plans]
//
// --records: records to insert (default 1000000). --runs: timed runs per query (default 20,
// after one untimed run). --db: build (or, when it already holds records, reuse) this database
// and keep it; default: a temporary directory, removed at the end. --plans: print SQLite's
// query plan of each list query too. docs/observability.md has the figures of a run.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "controlplane/store/log_store.h"
#include "controlplane/store/store.h"

namespace {
using finops::cp::LogStore;
using finops::cp::Store;
namespace v1 = finops::v1;
using Clock = std::chrono::steady_clock;

// ~300 everyday words; drawn with a Zipf-like law, so the first ones are in most records.
// clang-format off
const char* const kWords[] = {
    "the", "to", "and", "a", "of", "is", "in", "you", "that", "it", "for", "this", "with", "on",
    "can", "be", "are", "as", "your", "please", "what", "how", "i", "we", "an", "if", "or", "my",
    "have", "from", "will", "do", "not", "at", "by", "me", "use", "all", "which", "would", "there",
    "here", "about", "should", "more", "one", "when", "also", "like", "need", "data", "function",
    "write", "explain", "code", "example", "file", "error", "list", "table", "value", "return",
    "python", "query", "user", "customer", "order", "summary", "report", "email", "draft",
    "meeting", "project", "team", "budget", "invoice", "price", "model", "request", "response",
    "test", "build", "deploy", "server", "client", "api", "key", "token", "json", "field",
    "string", "number", "date", "time", "week", "month", "year", "today", "tomorrow", "plan",
    "sales", "revenue", "growth", "market", "product", "feature", "release", "bug", "issue",
    "ticket", "support", "account", "password", "login", "page", "button", "color", "purple",
    "green", "blue", "red", "image", "picture", "photo", "video", "audio", "music", "song",
    "story", "poem", "book", "chapter", "title", "translate", "french", "german", "spanish",
    "english", "japanese", "language", "grammar", "sentence", "word", "paragraph", "essay",
    "article", "blog", "post", "tweet", "message", "reply", "thanks", "hello", "hi", "sorry",
    "great", "good", "better", "best", "simple", "quick", "short", "long", "detailed", "step",
    "steps", "guide", "tutorial", "recipe", "cook", "dinner", "lunch", "breakfast", "travel",
    "trip", "flight", "hotel", "city", "paris", "london", "tokyo", "berlin", "weather", "rain",
    "sun", "snow", "health", "doctor", "exercise", "sleep", "diet", "animal", "dog", "cat",
    "bird", "elephant", "lion", "tiger", "horse", "garden", "tree", "flower", "house", "room",
    "kitchen", "car", "bike", "train", "bus", "road", "map", "route", "address", "phone", "call",
    "schedule", "calendar", "event", "party", "birthday", "gift", "shopping", "store", "cart",
    "checkout", "payment", "refund", "shipping", "delivery", "package", "warehouse", "stock",
    "inventory", "supplier", "contract", "legal", "policy", "privacy", "security", "risk",
    "compliance", "audit", "review", "feedback", "survey", "score", "rating", "analysis",
    "chart", "graph", "trend", "forecast", "estimate", "average", "total", "percent", "sum",
    "count", "sort", "filter", "search", "index", "database", "cache", "memory", "disk",
    "network", "latency", "throughput", "scale", "cluster", "container", "kubernetes", "docker",
    "linux", "windows", "browser", "mobile", "android", "iphone", "app", "design", "layout",
    "font", "logo", "brand", "campaign", "marketing", "newsletter", "launch", "roadmap",
    "quarter", "goal", "metric", "dashboard", "alert", "incident", "outage", "backup", "restore"};
// clang-format on
constexpr int kWordCount = sizeof(kWords) / sizeof(kWords[0]);

const char* const kProviders[] = {"openai", "anthropic", "gemini", "vertex", "mistral"};
const char* const kModelNames[5][6] = {
    {"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o3-mini", "gpt-3.5-turbo"},
    {"claude-sonnet-4", "claude-3-5-haiku", "claude-opus-4", "claude-3-7-sonnet",
     "claude-3-5-sonnet", "claude-3-haiku"},
    {"gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.0-flash", "gemini-1.5-pro", "gemini-1.5-flash",
     "gemini-2.0-flash-lite"},
    {"gemini-2.5-pro", "gemini-2.5-flash", "claude-sonnet-4", "gemini-2.0-flash", "llama-3.1-405b",
     "mistral-large"},
    {"mistral-large", "mistral-small", "codestral", "pixtral-large", "ministral-8b",
     "open-mistral-nemo"}};

struct Gen {
  std::mt19937_64 rng{42};
  std::vector<double> zipf;  // cumulative weights of kWords
  Gen() {
    double sum = 0;
    for (int i = 0; i < kWordCount; ++i) zipf.push_back(sum += 1.0 / (i + 1));
  }
  double uniform() { return std::uniform_real_distribution<double>(0, 1)(rng); }
  int below(int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); }
  // Skewed towards small values: a few keys and models carry most traffic.
  int skewed(int n) { return std::min(n - 1, static_cast<int>(n * uniform() * uniform())); }
  const char* word() {
    double x = uniform() * zipf.back();
    return kWords[std::lower_bound(zipf.begin(), zipf.end(), x) - zipf.begin()];
  }
  std::string text(int minWords, int maxWords) {
    std::string out;
    int n = minWords + below(maxWords - minWords + 1);
    for (int i = 0; i < n; ++i) {
      if (i) out += ' ';
      // Rare content to search for: one record in 50,000 names zanzibar, one in 10,000 has
      // the phrase "purple elephant" (both words are common on their own).
      double r = uniform();
      if (r < 1.0 / 50'000 / 40) {
        out += "zanzibar";
      } else if (r < 1.0 / 10'000 / 40) {
        out += "purple elephant";
      } else {
        out += word();
      }
    }
    return out;
  }
};

struct Owners {
  std::vector<std::string> keyIds, keyNames, teamIds, teamNames, customerIds, customerNames;
  std::vector<int> teamOfKey, customerOfTeam;
};

Owners makeOwners(Store& store) {
  Owners o;
  for (int c = 0; c < 5; ++c) {
    auto row = store.createCustomer("customer-" + std::to_string(c));
    o.customerIds.push_back(row.id);
    o.customerNames.push_back(row.name);
  }
  for (int t = 0; t < 20; ++t) {
    auto row = store.createTeam("team-" + std::to_string(t), o.customerIds[t % 5]);
    o.teamIds.push_back(row.id);
    o.teamNames.push_back(row.name);
    o.customerOfTeam.push_back(t % 5);
  }
  for (int k = 0; k < 200; ++k) {
    finops::cp::KeySpec spec;
    spec.name = "key-" + std::to_string(k);
    // team-19 has only the quietest key, key-199 (a rare filter).
    int team = k == 199 ? 19 : k % 19;
    spec.team = o.teamIds[team];
    auto [row, secret] = store.createKey(spec);
    o.keyIds.push_back(row.id);
    o.keyNames.push_back(row.name);
    o.teamOfKey.push_back(team);
  }
  return o;
}

v1::LogRecord makeRecord(Gen& g, const Owners& o, int64_t i, int64_t tsMs) {
  v1::LogRecord r;
  char rid[32];
  std::snprintf(rid, sizeof rid, "req_%016llx", static_cast<unsigned long long>(i) * 2654435761ULL);
  r.set_request_id(rid);
  r.set_ts_ms(tsMs);
  r.set_node("dp-" + std::to_string(g.below(3)));
  int k = g.skewed(200);
  int t = o.teamOfKey[k];
  int c = o.customerOfTeam[t];
  r.set_key_id(o.keyIds[k]);
  r.set_key_name(o.keyNames[k]);
  r.set_team_id(o.teamIds[t]);
  r.set_team_name(o.teamNames[t]);
  r.set_customer_id(o.customerIds[c]);
  r.set_customer_name(o.customerNames[c]);
  r.set_method("POST");
  int p = g.skewed(5);
  int m = g.skewed(6);
  r.set_provider(kProviders[p]);
  r.set_model(std::string(kProviders[p]) + "/" + kModelNames[p][m]);
  r.set_route(p == 1 ? "/v1/messages" : "/v1/chat/completions");
  r.set_dialect(p == 1 ? "anthropic" : "client");
  double s = g.uniform();
  int status = s < 0.93 ? 200 : s < 0.96 ? 429 : s < 0.98 ? 400 : s < 0.99 ? 500 : 502;
  r.set_status(status);
  if (status == 429) r.set_error_type("rate_limit_exceeded");
  if (status == 400) r.set_error_type("invalid_request_error");
  if (status >= 500) r.set_error_type("upstream_error");
  r.set_streamed(g.uniform() < 0.4);
  r.set_latency_us(200'000 + g.below(3'000'000));
  if (r.streamed()) r.set_ttft_us(100'000 + g.below(400'000));
  r.set_overhead_us(100 + g.below(400));
  if (status == 200) {
    r.set_prompt_tokens(50 + g.below(2000));
    r.set_completion_tokens(10 + g.below(800));
    r.set_cached_tokens(g.uniform() < 0.2 ? g.below(1000) : 0);
    r.set_cost_nano(r.prompt_tokens() * 150 + r.completion_tokens() * 600);
  }
  if (g.uniform() < 0.8) {
    r.set_content_logged(true);
    r.set_request_content("{\"model\":\"" + std::string(kModelNames[p][m]) +
                          "\",\"messages\":[{\"role\":\"system\",\"content\":\"" + g.text(5, 15) +
                          "\"},{\"role\":\"user\",\"content\":\"" + g.text(15, 60) + "\"}]}");
    r.set_response_content(status == 200 ? g.text(20, 80)
                                         : "{\"error\":{\"message\":\"" + g.text(4, 10) + "\"}}");
  }
  return r;
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// CPU time of the calling thread (user + system), in ms: insert figures that a busy machine
// does not distort.
double threadCpuMs() {
  struct rusage ru {};
  ::getrusage(RUSAGE_THREAD, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

int64_t fileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

struct Figures {
  double median, p95;
};

Figures timeIt(int runs, const std::function<void()>& f) {
  f();  // warm
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    f();
    t.push_back(ms(Clock::now() - start));
  }
  std::sort(t.begin(), t.end());
  size_t p95 = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(t.size()))) - 1;
  return {t[t.size() / 2], t[std::min(p95, t.size() - 1)]};
}

google::protobuf::Timestamp tsOf(int64_t msSinceEpoch) {
  google::protobuf::Timestamp t;
  t.set_seconds(msSinceEpoch / 1000);
  t.set_nanos(static_cast<int32_t>(msSinceEpoch % 1000) * 1'000'000);
  return t;
}

int usage(const char* self) {
  std::fprintf(stderr, "usage: %s [--records N] [--runs N] [--db PATH] [--plans]\n", self);
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  int64_t records = 1'000'000;
  int runs = 20;
  std::string dbPath;
  bool plans = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--records" || a == "--runs") {
      const char* v = next();
      char* end = nullptr;
      long long n = v ? std::strtoll(v, &end, 10) : 0;
      if (!v || *end || n < 1) return usage(argv[0]);
      if (a == "--records") {
        records = n;
      } else {
        runs = static_cast<int>(n);
      }
    } else if (a == "--db") {
      const char* v = next();
      if (!v) return usage(argv[0]);
      dbPath = v;
    } else if (a == "--plans") {
      plans = true;
    } else {
      return usage(argv[0]);
    }
  }
  std::filesystem::path tmpDir;
  if (dbPath.empty()) {
    tmpDir = std::filesystem::temp_directory_path() / ("finops-logbench-" + finops::randomId(""));
    dbPath = (tmpDir / "finops.db").string();
  }

  try {
    Store store(dbPath);
    LogStore logs(dbPath, {.retentionPauseMs = 0});
    const bool reuse = logs.totals().rows > 0;
    int64_t firstTs = 0, lastTs = 0;
    if (reuse) {
      std::printf("reusing %s (%lld records)\n", dbPath.c_str(),
                  static_cast<long long>(logs.totals().rows));
      v1::LogQuery q;
      q.set_limit(1);
      lastTs = logs.list(q).entries(0).record().ts_ms();
      firstTs = lastTs - 7LL * 86'400'000;
    } else {
      Owners owners = makeOwners(store);
      Gen g;
      const int64_t span = 7LL * 86'400'000;  // a week of traffic
      lastTs = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
      firstTs = lastTs - span;
      google::protobuf::RepeatedPtrField<v1::LogRecord> batch;
      Clock::duration inserting{};
      double insertingCpuMs = 0;
      int64_t stored = 0;
      for (int64_t i = 0; i < records; ++i) {
        // Arrival order follows time, with data planes' batches up to 3 s out of order.
        int64_t ts = firstTs + span * i / records - g.below(3000);
        *batch.Add() = makeRecord(g, owners, i, ts);
        if (batch.size() == 1000 || i + 1 == records) {
          auto start = Clock::now();
          double cpuStart = threadCpuMs();
          stored += logs.insert(batch);
          inserting += Clock::now() - start;
          insertingCpuMs += threadCpuMs() - cpuStart;
          batch.Clear();
          if ((i + 1) % 100'000 == 0)
            std::fprintf(stderr, "inserted %lld\n", static_cast<long long>(i + 1));
        }
      }
      std::printf("records %lld\n", static_cast<long long>(stored));
      std::printf("insert_records_per_s %.0f\n",
                  static_cast<double>(stored) / (ms(inserting) / 1000));
      std::printf("insert_records_per_cpu_s %.0f\n",
                  static_cast<double>(stored) / (insertingCpuMs / 1000));
    }
    auto totals = logs.totals();
    std::printf("rows %lld\n", static_cast<long long>(totals.rows));
    std::printf("estimated_bytes %lld\n", static_cast<long long>(totals.bytes));
    std::printf("db_file_bytes %lld\n", static_cast<long long>(fileSize(dbPath)));
    std::printf("wal_file_bytes %lld\n", static_cast<long long>(fileSize(dbPath + "-wal")));

    auto report = [&](const char* name, const v1::LogQuery& q) {
      size_t n = 0;
      auto f = timeIt(runs, [&] { n = static_cast<size_t>(logs.list(q).entries_size()); });
      std::printf("%-28s median_ms %8.2f p95_ms %8.2f entries %zu\n", name, f.median, f.p95, n);
      if (plans) {
        std::string plan = logs.explain(q);
        for (size_t p = 0, e; p < plan.size(); p = e + 1) {
          e = plan.find('\n', p);
          std::printf("  plan: %s\n", plan.substr(p, e - p).c_str());
        }
      }
    };
    v1::LogQuery q;
    report("latest_50", q);
    q = {};
    q.set_provider("anthropic");
    report("provider", q);
    q = {};
    q.set_model("gemini/gemini-2.5-flash");
    q.set_status("5xx");
    report("model_status_5xx", q);
    q = {};
    q.set_key("key-17");  // by name, as users type it
    *q.mutable_since() = tsOf(lastTs - 2 * 86'400'000);
    *q.mutable_until() = tsOf(lastTs - 1 * 86'400'000);
    report("key_name_time_range", q);
    q = {};
    q.set_search("zanzibar");
    report("fts_rare_word", q);
    q = {};
    q.set_search("\"purple elephant\"");
    report("fts_phrase", q);
    q = {};
    q.set_search("the");
    q.set_provider("anthropic");
    report("fts_common_word_provider", q);
    q = {};
    q.set_search("gpt-4o");
    report("fts_dash_word_retried", q);
    q = {};
    q.set_search("invoice");
    q.set_key("key-150");
    report("fts_word_rare_key", q);
    {
      v1::LogQuery page;
      for (int i = 0; i < 9; ++i) page.set_cursor(logs.list(page).next_cursor());
      report("cursor_page_10", page);
      page = {};
      page.set_provider("mistral");
      for (int i = 0; i < 9; ++i) page.set_cursor(logs.list(page).next_cursor());
      report("provider_cursor_page_10", page);
    }
    q = {};
    q.set_status("error");
    report("status_error", q);
    q = {};
    q.set_status("502");
    report("status_502", q);
    q = {};
    q.set_error_type("upstream_error");
    report("error_type", q);
    q = {};
    q.set_team("team-19");
    report("rare_team_name", q);
    q = {};
    q.set_customer("customer-4");
    report("customer", q);
    q = {};
    q.set_search("the");
    *q.mutable_since() = tsOf(lastTs - 4 * 86'400'000);
    *q.mutable_until() = tsOf(lastTs - 3 * 86'400'000);
    report("fts_common_word_old_day", q);
    q = {};
    q.set_after_id(logs.list(v1::LogQuery()).last_id() - 200);
    report("follow_after_id", q);
    q.set_provider("gemini");
    report("follow_after_id_provider", q);

    std::string requestId = logs.list(v1::LogQuery()).entries(25).record().request_id();
    auto f = timeIt(runs, [&] {
      if (!logs.get(requestId)) std::abort();
    });
    std::printf("%-28s median_ms %8.2f p95_ms %8.2f\n", "get_by_request_id", f.median, f.p95);
    f = timeIt(runs, [&] { logs.totals(); });
    std::printf("%-28s median_ms %8.2f p95_ms %8.2f\n", "totals", f.median, f.p95);

    // Retention: drop about 1% of the rows for size, as the minute job would.
    totals = logs.totals();
    auto start = Clock::now();
    auto res = logs.enforceRetention(lastTs, 0, totals.bytes - totals.bytes / 100);
    double took = ms(Clock::now() - start);
    std::printf("retention_size_deleted %lld in_ms %.0f rows_per_s %.0f\n",
                static_cast<long long>(res.deletedForSize), took,
                static_cast<double>(res.deletedForSize) / (took / 1000));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "log_store_bench: %s\n", e.what());
    if (!tmpDir.empty()) std::filesystem::remove_all(tmpDir);
    return 1;
  }
  if (!tmpDir.empty()) std::filesystem::remove_all(tmpDir);
  return 0;
}
