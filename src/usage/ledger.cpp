#include "usage/ledger.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>

#include <chrono>
#include <filesystem>

#include "http/thread_load.hpp"
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
  cost_usd REAL NOT NULL,
  upstream TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS usage_key_ts ON usage(key_id, ts_ms);
CREATE INDEX IF NOT EXISTS usage_ts ON usage(ts_ms);
CREATE TABLE IF NOT EXISTS journal_state (
  file TEXT PRIMARY KEY,
  applied_seq INTEGER NOT NULL
);
)sql";

// Records go in with multi-row INSERTs: SQLite's per-statement work (the
// program's start, AUTOINCREMENT's sqlite_sequence read and write) is then
// paid once per kRowsPerInsert records. The statements are compiled once
// (sql::Db::cached): compiling the 384-parameter one took about a fifth of
// each commit. Strings are bound without a copy: the records outlive the
// statement's step.
constexpr int kColumns = 13;
constexpr std::size_t kRowsPerInsert = 32;

std::string insert_sql(std::size_t rows) {
  std::string q =
      "INSERT INTO usage (ts_ms, request_id, key_id, route, method, model, status, latency_ms, "
      "images, prompt_tokens, completion_tokens, cost_usd, upstream) VALUES ";
  for (std::size_t i = 0; i < rows; ++i) q += i ? ",(?,?,?,?,?,?,?,?,?,?,?,?,?)" : "(?,?,?,?,?,?,?,?,?,?,?,?,?)";
  return q;
}

const std::string& insert_many_sql() {
  static const std::string q = insert_sql(kRowsPerInsert);
  return q;
}

const std::string& insert_one_sql() {
  static const std::string q = insert_sql(1);
  return q;
}

void bind_record(sql::Stmt& ins, int row, const Record& r) {
  const int b = row * kColumns;
  ins.bind(b + 1, r.ts_ms);
  ins.bind_ref(b + 2, r.request_id);
  ins.bind_ref(b + 3, r.key_id);
  ins.bind_ref(b + 4, r.route);
  ins.bind_ref(b + 5, r.method);
  ins.bind_ref(b + 6, r.model);
  ins.bind(b + 7, r.status);
  ins.bind(b + 8, r.latency_ms);
  ins.bind(b + 9, r.images);
  ins.bind(b + 10, r.prompt_tokens);
  ins.bind(b + 11, r.completion_tokens);
  ins.bind(b + 12, r.cost_usd);
  ins.bind_ref(b + 13, r.upstream);
}

// A usage.db from before the upstream column: add it (old rows get '').
void migrate(sql::Db& db) {
  sql::Stmt cols(db, "SELECT COUNT(*) FROM pragma_table_info('usage') WHERE name = 'upstream'");
  if (cols.step() && cols.int64(0) == 0) db.exec("ALTER TABLE usage ADD COLUMN upstream TEXT NOT NULL DEFAULT ''");
}

// Inserts the records in `recs` (pointers), inside the caller's transaction.
void insert_records(sql::Db& db, const std::vector<const Record*>& recs) {
  std::size_t i = 0;
  if (recs.size() >= kRowsPerInsert) {
    auto& many = db.cached(insert_many_sql());
    for (; i + kRowsPerInsert <= recs.size(); i += kRowsPerInsert) {
      for (std::size_t k = 0; k < kRowsPerInsert; ++k) bind_record(many, static_cast<int>(k), *recs[i + k]);
      many.step();
      many.reset();
    }
  }
  if (i == recs.size()) return;
  auto& one = db.cached(insert_one_sql());
  for (; i < recs.size(); ++i) {
    bind_record(one, 0, *recs[i]);
    one.step();
    one.reset();
  }
}

void set_applied(sql::Db& db, const std::string& file, std::uint64_t seq) {
  auto& st = db.cached(
      "INSERT INTO journal_state (file, applied_seq) VALUES (?1, ?2) "
      "ON CONFLICT(file) DO UPDATE SET applied_seq = excluded.applied_seq");
  st.bind(1, file);
  st.bind(2, static_cast<std::int64_t>(seq));
  st.step();
}

