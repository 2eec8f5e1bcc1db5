// The request-log store (controlplane/store/log_store.h): idempotent batches, filters, cursor
// paging, following, full-text search, get, totals and retention, on a real migrated SQLite file.
#include "controlplane/store/log_store.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "controlplane/store/store.h"

namespace finops::cp {
namespace {

namespace v1 = finops::v1;

constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

#define EXPECT_INVALID(stmt, fragment)                                                \
  do {                                                                                \
    try {                                                                             \
      stmt;                                                                           \
      ADD_FAILURE() << "no StoreError from " #stmt;                                   \
    } catch (const StoreError& e) {                                                   \
      EXPECT_EQ(e.code(), StoreError::Code::kInvalidArgument) << e.what();            \
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what(); \
    }                                                                                 \
  } while (0)

v1::LogRecord rec(const std::string& requestId, int64_t tsMs) {
  v1::LogRecord r;
  r.set_request_id(requestId);
  r.set_ts_ms(tsMs);
  r.set_node("dp-1");
  r.set_method("POST");
  r.set_route("/v1/chat/completions");
  r.set_provider("openai");
  r.set_model("openai/gpt-4o-mini");
  r.set_status(200);
  r.set_latency_us(1234);
  r.set_dialect("client");
  return r;
}

v1::LogRecord withContent(v1::LogRecord r, const std::string& request,
                          const std::string& response) {
  r.set_content_logged(true);
  r.set_request_content(request);
  r.set_response_content(response);
  return r;
}

google::protobuf::RepeatedPtrField<v1::LogRecord> batch(const std::vector<v1::LogRecord>& rs) {
  google::protobuf::RepeatedPtrField<v1::LogRecord> out;
  for (const auto& r : rs) *out.Add() = r;
  return out;
}

google::protobuf::Timestamp ts(int64_t ms) {
  google::protobuf::Timestamp t;
  t.set_seconds(ms / 1000);
  t.set_nanos(static_cast<int32_t>(ms % 1000) * 1'000'000);
  return t;
}

std::vector<std::string> requestIds(const v1::ListLogsResponse& r) {
  std::vector<std::string> out;
  for (const auto& e : r.entries()) out.push_back(e.record().request_id());
  return out;
}

using Ids = std::vector<std::string>;

class LogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("finops-logs-" + randomId(""));
    path_ = (dir_ / "finops.db").string();
    store_ = std::make_unique<Store>(path_);
    LogStoreOptions o;
    o.retentionChunkRows = 7;  // several transactions per pass in these small tests
    o.retentionPauseMs = 0;
    logs_ = std::make_unique<LogStore>(path_, o);
  }
  void TearDown() override {
    logs_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  int put(const std::vector<v1::LogRecord>& rs) { return logs_->insert(batch(rs)); }
  v1::ListLogsResponse list(const v1::LogQuery& q) { return logs_->list(q); }
  Ids search(const std::string& s) {
    v1::LogQuery q;
    q.set_search(s);
    auto ids = requestIds(list(q));
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  int64_t count(const std::string& sql) {
    SQLite::Database db(path_);
    return db.execAndGet(sql).getInt64();
  }

  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<LogStore> logs_;
};

TEST_F(LogStoreTest, OpeningNeedsAMigratedDatabase) {
  EXPECT_THROW(LogStore((dir_ / "missing.db").string()), std::exception);
  std::string bare = (dir_ / "bare.db").string();
  { SQLite::Database db(bare, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE); }
  try {
    LogStore l(bare);
    ADD_FAILURE() << "opened a database without the request log tables";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("request log tables are missing"), std::string::npos)
        << e.what();
  }
}

TEST_F(LogStoreTest, InsertStoresEachRequestIdOnce) {
  EXPECT_EQ(put({rec("req_a", kT0), rec("req_b", kT0 + 1), rec("req_c", kT0 + 2)}), 3);
  // A batch sent again (a retried Ship) stores only what is new; the first copy stays.
  auto changed = rec("req_b", kT0 + 99);
  changed.set_status(500);
  EXPECT_EQ(put({rec("req_a", kT0), changed, rec("req_d", kT0 + 3), rec("", kT0 + 4)}), 1);
  EXPECT_EQ(logs_->totals().rows, 4);
  auto b = logs_->get("req_b");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->record().status(), 200);
  EXPECT_EQ(b->record().ts_ms(), kT0 + 1);
  // A record in the same batch twice counts once.
  EXPECT_EQ(put({rec("req_e", kT0), rec("req_e", kT0)}), 1);
  EXPECT_EQ(count("SELECT count(*) FROM request_logs"), 5);
}

