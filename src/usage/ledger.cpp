#include "usage/ledger.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

#include "metrics/registry.hpp"
#include "usage/completion.hpp"
#include "usage/sqlite.hpp"

namespace osprey::usage {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS usage (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  ts_ms INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  route TEXT NOT NULL,
  method TEXT NOT NULL,
  model TEXT NOT NULL,
  status INTEGER NOT NULL,
  latency_ms REAL NOT NULL,
  images INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cost_usd REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_key_ts ON usage(key_id, ts_ms);
CREATE INDEX IF NOT EXISTS usage_ts ON usage(ts_ms);
)sql";

constexpr const char* kTotalsCols =
    "COUNT(*), COALESCE(SUM(images),0), COALESCE(SUM(prompt_tokens),0), "
    "COALESCE(SUM(completion_tokens),0), COALESCE(SUM(cost_usd),0)";

// WHERE clause for a Filter; binds start at parameter 1.
std::string where(const Filter& f) {
  std::string w = " WHERE ts_ms >= ?1";
  if (f.to_ms > 0) w += " AND ts_ms < ?2";
  if (!f.key_id.empty()) w += " AND key_id = ?3";
  return w;
}
void bind_filter(sql::Stmt& s, const Filter& f) {
  s.bind(1, f.from_ms);
  if (f.to_ms > 0) s.bind(2, f.to_ms);
  if (!f.key_id.empty()) s.bind(3, f.key_id);
}
Totals read_totals(const sql::Stmt& s, int c) {
  Totals t;
  t.requests = s.int64(c);
  t.images = s.int64(c + 1);
  t.prompt_tokens = s.int64(c + 2);
  t.completion_tokens = s.int64(c + 3);
  t.cost_usd = s.real(c + 4);
  return t;
}

struct LedgerMetrics {
  metrics::Counter& records = metrics::Registry::global().counter(
      "osprey_ledger_records_total", "Usage records committed to the ledger");
  metrics::Histogram& commit = metrics::Registry::global().histogram(
      "osprey_ledger_commit_seconds", "Time to commit one ledger batch (group commit)");
  metrics::Counter& failures = metrics::Registry::global().counter(
      "osprey_ledger_commit_failures_total", "Ledger batches whose commit failed");
};
LedgerMetrics& ledger_metrics() {
  static LedgerMetrics m;
  return m;
}

}  // namespace

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t utc_day_start_ms(std::int64_t t) {
  constexpr std::int64_t day = 86'400'000;
  return t - ((t % day) + day) % day;
}

namespace {
std::chrono::year_month_day ymd_of(std::int64_t t) {
  using namespace std::chrono;
  return year_month_day{floor<days>(sys_time<milliseconds>(milliseconds(t)))};
}
std::int64_t ms_of(std::chrono::year_month_day d) {
  using namespace std::chrono;
  return duration_cast<milliseconds>(sys_days(d).time_since_epoch()).count();
}
}  // namespace

std::int64_t utc_month_start_ms(std::int64_t t) {
  auto d = ymd_of(t);
  return ms_of(d.year() / d.month() / std::chrono::day(1));
}

std::int64_t utc_next_month_start_ms(std::int64_t t) {
  auto d = ymd_of(t);
  auto first = std::chrono::year_month_day(d.year() / d.month() / std::chrono::day(1)) + std::chrono::months(1);
  return ms_of(first);
}

Ledger::Ledger(const std::string& data_dir, Options opts) : opts_(opts) {
  std::filesystem::create_directories(data_dir);
  path_ = (std::filesystem::path(data_dir) / "usage.db").string();
  write_db_ = std::make_unique<sql::Db>(path_);
  write_db_->exec("PRAGMA journal_mode=WAL");
  write_db_->exec(opts_.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  write_db_->exec(kSchema);
  read_db_ = std::make_unique<sql::Db>(path_);
  ledger_metrics();  // register the series so they show up before the first request
  writer_ = std::thread([this] { writer_loop(); });
}

Ledger::~Ledger() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  writer_.join();
  reader_.join();
}

http::Awaitable<void> Ledger::record(Record r) {
  return complete_from_thread_void([this, r = std::move(r)](std::function<void(std::exception_ptr)> done) mutable {
    record(std::move(r), std::move(done));
  });
}

void Ledger::record(Record r, std::function<void(std::exception_ptr)> done) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      done(std::make_exception_ptr(std::runtime_error("usage ledger is shut down")));
      return;
    }
    queue_.push_back({std::move(r), std::move(done)});
  }
  cv_.notify_one();
}

std::uint64_t Ledger::committed() const {
  std::lock_guard lock(const_cast<std::mutex&>(mu_));
  return committed_;
}

