// The ledger in journal mode (synchronous=normal): records are acknowledged
// once journaled, reads still see them, a torn journal tail is skipped,
// rotation deletes applied files, and a live process's journal is never
// taken for an orphan.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>

#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <csignal>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/thread_load.hpp"
#include "usage/journal.hpp"
#include "usage/ledger.hpp"

using namespace osprey::usage;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("osprey-journal-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
  int journal_files() const {
    int n = 0;
    for (const auto& e : fs::directory_iterator(path))
      if (e.path().filename().string().rfind("usage-journal-", 0) == 0) ++n;
    return n;
  }
};

Record rec(int i) {
  Record r;
  r.ts_ms = now_ms();
  r.request_id = "req-" + std::to_string(i);
  r.key_id = "key_j";
  r.route = "/v1/chat/completions";
  r.method = "POST";
  r.model = "gpt-4o-mini";
  r.status = 200;
  r.prompt_tokens = 10;
  r.completion_tokens = i;
  r.cost_usd = 0.001;
  return r;
}

Ledger::Options journal_mode(std::chrono::milliseconds window) {
  Ledger::Options o;
  o.synchronous_full = false;
  o.batch_window = window;
  return o;
}

void record_sync(Ledger& l, Record r) {
  std::exception_ptr err;
  bool called = false;
  l.record(std::move(r), [&](std::exception_ptr e) {
    err = e;
    called = true;
  });
  // Journal mode acknowledges on the calling thread, before returning.
  ASSERT_TRUE(called);
  if (err) std::rethrow_exception(err);
}

}  // namespace

TEST(LedgerJournal, ReadsSeeEveryAcknowledgedRecordAtOnce) {
  TempDir dir;
  // A batch window far longer than the test: only the read's flush can
  // put the records into SQLite in time.
  Ledger l(dir.str(), journal_mode(std::chrono::seconds(30)));
  for (int i = 0; i < 25; ++i) record_sync(l, rec(i));
  auto t = l.totals({});
  EXPECT_EQ(t.requests, 25);
  EXPECT_EQ(t.completion_tokens, 24 * 25 / 2);
  EXPECT_EQ(l.records({}, 100).size(), 25u);
}

TEST(LedgerJournal, ShutdownAppliesEverythingAndRemovesTheJournal) {
  TempDir dir;
  {
    Ledger l(dir.str(), journal_mode(std::chrono::seconds(30)));
    for (int i = 0; i < 40; ++i) record_sync(l, rec(i));
    EXPECT_EQ(dir.journal_files(), 1);
  }
  EXPECT_EQ(dir.journal_files(), 0);
  Ledger again(dir.str());
  EXPECT_EQ(again.recovered(), 0u);
  EXPECT_EQ(again.totals({}).requests, 40);
}

TEST(LedgerJournal, RotatedFilesAreDeletedOnceApplied) {
  TempDir dir;
  auto opts = journal_mode(std::chrono::milliseconds(1));
  opts.journal_rotate_bytes = 2000;  // a few records per file
  Ledger l(dir.str(), opts);
  for (int i = 0; i < 300; ++i) {
    record_sync(l, rec(i));
    if (i % 20 == 19) EXPECT_EQ(l.totals({}).requests, i + 1);  // lets the writer rotate
  }
  EXPECT_EQ(l.totals({}).requests, 300);
  EXPECT_LE(dir.journal_files(), 2) << "applied journal files must not pile up";
}

TEST(LedgerJournal, TornTailIsSkippedAndTheRestRecovered) {
  TempDir dir;
  std::string file;
  {
    Journal j(dir.str());
    for (int i = 0; i < 7; ++i) file = j.append(rec(i)).file;
    // The process dies in the middle of the 8th line (power loss).
    std::ofstream(dir.path / file, std::ios::app) << R"({"s":8,"ts":1,"rid":"req-7","ke)";
  }  // closed without retiring: as if the process had been killed
  ASSERT_EQ(dir.journal_files(), 1);
  Ledger l(dir.str());
  EXPECT_EQ(l.recovered(), 7u);
  EXPECT_EQ(l.totals({}).requests, 7);
  EXPECT_EQ(dir.journal_files(), 0);
}