TEST_F(LogStoreTest, ListIsNewestFirstWithEveryFieldButNoContent) {
  auto full = withContent(rec("req_full", kT0 + 10), "{\"messages\":[]}", "hello there");
  full.set_key_id("key_1");
  full.set_key_name("alpha");
  full.set_team_id("team_1");
  full.set_team_name("platform");
  full.set_customer_id("cus_1");
  full.set_customer_name("acme");
  full.set_status(429);
  full.set_error_type("rate_limit_exceeded");
  full.set_ttft_us(55);
  full.set_overhead_us(77);
  full.set_prompt_tokens(10);
  full.set_completion_tokens(20);
  full.set_cached_tokens(5);
  full.set_cost_nano(123456);
  full.set_streamed(true);
  full.set_content_truncated(true);
  full.set_dialect("anthropic");
  EXPECT_EQ(list({}).last_id(), 0);
  EXPECT_EQ(list({}).entries_size(), 0);
  // Same ts: the later id comes first.
  ASSERT_EQ(put({rec("req_old", kT0), rec("req_same1", kT0 + 5), full, rec("req_same2", kT0 + 5)}),
            4);
  auto r = list({});
  EXPECT_EQ(requestIds(r), (Ids{"req_full", "req_same2", "req_same1", "req_old"}));
  EXPECT_TRUE(r.next_cursor().empty());
  EXPECT_EQ(r.last_id(), 4);
  const auto& e = r.entries(0);
  EXPECT_EQ(e.id(), 3);
  v1::LogRecord expected = full;
  expected.clear_request_content();
  expected.clear_response_content();
  EXPECT_EQ(e.record().SerializeAsString(), expected.SerializeAsString()) << e.DebugString();
  EXPECT_TRUE(e.record().content_logged());
}

TEST_F(LogStoreTest, EachFilter) {
  auto [alpha, secretA] = store_->createKey({"alpha"});
  store_->createCustomer("acme");
  auto team = store_->createTeam("platform", "acme");
  auto cus = store_->getCustomer("acme");
  auto a = rec("req_a", kT0 + 1);
  a.set_key_id(alpha.id);
  a.set_key_name("alpha");
  a.set_team_id(team.id);
  a.set_team_name("platform");
  a.set_customer_id(cus.id);
  a.set_customer_name("acme");
  auto b = rec("req_b", kT0 + 2);
  b.set_provider("anthropic");
  b.set_model("anthropic/claude-sonnet-4");
  b.set_status(502);
  b.set_error_type("upstream_error");
  // A key deleted since: found by the id or the name it was logged under.
  auto c = rec("req_c", kT0 + 3);
  c.set_key_id("key_gone");
  c.set_key_name("gone");
  c.set_team_id("team_gone");
  c.set_team_name("old-team");
  c.set_status(429);
  c.set_error_type("rate_limit_exceeded");
  ASSERT_EQ(put({a, b, c}), 3);

  auto run = [&](auto set) {
    v1::LogQuery q;
    set(q);
    return requestIds(list(q));
  };
  EXPECT_EQ(run([](auto& q) { q.set_provider("anthropic"); }), Ids{"req_b"});
  EXPECT_EQ(run([](auto& q) { q.set_provider("nope"); }), Ids{});
  EXPECT_EQ(run([](auto& q) { q.set_model("openai/gpt-4o-mini"); }), (Ids{"req_c", "req_a"}));
  EXPECT_EQ(run([&](auto& q) { q.set_key(alpha.id); }), Ids{"req_a"});
  EXPECT_EQ(run([](auto& q) { q.set_key("alpha"); }), Ids{"req_a"});
  EXPECT_EQ(run([](auto& q) { q.set_key("gone"); }), Ids{"req_c"});
  EXPECT_EQ(run([](auto& q) { q.set_key("key_gone"); }), Ids{"req_c"});
  EXPECT_EQ(run([](auto& q) { q.set_key("nobody"); }), Ids{});
  EXPECT_EQ(run([](auto& q) { q.set_team("platform"); }), Ids{"req_a"});
  EXPECT_EQ(run([&](auto& q) { q.set_team(team.id); }), Ids{"req_a"});
  EXPECT_EQ(run([](auto& q) { q.set_team("old-team"); }), Ids{"req_c"});
  EXPECT_EQ(run([](auto& q) { q.set_customer("acme"); }), Ids{"req_a"});
  EXPECT_EQ(run([&](auto& q) { q.set_customer(cus.id); }), Ids{"req_a"});
  EXPECT_EQ(run([](auto& q) { q.set_error_type("upstream_error"); }), Ids{"req_b"});
  EXPECT_EQ(run([](auto& q) { q.set_error_type("rate_limit_exceeded"); }), Ids{"req_c"});
  // Filters combine.
  EXPECT_EQ(run([](auto& q) {
              q.set_model("openai/gpt-4o-mini");
              q.set_status("4xx");
            }),
            Ids{"req_c"});
  EXPECT_EQ(run([](auto& q) {
              q.set_provider("anthropic");
              q.set_key("alpha");
            }),
            Ids{});

  // A renamed key: its older entries (logged under the old name) are found by the new name.
  KeyPatch rename;
  rename.name = "alpha-2";
  store_->updateKey(alpha.id, rename);
  EXPECT_EQ(run([](auto& q) { q.set_key("alpha-2"); }), Ids{"req_a"});
}