void forget_file(sql::Db& db, const std::string& file) {
  sql::Stmt st(db, "DELETE FROM journal_state WHERE file = ?1");
  st.bind(1, file);
  st.step();
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

Ledger::Ledger(const std::string& data_dir, Options opts) : opts_(opts) {
  std::filesystem::create_directories(data_dir);
  path_ = (std::filesystem::path(data_dir) / "usage.db").string();
  write_db_ = std::make_unique<sql::Db>(path_);
  write_db_->exec("PRAGMA journal_mode=WAL");
  write_db_->exec(opts_.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  write_db_->exec(kSchema);
  migrate(*write_db_);
  read_db_ = std::make_unique<sql::Db>(path_);
  ledger_metrics();  // register the series so they show up before the first request
  // Whatever a killed process left in its journal goes in first, whichever
  // mode this run uses.
  recover_journals();
  if (!opts_.synchronous_full) journal_ = std::make_unique<Journal>(data_dir);
  writer_ = std::thread([this] { writer_loop(); });
}

void Ledger::recover_journals() {
  auto dir = std::filesystem::path(path_).parent_path().string();
  for (auto& orphan : Journal::orphans(dir)) {
    std::size_t skipped = 0;
    auto records = Journal::read_records(dir, orphan, skipped);
    std::uint64_t applied = 0;
    {
      sql::Stmt st(*write_db_, "SELECT applied_seq FROM journal_state WHERE file = ?1");
      st.bind(1, orphan.file);
      if (st.step()) applied = static_cast<std::uint64_t>(st.int64(0));
    }
    std::size_t n = 0;
    sql::transaction(*write_db_, [&] {
      std::vector<const Record*> fresh;
      std::uint64_t last = applied;
      for (auto& [seq, r] : records) {
        if (seq <= applied) continue;  // already in SQLite before the crash
        fresh.push_back(&r);
        last = std::max(last, seq);
      }
      insert_records(*write_db_, fresh);
      n = fresh.size();
      set_applied(*write_db_, orphan.file, last);
    });
    // The file goes only after its records are committed; its state row
    // after the file, so a crash in between never replays a record twice.
    Journal::retire_orphan(dir, orphan);
    forget_file(*write_db_, orphan.file);
    recovered_ += n;
    if (n > 0 || skipped > 0)
      spdlog::warn("usage ledger: recovered {} record(s) from {} left by a stopped process{}", n, orphan.file,
                   skipped ? fmt::format(" ({} torn line(s) skipped)", skipped) : std::string());
  }
}

Ledger::~Ledger() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  writer_.join();
  reader_.join();
  if (journal_ && applied_ == appended_) {
    // Everything is in SQLite: the journal has nothing left to protect.
    journal_->retire_all();
  }
}

std::exception_ptr Ledger::append_to_journal(Record r) {
  std::vector<Record> one;
  one.push_back(std::move(r));
  std::exception_ptr err;
  append_to_journal(one, err);
  return err;
}

std::size_t Ledger::append_to_journal(std::vector<Record>& recs, std::exception_ptr& err) {
  bool first = false;
  std::size_t durable = 0;
  {
    // One lock for the append and the queue: the queue stays in journal
    // order, which the applied_seq bookkeeping relies on.
    std::lock_guard lock(mu_);
    if (stopping_) {
      err = std::make_exception_ptr(std::runtime_error("usage ledger is shut down"));
      return 0;
    }
    auto a = journal_->append(recs);
    durable = a.durable;
    if (a.error) {
      ledger_metrics().failures.inc();
      err = a.error;
    }
    const auto& pos = a.first;
    if (durable > 0) {
      first = queue_.empty();
      for (std::size_t i = 0; i < durable; ++i)
        queue_.push_back({std::move(recs[i]), {}, pos.file, pos.seq + i});
      appended_ = pos.seq + durable - 1;
    }
  }
  // The writer sleeps until the queue stops being empty; later records
  // ride along in its batch window without waking it again.
  if (first) cv_.notify_one();
  return durable;
}

// The handler posted once per turn. If its io_context goes away before it
// runs (shutdown with requests in flight), the turn's waiters go with it and
// the turn is left clean for a context that later gets the same address.
class Ledger::TurnFlush {
 public:
  TurnFlush(Ledger* ledger, std::shared_ptr<Turn> turn) : ledger_(ledger), turn_(std::move(turn)) {}
  TurnFlush(TurnFlush&&) noexcept = default;
  void operator()() {
    auto t = std::move(turn_);
    ledger_->flush_turn(*t);
  }
  ~TurnFlush() {
    if (!turn_) return;
    std::lock_guard lock(turn_->mu);
    turn_->records.clear();
    turn_->waiters.clear();
    turn_->flush_posted = false;
  }

 private:
  Ledger* ledger_;
  std::shared_ptr<Turn> turn_;
};

void Ledger::join_turn(Record r, Waiter w) {
  const void* context = &boost::asio::query(w.get_executor(), boost::asio::execution::context);
  std::shared_ptr<Turn> turn;
  {
    std::lock_guard lock(turns_mu_);
    for (auto& t : turns_)
      if (t->context == context) turn = t;
    if (!turn) {
      turn = turns_.emplace_back(std::make_shared<Turn>());
      turn->context = context;
    }
  }
  auto ex = w.get_executor();
  bool post = false;
  {
    std::lock_guard lock(turn->mu);
    turn->records.push_back(std::move(r));
    turn->waiters.push_back(std::move(w));
    post = !std::exchange(turn->flush_posted, true);
  }
  // Posted, so it runs after the handlers already queued on this context:
  // the other requests that finish in this batch join the same write.
  if (post) boost::asio::post(ex, TurnFlush(this, std::move(turn)));
}

void Ledger::flush_turn(Turn& t) {
  std::vector<Record> recs;
  std::vector<Waiter> waiters;
  {
    std::lock_guard lock(t.mu);
    recs.swap(t.records);
    waiters.swap(t.waiters);
    t.flush_posted = false;
  }
  std::exception_ptr err;
  std::size_t durable = append_to_journal(recs, err);
  // Resumes each request's coroutine, here: this runs as a handler of the
  // io_context the waiters belong to (it was posted there).
  for (std::size_t i = 0; i < waiters.size(); ++i) waiters[i](i < durable ? nullptr : err);
  // Hand the (now empty) buffers back so the next turn reuses them.
  std::lock_guard lock(t.mu);
  if (t.records.empty() && t.records.capacity() < recs.capacity()) {
    recs.clear();
    t.records.swap(recs);
  }
  if (t.waiters.empty() && t.waiters.capacity() < waiters.capacity()) {
    waiters.clear();
    t.waiters.swap(waiters);
  }
}

namespace {

http::Awaitable<void> completed(std::exception_ptr err) {
  if (err) std::rethrow_exception(err);
  co_return;
}

}  // namespace

http::Awaitable<void> Ledger::record(Record r) {
  if (journal_) {
    // Alone on this I/O thread (one client at a time), no other record
    // would join this one's write: it is appended now. Through a turn it
    // would wait for a post, which costs the event loop an extra poll of
    // epoll before the request can answer.
    if (!http::others_in_flight(1)) return completed(append_to_journal(std::move(r)));
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(std::exception_ptr)>(
        [this, r = std::move(r)](auto handler) mutable {
          static_assert(std::is_same_v<decltype(handler), Waiter>);
          join_turn(std::move(r), std::move(handler));
        },
        boost::asio::use_awaitable);
  }
  return complete_from_thread_void([this, r = std::move(r)](std::function<void(std::exception_ptr)> done) mutable {
    record(std::move(r), std::move(done));
  });
}

void Ledger::record(Record r, std::function<void(std::exception_ptr)> done) {
  if (journal_) {
    done(append_to_journal(std::move(r)));
    return;
  }
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
  // Journal files rotated out, with their last seq: deleted once applied.
  std::vector<Journal::Position> rotated;
  int failures = 0;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this, &batch] { return stopping_ || !queue_.empty() || !batch.empty(); });
      if (queue_.empty() && batch.empty() && stopping_) return;
      if (journal_ && !stopping_ && !flush_now_) {
        // Nobody waits on this commit: gather for a while, so that one
        // transaction carries many records.
        cv_.wait_for(lock, opts_.batch_window,
                     [this] { return stopping_ || flush_now_ || queue_.size() >= opts_.max_batch; });
      }
      flush_now_ = false;
      // Group commit: whatever queued up while the last commit was in
      // flight goes into this one transaction.
      while (!queue_.empty() && batch.size() < opts_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (batch.empty()) continue;
    if (!commit_batch(batch) && journal_) {
      // The records are safe in the journal: keep the batch and try again
      // (SQLite busy, disk full). At shutdown give up after a few tries;
      // the next start replays the journal.
      if (++failures >= 5 && stopping_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    failures = 0;
    batch.clear();
    if (journal_) {
      auto old = journal_->rotate_if_larger(opts_.journal_rotate_bytes);
      if (!old.file.empty()) rotated.push_back(old);
      std::uint64_t applied;
      {
        std::lock_guard lock(mu_);
        applied = applied_;
      }
      for (auto it = rotated.begin(); it != rotated.end();) {
        if (it->seq > applied) {
          ++it;
          continue;
        }
        journal_->retire(it->file);
        try {
          forget_file(*write_db_, it->file);
        } catch (const std::exception& e) {
          spdlog::warn("usage ledger: {}", e.what());
        }
        it = rotated.erase(it);
      }
    }
  }
}

void Ledger::catch_up() {
  if (!journal_) return;
  std::unique_lock lock(mu_);
  auto target = appended_;
  if (applied_ >= target) return;
  flush_now_ = true;
  cv_.notify_one();
  if (!applied_cv_.wait_for(lock, std::chrono::seconds(5), [&] { return applied_ >= target; }))
    spdlog::warn("usage ledger: SQLite is behind the journal; this read may miss the newest records");
}

bool Ledger::commit_batch(std::vector<Pending>& batch) {
  auto t0 = std::chrono::steady_clock::now();
  std::exception_ptr err;
  try {
    sql::transaction(*write_db_, [&] {
      thread_local std::vector<const Record*> recs;
      recs.clear();
      for (auto& p : batch) recs.push_back(&p.record);
      insert_records(*write_db_, recs);
      if (journal_) {
        // Which journal records SQLite now holds, in the same transaction
        // (a batch spans at most a rotation: at most two files).
        std::string file;
        std::uint64_t last = 0;
        for (auto& p : batch) {
          if (p.file != file && !file.empty()) set_applied(*write_db_, file, last);
          file = p.file;
          last = p.seq;
        }
        set_applied(*write_db_, file, last);
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
    if (journal_) {
      applied_ = batch.back().seq;
      applied_cv_.notify_all();
    }
  }
  if (journal_) return !err;  // nobody waits on a callback
  for (auto& p : batch) {
    try {
      p.done(err);
    } catch (const std::exception& e) {
      spdlog::error("usage ledger: completion callback threw: {}", e.what());
    }
  }
  return !err;
}

}  // namespace osprey::usage