TEST(LedgerJournal, RecoveryDoesNotReplayWhatSqliteAlreadyHas) {
  TempDir dir;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: 10 records reach SQLite (the read flushes them), 5 more only
    // the journal; then it dies without any cleanup, like kill -9.
    Ledger l(dir.str(), journal_mode(std::chrono::seconds(30)));
    for (int i = 0; i < 10; ++i) l.record(rec(i), [](std::exception_ptr) {});
    if (l.totals({}).requests != 10) ::_exit(2);
    for (int i = 10; i < 15; ++i) l.record(rec(i), [](std::exception_ptr) {});
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_EQ(dir.journal_files(), 1);
  Ledger reopened(dir.str());
  EXPECT_EQ(reopened.recovered(), 5u);  // not 15: the first 10 were applied
  EXPECT_EQ(reopened.totals({}).requests, 15);
  EXPECT_EQ(dir.journal_files(), 0);
}

TEST(LedgerJournal, LiveJournalOfAnotherLedgerIsNotAnOrphan) {
  TempDir dir;
  Ledger writer(dir.str(), journal_mode(std::chrono::seconds(30)));
  for (int i = 0; i < 12; ++i) record_sync(writer, rec(i));
  {
    // A second opener of the same data directory (another process, a CLI)
    // must leave the live journal alone.
    Ledger other(dir.str());
    EXPECT_EQ(other.recovered(), 0u);
  }
  EXPECT_EQ(dir.journal_files(), 1);
  EXPECT_EQ(writer.totals({}).requests, 12);
}

TEST(LedgerJournal, StringsWithQuotesControlsAndBadUtf8RoundTrip) {
  TempDir dir;
  {
    Journal j(dir.str());
    Record r = rec(1);
    r.model = std::string("gpt \"4o\" \\ mini\n\x01 caf\xc3\xa9 ") + "\xff!";
    r.latency_ms = 12.345678901234567;
    r.cost_usd = 1e-9;
    j.append(r);
  }  // left behind, as after a crash
  Ledger l(dir.str());
  ASSERT_EQ(l.recovered(), 1u);
  auto rows = l.records({}, 10);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].model, std::string("gpt \"4o\" \\ mini\n\x01 caf\xc3\xa9 ") + "\xef\xbf\xbd!");
  EXPECT_DOUBLE_EQ(rows[0].latency_ms, 12.345678901234567);
  EXPECT_DOUBLE_EQ(rows[0].cost_usd, 1e-9);
  EXPECT_EQ(rows[0].request_id, "req-1");
}

namespace {

// Starts n coroutines on `ioc` that each co_await record(); counts the
// acknowledgements in `acked` and the failures in `failed`. Like n requests
// a server thread has read, they count as in flight on the calling thread
// (which must be the one that runs `ioc`) from now until each has finished.
void spawn_records(boost::asio::io_context& ioc, Ledger& l, int first, int n, std::atomic<int>& acked,
                   std::atomic<int>& failed) {
  for (int i = first; i < first + n; ++i) {
    boost::asio::co_spawn(
        ioc,
        [&l, &acked, &failed, i, in_flight = std::make_shared<osprey::http::InFlightOnThisThread>()]()
            -> boost::asio::awaitable<void> {
          try {
            auto commit = l.record(rec(i));  // named: see usage/completion.hpp
            co_await std::move(commit);
            ++acked;
          } catch (...) {
            ++failed;
          }
        },
        boost::asio::detached);
  }
}

}  // namespace

TEST(LedgerJournal, RecordsOfOneEventLoopTurnShareOneWrite) {
  TempDir dir;
  Ledger l(dir.str(), journal_mode(std::chrono::seconds(30)));
  boost::asio::io_context ioc;
  std::atomic<int> acked{0}, failed{0};
  // 64 requests finishing in the same turn: one write(2) carries them all.
  spawn_records(ioc, l, 0, 64, acked, failed);
  ioc.run();
  EXPECT_EQ(acked, 64);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(l.journal_writes(), 1u);
  // A later turn gets a write of its own.
  ioc.restart();
  spawn_records(ioc, l, 64, 3, acked, failed);
  ioc.run();
  EXPECT_EQ(acked, 67);
  EXPECT_EQ(l.journal_writes(), 2u);
  auto t = l.totals({});
  EXPECT_EQ(t.requests, 67);
  EXPECT_EQ(t.completion_tokens, 66 * 67 / 2);
}