TEST_F(LogStoreTest, StatusCodesClassesAndErrors) {
  std::vector<v1::LogRecord> rs;
  int i = 0;
  for (int status : {200, 201, 302, 400, 429, 499, 500, 503}) {
    auto r = rec("req_" + std::to_string(status), kT0 + i++);
    r.set_status(status);
    rs.push_back(r);
  }
  ASSERT_EQ(put(rs), 8);
  auto run = [&](const std::string& status) {
    v1::LogQuery q;
    q.set_status(status);
    auto ids = requestIds(list(q));
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  EXPECT_EQ(run("429"), Ids{"req_429"});
  EXPECT_EQ(run("2xx"), (Ids{"req_200", "req_201"}));
  EXPECT_EQ(run("3xx"), Ids{"req_302"});
  EXPECT_EQ(run("4XX"), (Ids{"req_400", "req_429", "req_499"}));
  EXPECT_EQ(run("5xx"), (Ids{"req_500", "req_503"}));
  EXPECT_EQ(run("error"), (Ids{"req_400", "req_429", "req_499", "req_500", "req_503"}));
  EXPECT_EQ(run("404"), Ids{});
  for (const char* bad :
       {"abc", "6xx", "1xx", "4x", "42", "1000", "600", "099", "-200", " 200", "errors"}) {
    v1::LogQuery q;
    q.set_status(bad);
    EXPECT_INVALID(list(q), "bad status filter");
  }
}

TEST_F(LogStoreTest, SinceIsInclusiveUntilExclusive) {
  ASSERT_EQ(put({rec("req_1", kT0 + 1000), rec("req_2", kT0 + 2000), rec("req_3", kT0 + 3000)}), 3);
  v1::LogQuery q;
  *q.mutable_since() = ts(kT0 + 2000);
  EXPECT_EQ(requestIds(list(q)), (Ids{"req_3", "req_2"}));
  *q.mutable_until() = ts(kT0 + 3000);
  EXPECT_EQ(requestIds(list(q)), Ids{"req_2"});
  q.clear_since();
  EXPECT_EQ(requestIds(list(q)), (Ids{"req_2", "req_1"}));
  // Milliseconds count, not only seconds.
  *q.mutable_until() = ts(kT0 + 2001);
  EXPECT_EQ(requestIds(list(q)), (Ids{"req_2", "req_1"}));
}

TEST_F(LogStoreTest, CursorPagingCoversEveryEntryExactlyOnceInOrder) {
  // Inserted out of time order, with many equal timestamps, in several batches.
  std::vector<v1::LogRecord> rs;
  for (int i = 0; i < 237; ++i) {
    auto r = withContent(rec("req_" + std::to_string(i), kT0 + (i * 7919 % 237) / 3),
                         "paging words", i % 2 ? "odd" : "even");
    r.set_provider(i % 3 ? "openai" : "anthropic");
    rs.push_back(r);
  }
  for (size_t i = 0; i < rs.size(); i += 50)
    put(std::vector<v1::LogRecord>(rs.begin() + i, rs.begin() + std::min(rs.size(), i + 50)));

  auto pageAll = [&](v1::LogQuery q, int limit) {
    q.set_limit(limit);
    std::vector<std::pair<int64_t, int64_t>> seen;  // (ts, id)
    for (int pages = 0; pages < 1000; ++pages) {
      auto r = list(q);
      EXPECT_LE(r.entries_size(), limit);
      for (const auto& e : r.entries()) seen.emplace_back(e.record().ts_ms(), e.id());
      if (r.next_cursor().empty()) break;
      EXPECT_EQ(r.entries_size(), limit);
      q.set_cursor(r.next_cursor());
    }
    return seen;
  };
  auto check = [&](const v1::LogQuery& q, size_t expected) {
    for (int limit : {1, 10, 50, 1000}) {
      auto seen = pageAll(q, limit);
      EXPECT_EQ(seen.size(), expected) << "limit " << limit;
      std::set<int64_t> ids;
      for (const auto& s : seen) ids.insert(s.second);
      EXPECT_EQ(ids.size(), seen.size()) << "an entry came twice, limit " << limit;
      EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end(), std::greater<>())) << "limit " << limit;
    }
  };
  check({}, 237);
  v1::LogQuery byProvider;
  byProvider.set_provider("anthropic");
  check(byProvider, 79);
  v1::LogQuery bySearch;
  bySearch.set_search("odd");
  check(bySearch, 118);
  bySearch.set_provider("openai");
  check(bySearch, 79);

  // The default limit is 50.
  EXPECT_EQ(list({}).entries_size(), 50);
}

