// The usage ledger: records round-trip, queries, group commit, and a failed
// commit surfacing as an error to every waiter.

#include <gtest/gtest.h>

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <filesystem>
#include <future>
#include <random>

#include "usage/ledger.hpp"
#include "usage/sqlite.hpp"

using namespace osprey;
using namespace osprey::usage;

namespace {

// A fresh directory, removed when the test process exits.
std::string temp_dir() {
  struct Cleanup {
    std::vector<std::filesystem::path> dirs;
    ~Cleanup() {
      std::error_code ec;
      for (auto& d : dirs) std::filesystem::remove_all(d, ec);
    }
  };
  static Cleanup cleanup;
  std::random_device rd;
  auto p = std::filesystem::temp_directory_path() / ("osprey-ledger-" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(p);
  cleanup.dirs.push_back(p);
  return p.string();
}

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kT0 = 1795600830250;  // 2026-11-25T10:00:30.250Z

Record rec(std::string id, std::string key, std::string model, std::int64_t ts, long prompt, long completion,
           double cost, int images = 0) {
  Record r;
  r.ts_ms = ts;
  r.request_id = std::move(id);
  r.key_id = std::move(key);
  r.route = "/v1/chat/completions";
  r.method = "POST";
  r.model = std::move(model);
  r.status = 200;
  r.latency_ms = 12.5;
  r.prompt_tokens = prompt;
  r.completion_tokens = completion;
  r.cost_usd = cost;
  r.images = images;
  return r;
}

void record_blocking(Ledger& l, Record r) {
  boost::asio::io_context ioc;
  auto fut = boost::asio::co_spawn(ioc, l.record(std::move(r)), boost::asio::use_future);
  ioc.run();
  fut.get();
}

}  // namespace

TEST(Ledger, RecordsRoundTripAndQueries) {
  auto dir = temp_dir();
  {
    Ledger l(dir);
    record_blocking(l, rec("r1", "key_a", "gpt-4o-mini", kT0, 10, 5, 0.001));
    record_blocking(l, rec("r2", "key_a", "gpt-4o", kT0 + 1000, 20, 10, 0.01));
    record_blocking(l, rec("r3", "key_b", "yolov8n", kT0 + 2000, 0, 0, 0, 1));
    record_blocking(l, rec("r4", "key_a", "gpt-4o-mini", kT0 - kDay, 1, 1, 0.0001));  // yesterday
  }
  Ledger l(dir);  // reopened: everything is on disk
  auto all = l.totals({});
  EXPECT_EQ(all.requests, 4);
  EXPECT_EQ(all.images, 1);
  auto a = l.totals({"key_a", utc_day_start_ms(kT0), 0});
  EXPECT_EQ(a.requests, 2);
  EXPECT_EQ(a.tokens(), 45);
  EXPECT_NEAR(a.cost_usd, 0.011, 1e-12);
  auto by_day = l.grouped({"key_a", 0, 0}, GroupBy::day);
  ASSERT_EQ(by_day.size(), 2u);
  EXPECT_EQ(by_day[0].group, "2026-11-24");
  EXPECT_EQ(by_day[1].group, "2026-11-25");
  EXPECT_EQ(by_day[1].totals.requests, 2);
  auto by_model = l.grouped({"key_a", utc_day_start_ms(kT0), 0}, GroupBy::model);
  ASSERT_EQ(by_model.size(), 2u);
  EXPECT_EQ(by_model[0].group, "gpt-4o");
  // Newest first, paged by seq.
  auto page1 = l.records({}, 2);
  ASSERT_EQ(page1.size(), 2u);
  EXPECT_EQ(page1[0].request_id, "r4");
  EXPECT_EQ(page1[0].latency_ms, 12.5);
  auto page2 = l.records({}, 10, page1.back().seq);
  ASSERT_EQ(page2.size(), 2u);
  EXPECT_EQ(page2[1].request_id, "r1");
  // Half-open time ranges.
  EXPECT_EQ(l.totals({"", kT0, kT0 + 1000}).requests, 1);
  auto per_key = l.totals_by_key({"", utc_month_start_ms(kT0), 0});
  EXPECT_EQ(per_key["key_a"].requests, 3);
  EXPECT_EQ(per_key["key_b"].images, 1);
}

TEST(Ledger, CalendarHelpers) {
  EXPECT_EQ(utc_day_start_ms(kT0), 1795564800000);        // 2026-11-25T00:00Z
  EXPECT_EQ(utc_month_start_ms(kT0), 1793491200000);      // 2026-11-01T00:00Z
  EXPECT_EQ(utc_next_month_start_ms(kT0), 1796083200000); // 2026-12-01T00:00Z
  EXPECT_EQ(utc_next_month_start_ms(1796083200000 + 5), 1798761600000);  // 2027-01-01
}

TEST(Ledger, GroupCommitBatchesEverythingQueued) {
  auto dir = temp_dir();
  Ledger l(dir);
  record_blocking(l, rec("warmup", "k", "m", kT0, 0, 0, 0));
  auto base = l.batches();
  // Hold the write lock from another connection so the writer's next commit
  // waits; everything queued meanwhile must go into ONE following commit.
  sql::Db blocker(l.path());
  blocker.exec("BEGIN EXCLUSIVE");
  constexpr int kN = 300;
  std::vector<std::promise<void>> done(kN);
  for (int i = 0; i < kN; ++i) {
    l.record(rec("g" + std::to_string(i), "k", "m", kT0, 1, 1, 0), [&, i](std::exception_ptr e) {
      if (e) done[i].set_exception(e);
      else done[i].set_value();
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(l.committed(), 1u);  // nothing else can commit while blocked
  blocker.exec("COMMIT");
  for (auto& d : done) d.get_future().get();
  EXPECT_EQ(l.committed(), 1u + kN);
  // The first record may have been taken alone before the rest queued up.
  EXPECT_LE(l.batches() - base, 2u);
  EXPECT_EQ(l.totals({}).requests, 1 + kN);
}

TEST(Ledger, FailedCommitReachesEveryWaiter) {
  auto dir = temp_dir();
  Ledger l(dir);
  record_blocking(l, rec("ok", "k", "m", kT0, 0, 0, 0));
  {
    sql::Db other(l.path());
    other.exec("DROP TABLE usage");
  }
  EXPECT_THROW(record_blocking(l, rec("lost", "k", "m", kT0, 0, 0, 0)), std::runtime_error);
}

// The ledger's statements are compiled once and kept (sql::Db::cached).
TEST(Sqlite, CachedStatementsAreReusedAndComeBackReset) {
  auto dir = temp_dir();
  sql::Db db(dir + "/t.db");
  db.exec("CREATE TABLE t (v TEXT NOT NULL)");
  const std::string ins = "INSERT INTO t (v) VALUES (?1)";
  auto& a = db.cached(ins);
  a.bind(1, std::string_view("kept"));
  a.step();
  // Bound but never stepped, as when a use throws midway: the next caller
  // gets it without that binding (NULL would violate NOT NULL).
  db.cached(ins).bind(1, std::string_view("dropped"));
  auto& b = db.cached(ins);
  EXPECT_EQ(&a, &b);
  EXPECT_THROW(b.step(), std::runtime_error);
  auto& c = db.cached(ins);
  c.bind(1, std::string_view("second"));
  c.step();
  sql::Stmt n(db, "SELECT group_concat(v, ',') FROM t");
  ASSERT_TRUE(n.step());
  EXPECT_EQ(n.text(0), "kept,second");
}

// A COMMIT that fails rolls back, so the next transaction can begin (it
// would otherwise fail: "cannot start a transaction within a transaction").
TEST(Sqlite, FailedCommitRollsBack) {
  auto dir = temp_dir();
  sql::Db db(dir + "/t.db");
  db.exec("PRAGMA foreign_keys=ON");
  db.exec("CREATE TABLE p (id INTEGER PRIMARY KEY)");
  db.exec("CREATE TABLE c (pid INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)");
  // A deferred foreign key is checked at COMMIT, which then fails.
  EXPECT_THROW(sql::transaction(db, [&] { db.exec("INSERT INTO c VALUES (42)"); }), std::runtime_error);
  sql::transaction(db, [&] {
    db.exec("INSERT INTO p VALUES (42)");
    db.exec("INSERT INTO c VALUES (42)");
  });
  sql::Stmt n(db, "SELECT COUNT(*) FROM c");
  ASSERT_TRUE(n.step());
  EXPECT_EQ(n.int64(0), 1);
}
