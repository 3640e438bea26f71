#pragma once
// Ledger: the usage record of every request, in SQLite (data_dir/usage.db),
// written so that nothing acknowledged is ever lost.
//
//   usage::Ledger ledger(cfg.data_dir);
//   co_await ledger.record(rec);   // returns once `rec` is durably committed
//
// Durability comes in two modes (Options::synchronous_full, the server's
// usage.synchronous setting):
//
//  - full: record() queues the record and suspends the caller; one writer
//    thread takes EVERYTHING queued, writes it in one transaction (group
//    commit) with synchronous=FULL (the WAL is fsynced), and only then
//    resumes the waiters. An acknowledged record survives a process crash
//    and a power loss. Costs a thread hop and a commit per request.
//  - normal (the server's default): record() appends the record to the
//    journal (journal.hpp: a write(2) on the calling thread) and completes;
//    the record now survives kill -9, as a WAL commit with
//    synchronous=NORMAL would. The writer thread copies the journal's
//    records into SQLite in batches (every few ms) and deletes journal
//    files it has applied; opening the ledger replays what a killed process
//    left in its journal. Reads wait until SQLite holds every record
//    acknowledged before them, so a client sees its own requests.
//
// Group append (normal mode): the records that one I/O thread's requests
// produce while it works through one batch of ready events are appended
// with one write(2) at the end of that batch, and each caller resumes once
// its record is on disk; at 64 concurrent requests a write is shared by
// many. A request alone on its thread (http/thread_load.hpp) has nobody to
// share with: its record is appended at once, without the post.
//
// If a record cannot be made durable (commit or journal write failed), the
// caller gets the exception: the server then answers 503 rather than
// serving a request it could not record.
//
// Reads (usage queries, budget seeding) use a second connection on their
// own thread; WAL lets them run while the writer commits. query() hops to
// that thread so that I/O threads never block on SQLite.

#include <utility>  // before any Boost.Asio header (g++ 12)
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/message.hpp"
#include "usage/completion.hpp"
#include "usage/journal.hpp"

namespace osprey::usage {

namespace sql {
class Db;
}

struct Record {
  std::int64_t ts_ms = 0;  // wall clock, ms since the epoch (UTC)
  std::string request_id;
  std::string key_id;  // empty: anonymous (public route or auth disabled)
  std::string route;   // the route template, e.g. /v1/chat/completions
  std::string method;
  std::string model;
  int status = 0;
  double latency_ms = 0;
  int images = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  double cost_usd = 0;
  std::string upstream;  // the gateway upstream that served it; empty: none
  std::int64_t seq = 0;  // row id, filled on reads
};

struct Totals {
  std::int64_t requests = 0;
  std::int64_t images = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  double cost_usd = 0;
  std::int64_t tokens() const { return prompt_tokens + completion_tokens; }
};

struct Filter {
  std::string key_id;        // empty: every key
  std::int64_t from_ms = 0;  // inclusive
  std::int64_t to_ms = 0;    // exclusive; 0 = no upper bound
};

enum class GroupBy { day, model };

struct Group {
  std::string group;  // "2026-11-25" or the model name
  Totals totals;
};

class Ledger {
 public:
  struct Options {
    std::size_t max_batch = 4096;  // records per transaction at most
    bool synchronous_full = true;  // see the header comment; false: journal
    // Journal mode: how long the writer gathers records before a
    // transaction, and the size at which it starts a new journal file.
    std::chrono::milliseconds batch_window{10};
    std::uint64_t journal_rotate_bytes = 4u << 20;
  };

  // Creates data_dir if needed, opens data_dir/usage.db. Throws
  // std::runtime_error when the database cannot be opened.
  explicit Ledger(const std::string& data_dir, Options opts);
  explicit Ledger(const std::string& data_dir) : Ledger(data_dir, Options{}) {}
  // Commits what is queued, then stops the threads.
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Completes when `r` is committed (full) or journaled (normal); throws
  // std::runtime_error if that failed.
  http::Awaitable<void> record(Record r);
  // Callback form (tests, non-coroutine callers): `done` runs on the writer
  // thread after the commit (full) or on the calling thread once the record
  // is journaled (normal), with a null exception_ptr on success.
  void record(Record r, std::function<void(std::exception_ptr)> done);