TEST_F(LogStoreTest, BadCursorLimitAndAfterId) {
  put({rec("req_1", kT0)});
  for (const char* bad : {"abc", "12", "1.", ".5", "1.0", "1.-5", "x.y", "1.2.3", "1.2 "}) {
    v1::LogQuery q;
    q.set_cursor(bad);
    EXPECT_INVALID(list(q), "bad cursor");
  }
  v1::LogQuery q;
  q.set_limit(1001);
  EXPECT_INVALID(list(q), "limit");
  q.set_limit(-1);
  EXPECT_INVALID(list(q), "limit");
  q.set_limit(1000);
  EXPECT_EQ(list(q).entries_size(), 1);
  v1::LogQuery both;
  both.set_cursor(std::to_string(kT0) + ".1");
  both.set_after_id(1);
  EXPECT_INVALID(list(both), "cursor and after_id");
  v1::LogQuery negative;
  negative.set_after_id(-1);
  EXPECT_INVALID(list(negative), "after_id");
}

TEST_F(LogStoreTest, AfterIdFollowsNewEntriesOldestFirst) {
  ASSERT_EQ(put({rec("req_1", kT0), rec("req_2", kT0 + 1)}), 2);
  int64_t last = list({}).last_id();
  EXPECT_EQ(last, 2);
  // Arrival order, not time order: a late record with an old timestamp is still followed.
  auto late = withContent(rec("req_late", kT0 - 5000), "late words", "");
  late.set_provider("anthropic");
  auto n4 = withContent(rec("req_4", kT0 + 10), "more words", "");
  ASSERT_EQ(put({rec("req_3", kT0 + 5), late, n4}), 3);
  v1::LogQuery q;
  q.set_after_id(last);
  auto r = list(q);
  EXPECT_EQ(requestIds(r), (Ids{"req_3", "req_late", "req_4"}));
  EXPECT_TRUE(r.next_cursor().empty());
  EXPECT_EQ(r.last_id(), 5);
  EXPECT_TRUE(r.entries(1).record().request_content().empty());
  q.set_limit(2);
  EXPECT_EQ(requestIds(list(q)), (Ids{"req_3", "req_late"}));
  q.set_after_id(4);
  EXPECT_EQ(requestIds(list(q)), Ids{"req_4"});
  // With filters and search.
  v1::LogQuery f;
  f.set_after_id(last);
  f.set_provider("anthropic");
  EXPECT_EQ(requestIds(list(f)), Ids{"req_late"});
  f.clear_provider();
  f.set_search("words");
  EXPECT_EQ(requestIds(list(f)), (Ids{"req_late", "req_4"}));
  f.set_after_id(5);
  EXPECT_EQ(requestIds(list(f)), Ids{});
  // last_id stays the highest id ever given, also once those entries are deleted.
  EXPECT_EQ(logs_->enforceRetention(kT0 + 100, 1, 0).deletedForAge, 5);
  EXPECT_EQ(list({}).last_id(), 5);
}

TEST_F(LogStoreTest, SearchFindsPhrasesInRequestAndResponseContent) {
  ASSERT_EQ(put({withContent(rec("req_in_request", kT0),
                             "{\"content\":\"I saw a purple elephant today\"}", "ok"),
                 withContent(rec("req_in_response", kT0 + 1), "{\"content\":\"what did you see\"}",
                             "A Purple Elephant, dancing."),
                 withContent(rec("req_apart", kT0 + 2), "purple paint", "an elephant"),
                 withContent(rec("req_other", kT0 + 3), "nothing here", "nothing there")}),
            4);
  // Content logging off: whatever came with it is not stored nor searchable.
  auto off = rec("req_off", kT0 + 4);
  off.set_content_logged(false);
  off.set_request_content("a purple elephant secret");
  off.set_response_content("purple elephant");
  ASSERT_EQ(put({off}), 1);

  EXPECT_EQ(search("\"purple elephant\""), (Ids{"req_in_request", "req_in_response"}));
  EXPECT_EQ(search("purple elephant"), (Ids{"req_apart", "req_in_request", "req_in_response"}));
  EXPECT_EQ(search("elephant NOT purple"), Ids{});
  EXPECT_EQ(search("eleph*"), (Ids{"req_apart", "req_in_request", "req_in_response"}));
  EXPECT_EQ(search("dancing OR paint"), (Ids{"req_apart", "req_in_response"}));
  EXPECT_EQ(search("response: elephant"), (Ids{"req_apart", "req_in_response"}));
  EXPECT_EQ(search("secret"), Ids{});
  EXPECT_EQ(search("   "),
            (Ids{"req_apart", "req_in_request", "req_in_response", "req_off", "req_other"}));
  EXPECT_EQ(count("SELECT count(*) FROM request_log_content"), 4);
  auto got = logs_->get("req_off");
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->record().content_logged());
  EXPECT_TRUE(got->record().request_content().empty());
  EXPECT_TRUE(got->record().response_content().empty());

  // Combined with the other filters.
  v1::LogQuery q;
  q.set_search("purple");
  *q.mutable_since() = ts(kT0 + 1);
  EXPECT_EQ(requestIds(list(q)), (Ids{"req_apart", "req_in_response"}));
  q.set_status("5xx");
  EXPECT_EQ(requestIds(list(q)), Ids{});
}