std::uint64_t Ledger::batches() const {
  std::lock_guard lock(const_cast<std::mutex&>(mu_));
  return batches_;
}

void Ledger::writer_loop() {
  std::vector<Pending> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      // Group commit: whatever queued up while the last commit was in
      // flight goes into this one transaction.
      while (!queue_.empty() && batch.size() < opts_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    commit_batch(batch);
    batch.clear();
  }
}

void Ledger::commit_batch(std::vector<Pending>& batch) {
  auto t0 = std::chrono::steady_clock::now();
  std::exception_ptr err;
  try {
    sql::transaction(*write_db_, [&] {
      sql::Stmt ins(*write_db_,
                    "INSERT INTO usage (ts_ms, request_id, key_id, route, method, model, status, latency_ms, "
                    "images, prompt_tokens, completion_tokens, cost_usd) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
      for (auto& p : batch) {
        const auto& r = p.record;
        ins.bind(1, r.ts_ms);
        ins.bind(2, r.request_id);
        ins.bind(3, r.key_id);
        ins.bind(4, r.route);
        ins.bind(5, r.method);
        ins.bind(6, r.model);
        ins.bind(7, r.status);
        ins.bind(8, r.latency_ms);
        ins.bind(9, r.images);
        ins.bind(10, r.prompt_tokens);
        ins.bind(11, r.completion_tokens);
        ins.bind(12, r.cost_usd);
        ins.step();
        ins.reset();
      }
    });
  } catch (const std::exception& e) {
    err = std::current_exception();
    ledger_metrics().failures.inc();
    spdlog::error("usage ledger: commit of {} records failed: {}", batch.size(), e.what());
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!err) {
    ledger_metrics().records.inc(static_cast<double>(batch.size()));
    ledger_metrics().commit.observe(secs);
    std::lock_guard lock(mu_);
    committed_ += batch.size();
    ++batches_;
  }
  for (auto& p : batch) {
    try {
      p.done(err);
    } catch (const std::exception& e) {
      spdlog::error("usage ledger: completion callback threw: {}", e.what());
    }
  }
}

Totals Ledger::totals(const Filter& f) {
  std::lock_guard lock(read_mu_);
  sql::Stmt s(*read_db_, std::string("SELECT ") + kTotalsCols + " FROM usage" + where(f));
  bind_filter(s, f);
  return s.step() ? read_totals(s, 0) : Totals{};
}

std::vector<Record> Ledger::records(const Filter& f, int limit, std::int64_t before_seq) {
  std::lock_guard lock(read_mu_);
  std::string q =
      "SELECT seq, ts_ms, request_id, key_id, route, method, model, status, latency_ms, images, prompt_tokens, "
      "completion_tokens, cost_usd FROM usage" +
      where(f);
  if (before_seq > 0) q += " AND seq < ?4";
  q += " ORDER BY seq DESC LIMIT ?5";
  sql::Stmt s(*read_db_, q);
  bind_filter(s, f);
  if (before_seq > 0) s.bind(4, before_seq);
  s.bind(5, static_cast<std::int64_t>(limit));
  std::vector<Record> out;
  while (s.step()) {
    Record r;
    r.seq = s.int64(0);
    r.ts_ms = s.int64(1);
    r.request_id = s.text(2);
    r.key_id = s.text(3);
    r.route = s.text(4);
    r.method = s.text(5);
    r.model = s.text(6);
    r.status = static_cast<int>(s.int64(7));
    r.latency_ms = s.real(8);
    r.images = static_cast<int>(s.int64(9));
    r.prompt_tokens = s.int64(10);
    r.completion_tokens = s.int64(11);
    r.cost_usd = s.real(12);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Group> Ledger::grouped(const Filter& f, GroupBy by) {
  std::lock_guard lock(read_mu_);
  std::string g = by == GroupBy::day ? "strftime('%Y-%m-%d', ts_ms / 1000, 'unixepoch')" : "model";
  sql::Stmt s(*read_db_, "SELECT " + g + " AS g, " + kTotalsCols + " FROM usage" + where(f) +
                             " GROUP BY g ORDER BY g");
  bind_filter(s, f);
  std::vector<Group> out;
  while (s.step()) out.push_back({s.text(0), read_totals(s, 1)});
  return out;
}

std::map<std::string, Totals> Ledger::totals_by_key(const Filter& f) {
  std::lock_guard lock(read_mu_);
  sql::Stmt s(*read_db_, std::string("SELECT key_id, ") + kTotalsCols + " FROM usage" + where(f) +
                             " GROUP BY key_id");
  bind_filter(s, f);
  std::map<std::string, Totals> out;
  while (s.step()) out[s.text(0)] = read_totals(s, 1);
  return out;
}

}  // namespace osprey::usage
