#pragma once
// Journal: the usage ledger's append-only log, the point where a record
// counts as committed when the ledger runs with synchronous=normal.
//
//   Journal j(data_dir);                 // a new file of this process
//   auto [file, seq] = j.append(rec);    // one write(2); the record is safe
//   ...                                  // from here on against kill -9
//   auto a = j.append(records);          // several records, one write(2)
//   auto old = j.rotate_if_larger(4 << 20);  // writer thread, between batches
//   j.retire(old.file);                  // once SQLite holds all its records
//
//   for (auto& f : Journal::orphans(data_dir)) { ... read_records(f) ... }
//
// Why: committing each request's record to SQLite before its response (the
// ledger's promise) cost a thread hop plus a 50-60 us transaction on every
// request. A write(2) into the page cache survives the process being
// killed just the same (it is what SQLite's WAL with synchronous=NORMAL
// gives too), and costs a few microseconds on the calling thread. Redis's
// AOF makes the same trade. The ledger's writer thread then copies records
// into SQLite in large batches and retires journal files it has applied.
//
// Files: data_dir/usage-journal-<pid>-<start ms>-<n>.log, one JSON object
// per line: {"s":seq,...record}. Each live file is held with an
// exclusive flock, so another process opening the same data directory
// never takes it for an orphan; a killed process's locks go with it.
// A torn last line (power loss) is skipped with a warning.

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace osprey::usage {

struct Record;

class Journal {
 public:
  // Creates the first file; throws std::runtime_error if it cannot.
  explicit Journal(std::string data_dir);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  struct Position {
    std::string file;   // the file's name (no directory)
    std::uint64_t seq;  // 1, 2, ... within this Journal, across its files
  };
  // Thread-safe. Throws std::runtime_error when the write fails (disk full):
  // the record is then not committed.
  Position append(const Record& r);
  // Appends `records` as consecutive lines (seq first.seq, first.seq + 1,
  // ...) with one write(2): the ledger groups the records an I/O thread
  // produces in one turn of its event loop, so a busy server pays one
  // system call for many requests. When the write fails part-way, `error`
  // is set and `durable` says how many leading records are nonetheless
  // whole on disk (they will be replayed, so they count as committed).
  struct Appended {
    Position first;
    std::size_t durable = 0;
    std::exception_ptr error;
  };
  Appended append(const std::vector<Record>& records);
  // write(2) calls made by append() so far (one per append, more after a
  // short write): records / writes is what group append saves.
  std::uint64_t writes() const { return writes_.load(std::memory_order_relaxed); }

  // Starts a new file when the current one is larger than `bytes`; returns
  // the file that was current and its last seq ({"", 0} when nothing changed).
  Position rotate_if_larger(std::uint64_t bytes);
  // Deletes a file whose records are all in SQLite (not the current one).
  void retire(const std::string& file);
  // Deletes every file (the ledger has applied all of them, at shutdown).
  void retire_all();

  // Journal files in data_dir that no live process holds, oldest first
  // (each is locked by this call until retire_orphan()).
  struct Orphan {
    std::string file;
    int fd = -1;
  };
  static std::vector<Orphan> orphans(const std::string& data_dir);
  // The records of an orphan, with their sequence numbers; torn or
  // malformed lines are skipped (and counted in `skipped`).
  static std::vector<std::pair<std::uint64_t, Record>> read_records(const std::string& data_dir, const Orphan& o,
                                                                    std::size_t& skipped);
  static void retire_orphan(const std::string& data_dir, Orphan& o);

 private:
  void open_next();

  std::string dir_;
  std::string stem_;  // usage-journal-<pid>-<start ms>
  std::mutex mu_;
  int fd_ = -1;
  std::string current_;
  int counter_ = 0;
  std::uint64_t size_ = 0;
  std::uint64_t seq_ = 0;
  std::vector<std::pair<std::string, int>> retired_later_;  // rotated files still open (locked)
  std::atomic<std::uint64_t> writes_{0};
  std::string line_;  // scratch, under mu_
};

}  // namespace osprey::usage