// Search answers the first matches in (ts_ms DESC, id DESC) order either by walking the matches
// or by walking the filtered rows (log_store.cc): check it against a brute-force answer for
// terms and filters of every selectivity, with arrival out of time order, page after page.
TEST_F(LogStoreTest, SearchIsExactWhicheverWayItIsAnswered) {
  struct Row {
    int64_t id, ts;
    std::string provider;
    std::set<std::string> words;
  };
  std::vector<Row> rows;
  std::mt19937 rng(7);
  std::vector<v1::LogRecord> rs;
  for (int i = 0; i < 3000; ++i) {
    Row row;
    row.id = i + 1;
    row.ts = kT0 + i * 10 - static_cast<int64_t>(rng() % 500);  // batches arrive out of order
    row.provider = rng() % 300 == 0 ? "rareprov" : "openai";
    std::string text = "filler";
    for (auto [word, per1000] : {std::pair{"common", 900u}, {"medium", 100u}, {"rare", 5u}}) {
      if (rng() % 1000 < per1000) {
        row.words.insert(word);
        text += std::string(" ") + word;
      }
    }
    auto r = withContent(rec("req_" + std::to_string(i), row.ts), text, "");
    r.set_provider(row.provider);
    rs.push_back(r);
    rows.push_back(row);
  }
  for (size_t i = 0; i < rs.size(); i += 500)
    ASSERT_EQ(put(std::vector<v1::LogRecord>(rs.begin() + i, rs.begin() + i + 500)), 500);
  std::sort(rows.begin(), rows.end(),
            [](const Row& a, const Row& b) { return a.ts != b.ts ? a.ts > b.ts : a.id > b.id; });

  for (const std::string word : {"common", "medium", "rare"}) {
    for (int filter = 0; filter < 4; ++filter) {
      v1::LogQuery q;
      q.set_search(word);
      int64_t since = 0, until = 0;
      if (filter == 1) q.set_provider("rareprov");
      if (filter >= 2) {  // an old hour of traffic (filter 3: only its start)
        since = kT0 + 5000;
        until = kT0 + 6000;
        *q.mutable_since() = ts(since);
        if (filter == 2) *q.mutable_until() = ts(until);
      }
      std::vector<int64_t> expected;
      for (const auto& row : rows) {
        if (!row.words.count(word)) continue;
        if (filter == 1 && row.provider != "rareprov") continue;
        if (filter >= 2 && row.ts < since) continue;
        if (filter == 2 && row.ts >= until) continue;
        expected.push_back(row.id);
      }
      for (int limit : {7, 50}) {
        v1::LogQuery page = q;
        page.set_limit(limit);
        std::vector<int64_t> got;
        for (int pages = 0; pages < 4; ++pages) {
          auto r = list(page);
          for (const auto& e : r.entries()) got.push_back(e.id());
          if (r.next_cursor().empty()) break;
          page.set_cursor(r.next_cursor());
        }
        std::vector<int64_t> want(expected.begin(),
                                  expected.begin() + std::min<size_t>(expected.size(), 4 * limit));
        EXPECT_EQ(got, want) << "search " << word << " filter " << filter << " limit " << limit;
      }
    }
  }
}

TEST_F(LogStoreTest, SearchOfPlainWordsFts5WouldRejectIsRetriedAsPhrases) {
  ASSERT_EQ(put({withContent(rec("req_1", kT0), "{\"model\":\"gpt-4o\",\"x\":\"a:b\"}", "fine"),
                 withContent(rec("req_2", kT0 + 1), "gpt 5", "the purple elephant")}),
            2);
  EXPECT_EQ(search("gpt-4o"), Ids{"req_1"});             // '-' is FTS5 syntax
  EXPECT_EQ(search("\"purple elephant"), Ids{"req_2"});  // unbalanced quote
  EXPECT_EQ(search("a:b"), Ids{"req_1"});                // not a column name
  EXPECT_EQ(search("elephant AND"), Ids{});              // "and" is not in req_2
  EXPECT_EQ(search("(purple"), Ids{"req_2"});
  EXPECT_EQ(search("\"gpt-4o\""), Ids{"req_1"});
}

TEST_F(LogStoreTest, ASearchThatCannotBeRunIsInvalidArgument) {
  put({withContent(rec("req_1", kT0), "abc", "def")});
  v1::LogQuery q;
  // FTS5 would read a NUL as the end of the expression (and fails on one inside quotes).
  q.set_search(std::string("\"ab\0c\"", 6));
  EXPECT_INVALID(list(q), "NUL");
  q.set_search(std::string("ab\0c", 4));
  EXPECT_INVALID(list(q), "NUL");
  q.set_search(std::string(2001, 'a'));
  EXPECT_INVALID(list(q), "search is longer than 2000 bytes");
  // The store is still usable.
  EXPECT_EQ(search("abc"), Ids{"req_1"});
}