  // Blocking reads; thread-safe (serialised on the read connection). Prefer
  // query() from I/O threads.
  Totals totals(const Filter& f);
  std::vector<Record> records(const Filter& f, int limit, std::int64_t before_seq = 0);
  std::vector<Group> grouped(const Filter& f, GroupBy by);
  std::map<std::string, Totals> totals_by_key(const Filter& f);

  // Runs `fn(*this)` on the reader thread and returns its result.
  template <class Fn>
  auto query(Fn fn) -> http::Awaitable<decltype(fn(std::declval<Ledger&>()))> {
    using T = decltype(fn(std::declval<Ledger&>()));
    // Not a coroutine (see completion.hpp): a plain function posted to the
    // reader thread.
    return complete_from_thread<T>([this, fn = std::move(fn)](Done<T> done) mutable {
      boost::asio::post(reader_, [this, fn = std::move(fn), done = std::move(done)]() mutable {
        try {
          T out = fn(*this);
          done(nullptr, std::move(out));
        } catch (...) {
          done(std::current_exception(), T{});
        }
      });
    });
  }

  const std::string& path() const { return path_; }
  std::uint64_t committed() const;  // records written to SQLite since open
  std::uint64_t batches() const;    // transactions committed since open
  std::uint64_t recovered() const { return recovered_; }  // replayed from journals at open
  // Journal mode: write(2) calls that appended records (0 in full mode).
  std::uint64_t journal_writes() const { return journal_ ? journal_->writes() : 0; }

 private:
  struct Pending {
    Record record;
    std::function<void(std::exception_ptr)> done;  // full mode
    std::string file;                             // journal mode: where it is
    std::uint64_t seq = 0;
  };
  void writer_loop();
  bool commit_batch(std::vector<Pending>& batch);
  std::exception_ptr append_to_journal(Record r);
  // Appends `recs` with one write and queues them for SQLite; returns how
  // many are durable (all, unless `err` is set).
  std::size_t append_to_journal(std::vector<Record>& recs, std::exception_ptr& err);

  // Group append: the records waiting for one I/O context's next write.
  // Waiter is what use_awaitable's async_initiate hands over for a
  // void(std::exception_ptr) completion; storing it as is costs no allocation.
  // It is an asio::detail type: ledger.cpp static_asserts that it is what
  // async_initiate hands over, so a Boost upgrade that changes it fails to
  // compile rather than misbehave.
  using Waiter = boost::asio::detail::awaitable_handler<boost::asio::any_io_executor, std::exception_ptr>;
  struct Turn {
    const void* context = nullptr;  // the io_context whose handlers fill it
    std::mutex mu;
    std::vector<Record> records;
    std::vector<Waiter> waiters;
    bool flush_posted = false;
  };
  class TurnFlush;
  void join_turn(Record r, Waiter w);
  void flush_turn(Turn& t);
  std::mutex turns_mu_;
  std::vector<std::shared_ptr<Turn>> turns_;
  void recover_journals();
  // Journal mode: blocks until SQLite holds every record acknowledged so far.
  void catch_up();

  std::string path_;
  Options opts_;
  std::unique_ptr<sql::Db> write_db_;
  std::unique_ptr<sql::Db> read_db_;
  std::mutex read_mu_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  bool flush_now_ = false;  // a reader waits: commit without the batch window
  std::uint64_t committed_ = 0;
  std::uint64_t batches_ = 0;
  std::unique_ptr<Journal> journal_;  // journal mode only
  std::uint64_t appended_ = 0;         // last journal seq acknowledged
  std::uint64_t applied_ = 0;          // last journal seq in SQLite
  std::condition_variable applied_cv_;
  std::uint64_t recovered_ = 0;
  std::thread writer_;
  boost::asio::thread_pool reader_{1};
};

// Start of the current UTC day / month for `now_ms`, in ms since the epoch.
std::int64_t utc_day_start_ms(std::int64_t now_ms);
std::int64_t utc_month_start_ms(std::int64_t now_ms);
std::int64_t utc_next_month_start_ms(std::int64_t now_ms);
std::int64_t now_ms();

}  // namespace osprey::usage