TEST(LedgerJournal, ALoneRequestIsAppendedAtOnce) {
  // Nothing else in flight on the thread: nothing could share the write, so
  // record() appends before it returns rather than after a post.
  TempDir dir;
  Ledger l(dir.str(), journal_mode(std::chrono::seconds(30)));
  boost::asio::io_context ioc;
  int acked = 0;
  std::uint64_t writes_before_await = 0;
  boost::asio::co_spawn(
      ioc,
      [&]() -> boost::asio::awaitable<void> {
        osprey::http::InFlightOnThisThread me;
        auto commit = l.record(rec(7));  // named: see usage/completion.hpp
        writes_before_await = l.journal_writes();
        co_await std::move(commit);
        ++acked;
      },
      boost::asio::detached);
  ioc.run();
  EXPECT_EQ(acked, 1);
  EXPECT_EQ(writes_before_await, 1u);
  EXPECT_EQ(l.totals({}).requests, 1);
}

TEST(LedgerJournal, GroupAppendFromSeveralIoThreads) {
  TempDir dir;
  Ledger l(dir.str(), journal_mode(std::chrono::milliseconds(5)));
  std::atomic<int> acked{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        boost::asio::io_context ioc;
        spawn_records(ioc, l, t * 10000 + round * 100, 25, acked, failed);
        ioc.run();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(acked, 3 * 20 * 25);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(l.totals({}).requests, 3 * 20 * 25);
  EXPECT_LE(l.journal_writes(), 3u * 20u);
  auto rows = l.records({}, 5000);
  std::set<std::string> ids;
  for (const auto& r : rows) ids.insert(r.request_id);
  EXPECT_EQ(ids.size(), 1500u);  // each exactly once
}

TEST(LedgerJournal, IoContextGoneBeforeTheTurnsWriteLeavesNoStuckTurn) {
  TempDir dir;
  Ledger l(dir.str(), journal_mode(std::chrono::milliseconds(5)));
  std::atomic<int> acked{0}, failed{0};
  {
    // Records join a turn, then the context is destroyed before it ran the
    // turn's write (a shutdown with requests in flight).
    boost::asio::io_context ioc;
    spawn_records(ioc, l, 0, 5, acked, failed);
    ioc.run_one();  // the first coroutine joins and posts the write
  }
  EXPECT_EQ(acked, 0);
  // Contexts made later (one may get the same address) are served.
  for (int round = 0; round < 5; ++round) {
    boost::asio::io_context ioc;
    spawn_records(ioc, l, 100 + round * 10, 4, acked, failed);
    ioc.run();
  }
  EXPECT_EQ(acked, 20);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(l.totals({}).requests, 20);
}

TEST(LedgerJournal, ShortWriteAcknowledgesOnlyTheWholeLines) {
  TempDir dir;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: the file may grow by one and a half lines more (a disk that
    // fills up mid-write); a group of three then gets one line through.
    Journal j(dir.str());
    j.append(rec(0));
    j.append(rec(1));
    std::uintmax_t size = 0;
    for (const auto& e : fs::directory_iterator(dir.path)) size = e.file_size();
    std::uintmax_t line = size / 2;
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{static_cast<rlim_t>(size + line + line / 2), RLIM_INFINITY};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(4);
    auto a = j.append(std::vector<Record>{rec(2), rec(3), rec(4)});
    if (!a.error) ::_exit(5);
    if (a.durable != 1) ::_exit(10 + static_cast<int>(a.durable));
    if (a.first.seq != 3) ::_exit(6);
    ::_exit(0);  // no cleanup: the journal stays, as after a crash
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child exit " << WEXITSTATUS(status);
  auto orphans = Journal::orphans(dir.str());
  ASSERT_EQ(orphans.size(), 1u);
  std::size_t skipped = 0;
  auto recs = Journal::read_records(dir.str(), orphans[0], skipped);
  ASSERT_EQ(recs.size(), 3u);  // two single appends and the durable one
  EXPECT_EQ(recs[2].first, 3u);
  EXPECT_EQ(recs[2].second.request_id, "req-2");
  EXPECT_EQ(skipped, 1u);  // the torn half line
  for (auto& o : orphans) Journal::retire_orphan(dir.str(), o);
}