TEST_F(LogStoreTest, GetByRequestIdOrIdWithContent) {
  ASSERT_EQ(put({withContent(rec("req_x", kT0), "{\"messages\":[\"hi\"]}", "hello!"),
                 rec("req_nocontent", kT0 + 1),
                 withContent(rec("12345", kT0 + 2), "client-chosen id", "")}),
            3);
  auto a = logs_->get("req_x");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->id(), 1);
  EXPECT_EQ(a->record().request_content(), "{\"messages\":[\"hi\"]}");
  EXPECT_EQ(a->record().response_content(), "hello!");
  EXPECT_EQ(a->record().latency_us(), 1234);
  auto byId = logs_->get("1");
  ASSERT_TRUE(byId);
  EXPECT_EQ(byId->SerializeAsString(), a->SerializeAsString());
  auto b = logs_->get("2");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->record().request_id(), "req_nocontent");
  EXPECT_TRUE(b->record().request_content().empty());
  // Digits that are no entry id: a request id.
  auto c = logs_->get("12345");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->id(), 3);
  EXPECT_EQ(c->record().request_content(), "client-chosen id");
  EXPECT_FALSE(logs_->get("req_none"));
  EXPECT_FALSE(logs_->get("4"));
  EXPECT_FALSE(logs_->get(""));
  EXPECT_FALSE(logs_->get("99999999999999999999999"));
}

TEST_F(LogStoreTest, TotalsFollowInsertsAndDeletes) {
  EXPECT_EQ(logs_->totals().rows, 0);
  EXPECT_EQ(logs_->totals().bytes, 0);
  auto a = withContent(rec("req_a", kT0), std::string(1000, 'x'), std::string(500, 'y'));
  auto b = rec("req_b", kT0 + 1);
  auto off = rec("req_off", kT0 + 2);
  off.set_request_content(std::string(3000, 'z'));  // not logged: does not count
  ASSERT_EQ(put({a, b, off}), 3);
  const int64_t bytesA = logRecordBytes(a, true), bytesB = logRecordBytes(b, false),
                bytesOff = logRecordBytes(off, false);
  // The row, its text fields (request id, node, method, route, provider, model, dialect) and
  // twice its content.
  EXPECT_EQ(bytesA, 200 + (5 + 4 + 4 + 20 + 6 + 18 + 6) + 2 * 1500);
  auto t = logs_->totals();
  EXPECT_EQ(t.rows, 3);
  EXPECT_EQ(t.bytes, bytesA + bytesB + bytesOff);
  EXPECT_EQ(t.bytes, count("SELECT sum(bytes) FROM request_logs"));
  put({a});  // a duplicate changes nothing
  EXPECT_EQ(logs_->totals().bytes, t.bytes);
  auto res = logs_->enforceRetention(kT0 + 1000, 1000, 0);  // ts < kT0: none
  EXPECT_EQ(res.deletedForAge, 0);
  res = logs_->enforceRetention(kT0 + 1001, 1000, 0);  // ts < kT0 + 1: req_a
  EXPECT_EQ(res.deletedForAge, 1);
  t = logs_->totals();
  EXPECT_EQ(t.rows, 2);
  EXPECT_EQ(t.bytes, bytesB + bytesOff);
}

