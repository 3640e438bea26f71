// kill -9 safety: a child process writes records under load from several
// threads and reports every acknowledged (committed) request id through a
// pipe; the parent SIGKILLs it mid-stream, reopens the ledger and checks
// that every acknowledged record is there.

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "usage/ledger.hpp"
#include "usage/sqlite.hpp"

using namespace osprey::usage;

namespace {

[[noreturn]] void child_main(const std::string& dir, int ack_fd, bool journal) {
  Ledger::Options opts;
  opts.synchronous_full = !journal;
  Ledger ledger(dir, opts);
  std::atomic<long> seq{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      for (;;) {
        auto id = "req-" + std::to_string(seq.fetch_add(1));
        Record r;
        r.ts_ms = now_ms();
        r.request_id = id;
        r.key_id = "key_crash";
        r.route = "/v1/detect";
        r.method = "POST";
        r.status = 200;
        std::promise<void> committed;
        ledger.record(std::move(r), [&](std::exception_ptr e) { committed.set_value(); });
        committed.get_future().wait();
        // Acknowledge only after the commit returned, as the server does
        // before it sends the response.
        std::string line = id + "\n";
        if (::write(ack_fd, line.data(), line.size()) < 0) ::_exit(3);
      }
    });
  }
  for (auto& w : writers) w.join();
  ::_exit(0);
}

// journal: the server's default mode (synchronous=normal), where a record is
// acknowledged once it is in the journal file and SQLite catches up later.
void crash_and_check(bool journal) {
  std::random_device rd;
  auto dir = (std::filesystem::temp_directory_path() / ("osprey-crash-" + std::to_string(rd()))).string();
  std::filesystem::create_directories(dir);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    child_main(dir, fds[1], journal);
  }
  ::close(fds[1]);
  std::set<std::string> acked;
  std::string buf;
  char chunk[4096];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool killed = false;
  for (;;) {
    if (!killed && (acked.size() >= 3000 || std::chrono::steady_clock::now() > deadline)) {
      ::kill(pid, SIGKILL);  // mid-stream: commits are in flight right now
      killed = true;
    }
    ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;  // EOF once the child is dead and the pipe drained
    buf.append(chunk, static_cast<std::size_t>(n));
    std::size_t pos;
    while ((pos = buf.find('\n')) != std::string::npos) {
      acked.insert(buf.substr(0, pos));
      buf.erase(0, pos + 1);
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child exited on its own: " << status;
  ASSERT_GT(acked.size(), 100u) << "the child committed too little to test anything";

  Ledger reopened(dir);
  std::set<std::string> stored;
  sql::Db db(reopened.path());
  sql::Stmt s(db, "SELECT request_id FROM usage");
  while (s.step()) stored.insert(s.text(0));
  std::size_t missing = 0;
  for (const auto& id : acked)
    if (!stored.count(id)) ++missing;
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged records";
  // Records may exist that were committed but not yet acknowledged.
  EXPECT_GE(stored.size(), acked.size());
  testing::Test::RecordProperty("acknowledged", static_cast<int>(acked.size()));
  testing::Test::RecordProperty("recovered_from_journal", static_cast<int>(reopened.recovered()));
  // The replayed journal files are gone.
  for (const auto& e : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().rfind("usage-journal-", 0), std::string::npos) << e.path();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace

TEST(LedgerCrash, EveryAcknowledgedRecordSurvivesSigkill) { crash_and_check(false); }

TEST(LedgerCrash, EveryJournaledRecordSurvivesSigkill) { crash_and_check(true); }
