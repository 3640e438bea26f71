#pragma once
// Thin RAII wrapper over the SQLite C API, shared by the usage ledger and the
// key store (access/).
//
//   sql::Db db(path);                       // opens or creates, busy timeout set
//   db.exec("PRAGMA journal_mode=WAL");
//   sql::Stmt s(db, "SELECT n FROM t WHERE id = ?");
//   s.bind(1, id);
//   while (s.step()) use(s.int64(0));
//
// A statement run again and again (the ledger's inserts, BEGIN and COMMIT)
// is compiled once and kept by the Db:
//
//   auto& ins = db.cached("INSERT INTO t (id) VALUES (?)");  // reset, ready
//   ins.bind(1, id);
//   ins.step();
//   ins.reset();
//
// Every failure throws std::runtime_error with SQLite's message and the SQL.
// A Db is not thread-safe: each thread that needs one opens its own.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace osprey::usage::sql {

class Stmt;

class Db {
 public:
  explicit Db(const std::string& path, bool read_only = false);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const std::string& sql);
  sqlite3* raw() const { return db_; }
  const std::string& path() const { return path_; }
  std::int64_t changes() const;
  // PRAGMA data_version: changes when another connection commits.
  std::int64_t data_version();

  // The statement for `sql`, compiled on first use and kept until the Db
  // closes; reset (bindings cleared) on every call, so a use that threw
  // midway leaves nothing behind. For statements that run to completion
  // (writes, BEGIN, COMMIT): a SELECT left unfinished would keep its read
  // transaction open until the next call.
  Stmt& cached(const std::string& sql);

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
  std::unordered_map<std::string, std::unique_ptr<Stmt>> cached_;
};

class Stmt {
 public:
  Stmt(Db& db, std::string_view sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Parameters are 1-based, as in SQLite.
  void bind(int i, std::int64_t v);
  void bind(int i, int v) { bind(i, static_cast<std::int64_t>(v)); }
  void bind(int i, double v);
  void bind(int i, std::string_view v);  // copied
  // Not copied: `v` must stay alive until the statement is stepped and reset.
  void bind_ref(int i, std::string_view v);
  void bind_blob(int i, std::string_view v);
  void bind_null(int i);

  // Returns true while a row is available; false when done.
  bool step();
  void reset();  // for reuse: clears bindings too

  // Columns are 0-based.
  std::int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  bool is_null(int col) const;

 private:
  Db& db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
};

// Runs `fn` inside BEGIN IMMEDIATE ... COMMIT, rolling back if it throws.
// A COMMIT that fails (the database busy past the timeout, a deferred
// constraint) rolls back too, so the next transaction starts clean. BEGIN and
// COMMIT are cached statements: the ledger commits a batch every few
// milliseconds, and compiling them each time showed in its profile.
template <class Fn>
void transaction(Db& db, Fn&& fn) {
  db.cached("BEGIN IMMEDIATE").step();
  try {
    fn();
    db.cached("COMMIT").step();
  } catch (...) {
    try {
      db.exec("ROLLBACK");
    } catch (...) {
    }
    throw;
  }
}

}  // namespace osprey::usage::sql