TEST_F(LogStoreTest, RetentionByAgeDeletesOldEntriesAndTheirContent) {
  std::vector<v1::LogRecord> rs;
  for (int i = 0; i < 40; ++i)
    rs.push_back(withContent(rec("req_" + std::to_string(i), kT0 + i * 1000),
                             "needle " + std::to_string(i), "haystack"));
  ASSERT_EQ(put(rs), 40);
  EXPECT_EQ(search("needle").size(), 40u);
  // Older than kT0 + 25 s: 25 rows, in chunks of 7.
  auto res = logs_->enforceRetention(kT0 + 125'000, 100'000, 0);
  EXPECT_EQ(res.deletedForAge, 25);
  EXPECT_EQ(res.deletedForSize, 0);
  EXPECT_EQ(logs_->totals().rows, 15);
  EXPECT_EQ(count("SELECT count(*) FROM request_log_content"), 15);
  EXPECT_EQ(count("SELECT min(ts_ms) FROM request_logs"), kT0 + 25'000);
  EXPECT_EQ(search("needle").size(), 15u);
  EXPECT_EQ(search("24"), Ids{});
  EXPECT_EQ(search("25"), Ids{"req_25"});
  EXPECT_FALSE(logs_->get("req_24"));
  int64_t sum = 0;
  for (int i = 25; i < 40; ++i) sum += logRecordBytes(rs[i], true);
  EXPECT_EQ(logs_->totals().bytes, sum);
  // No limits: nothing happens.
  res = logs_->enforceRetention(kT0 + 10'000'000, 0, 0);
  EXPECT_EQ(res.deletedForAge + res.deletedForSize, 0);
  EXPECT_EQ(logs_->totals().rows, 15);
}

TEST_F(LogStoreTest, RetentionBySizeDeletesTheOldestUntilUnderTheCap) {
  std::vector<v1::LogRecord> rs;
  // Inserted newest first: "oldest" is by time, not by id.
  for (int i = 59; i >= 0; --i)
    rs.push_back(withContent(rec("req_" + std::to_string(i), kT0 + i * 1000),
                             "word" + std::to_string(i) + " " + std::string(i * 10, 'p'),
                             "common"));
  ASSERT_EQ(put(rs), 60);
  // Keep what the newest 20 take.
  int64_t cap = 0;
  for (int i = 40; i < 60; ++i) cap += logRecordBytes(rs[59 - i], true);
  auto res = logs_->enforceRetention(kT0 + 60'000, 0, cap);
  EXPECT_EQ(res.deletedForSize, 40);
  EXPECT_EQ(res.deletedForAge, 0);
  auto t = logs_->totals();
  EXPECT_EQ(t.rows, 20);
  EXPECT_EQ(t.bytes, cap);
  EXPECT_EQ(count("SELECT min(ts_ms) FROM request_logs"), kT0 + 40'000);
  EXPECT_EQ(search("common").size(), 20u);
  EXPECT_EQ(search("word39"), Ids{});
  EXPECT_EQ(search("word40"), Ids{"req_40"});
  EXPECT_EQ(count("SELECT count(*) FROM request_log_content"), 20);
  // One byte less: one more row goes.
  res = logs_->enforceRetention(kT0 + 60'000, 0, cap - 1);
  EXPECT_EQ(res.deletedForSize, 1);
  EXPECT_LE(logs_->totals().bytes, cap - 1);
  // Age first, then size.
  res = logs_->enforceRetention(kT0 + 60'000, 15'000, 1);
  EXPECT_EQ(res.deletedForAge, 4);  // 41..44 are older than 45 s
  EXPECT_EQ(res.deletedForSize, 15);
  EXPECT_EQ(logs_->totals().rows, 0);
  EXPECT_EQ(logs_->totals().bytes, 0);
  EXPECT_EQ(count("SELECT count(*) FROM request_log_content"), 0);
}

TEST_F(LogStoreTest, CancelledRetentionDeletesNothingMore) {
  put({rec("req_1", kT0)});
  logs_->cancelRetention();
  auto res = logs_->enforceRetention(kT0 + 10'000, 1, 1);
  EXPECT_EQ(res.deletedForAge + res.deletedForSize, 0);
  EXPECT_EQ(logs_->totals().rows, 1);
}

TEST_F(LogStoreTest, QueryPlansUseTheIndexesAndNeverSortTheTable) {
  auto [key, secret] = store_->createKey({"alpha"});
  store_->createCustomer("acme");
  store_->createTeam("platform", "acme");
  put({rec("req_1", kT0)});
  auto plan = [&](auto set) {
    v1::LogQuery q;
    set(q);
    return logs_->explain(q);
  };
  std::string p = plan([](auto&) {});
  EXPECT_NE(p.find("request_logs_by_ts"), std::string::npos) << p;
  EXPECT_EQ(p.find("TEMP B-TREE"), std::string::npos) << p;
  p = plan([](auto& q) { q.set_provider("openai"); });
  EXPECT_NE(p.find("USING INDEX request_logs_by_provider (provider=?)"), std::string::npos) << p;
  EXPECT_EQ(p.find("TEMP B-TREE"), std::string::npos) << p;
  p = plan([](auto& q) {
    q.set_model("openai/gpt-4o-mini");
    q.set_status("5xx");
  });
  EXPECT_NE(p.find("USING INDEX request_logs_by_model (model=?)"), std::string::npos) << p;
  EXPECT_EQ(p.find("TEMP B-TREE"), std::string::npos) << p;
  p = plan([](auto& q) {
    q.set_key("alpha");
    *q.mutable_since() = ts(kT0);
    *q.mutable_until() = ts(kT0 + 1000);
  });
  EXPECT_NE(p.find("USING INDEX request_logs_by_key (key_id=? AND ts_ms>? AND ts_ms<?)"),
            std::string::npos)
      << p;
  EXPECT_EQ(p.find("TEMP B-TREE"), std::string::npos) << p;
  p = plan([](auto& q) { q.set_status("503"); });
  EXPECT_NE(p.find("USING INDEX request_logs_by_status (status=?)"), std::string::npos) << p;
  EXPECT_EQ(p.find("TEMP B-TREE"), std::string::npos) << p;
  p = plan([](auto& q) { q.set_team("platform"); });
  EXPECT_NE(p.find("USING INDEX request_logs_by_team (team_id=?)"), std::string::npos) << p;
  EXPECT_EQ(p.find("TEMP B-TREE"), std::string::npos) << p;
  p = plan([](auto& q) { q.set_customer("acme"); });
  EXPECT_NE(p.find("USING INDEX request_logs_by_customer (customer_id=?)"), std::string::npos) << p;
  EXPECT_EQ(p.find("TEMP B-TREE"), std::string::npos) << p;
  p = plan([](auto& q) { q.set_error_type("upstream_error"); });
  EXPECT_NE(p.find("USING INDEX request_logs_by_error (error_type=?)"), std::string::npos) << p;
  EXPECT_EQ(p.find("TEMP B-TREE"), std::string::npos) << p;
  p = plan([](auto& q) {
    q.set_provider("openai");
    q.set_cursor(std::to_string(kT0) + ".5");
  });
  EXPECT_NE(p.find("USING INDEX request_logs_by_provider"), std::string::npos) << p;
  EXPECT_EQ(p.find("TEMP B-TREE"), std::string::npos) << p;
  // Following walks the new ids, not a filter's index.
  p = plan([](auto& q) {
    q.set_after_id(1);
    q.set_provider("openai");
  });
  EXPECT_NE(p.find("INTEGER PRIMARY KEY (rowid>?)"), std::string::npos) << p;
  EXPECT_EQ(p.find("TEMP B-TREE"), std::string::npos) << p;
  // Search: matches walked in rowid order by FTS5, or the filter's rows in time order.
  p = plan([](auto& q) {
    q.set_search("hello");
    q.set_provider("openai");
  });
  EXPECT_NE(p.find("VIRTUAL TABLE"), std::string::npos) << p;
  EXPECT_NE(p.find("request_logs_by_provider (provider=?)"), std::string::npos) << p;
  EXPECT_EQ(p.find("TEMP B-TREE"), std::string::npos) << p;
}

TEST_F(LogStoreTest, ReadersDoNotWaitForAWriter) {
  put({rec("req_1", kT0)});
  // Another connection (the Store, another writer) holds the write lock in an open transaction.
  SQLite::Database other(path_, SQLite::OPEN_READWRITE);
  SQLite::Transaction tx(other, SQLite::TransactionBehavior::IMMEDIATE);
  other.exec("INSERT INTO request_logs(request_id, ts_ms) VALUES ('req_uncommitted', 1)");
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(requestIds(list({})), Ids{"req_1"});
  EXPECT_TRUE(logs_->get("req_1"));
  EXPECT_EQ(logs_->totals().rows, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  // tx rolls back on destruction.
}

TEST_F(LogStoreTest, ConcurrentInsertsAndQueries) {
  std::atomic<bool> failed{false};
  std::thread writer([&] {
    try {
      for (int b = 0; b < 20; ++b) {
        std::vector<v1::LogRecord> rs;
        for (int i = 0; i < 50; ++i) {
          int n = b * 50 + i;
          rs.push_back(
              withContent(rec("req_" + std::to_string(n), kT0 + n), "concurrent words", ""));
        }
        if (logs_->insert(batch(rs)) != 50) failed = true;
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
      failed = true;
    }
  });
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      try {
        for (int i = 0; i < 30; ++i) {
          v1::LogQuery q;
          q.set_search(i % 2 ? "concurrent" : "");
          auto r = logs_->list(q);
          // A consistent snapshot: last_id covers every entry listed.
          for (const auto& e : r.entries())
            if (e.id() > r.last_id()) failed = true;
          logs_->totals();
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        failed = true;
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_FALSE(failed);
  EXPECT_EQ(logs_->totals().rows, 1000);
}

}  // namespace
}  // namespace finops::cp

namespace finops::cp {
namespace {

// The control plane's Store and the LogStore write to the same file on their own connections:
// neither may fail with "database is locked" while the other writes (the Store's transactions
// read first and would otherwise fail to take the write lock without waiting).
TEST_F(LogStoreTest, StoreWritesNeverFailWhileLogsAreWritten) {
  std::atomic<bool> stop{false};
  std::atomic<int> logBatches{0};
  std::string logError;
  std::thread writer([&] {
    try {
      for (int b = 0; !stop.load(); ++b) {
        std::vector<v1::LogRecord> rs;
        for (int i = 0; i < 50; ++i)
          rs.push_back(withContent(rec("req_w" + std::to_string(b) + "_" + std::to_string(i), 1000 + b),
                                   "some request words", "some response words"));
        put(rs);
        logBatches.fetch_add(1);
      }
    } catch (const std::exception& e) {
      logError = e.what();
    }
  });
  int keys = 0;
  std::string storeError;
  try {
    for (int i = 0; i < 60; ++i) {
      std::string team = "team-" + std::to_string(i);
      store_->createTeam(team, "");
      KeySpec spec;
      spec.name = "key-" + std::to_string(i);
      spec.team = team;
      store_->createKey(spec);
      ++keys;
    }
  } catch (const std::exception& e) {
    storeError = e.what();
  }
  stop = true;
  writer.join();
  EXPECT_EQ(storeError, "");
  EXPECT_EQ(logError, "");
  EXPECT_EQ(keys, 60);
  EXPECT_GT(logBatches.load(), 0);
}

}  // namespace
}  // namespace finops::cp
