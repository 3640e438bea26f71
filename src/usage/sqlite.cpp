#include "usage/sqlite.hpp"

#include <sqlite3.h>

#include <stdexcept>

namespace osprey::usage::sql {

namespace {
[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw std::runtime_error("sqlite: " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

// Process-wide settings, made once before the first connection (SQLite
// refuses them once it is initialized). Memory statistics off: with them on,
// every allocation SQLite makes and frees takes a global mutex (about eight
// lock/unlock pairs per usage record the ledger writes), for figures
// nothing here reads.
void configure_once() {
  static const bool done = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)done;
}

}  // namespace

Db::Db(const std::string& path, bool read_only) : path_(path) {
  configure_once();
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;  // one connection per thread, by contract
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("sqlite: cannot open " + path + ": " + msg);
  }
  // Other processes (the `osprey keys` CLI) may hold the write lock briefly.
  sqlite3_busy_timeout(db_, 5000);
}

Db::~Db() {
  cached_.clear();  // finalized before the connection closes
  sqlite3_close_v2(db_);
}

Stmt& Db::cached(const std::string& sql) {
  auto it = cached_.find(sql);
  if (it == cached_.end()) it = cached_.emplace(sql, std::make_unique<Stmt>(*this, sql)).first;
  it->second->reset();
  return *it->second;
}

void Db::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw std::runtime_error("sqlite: " + sql + ": " + msg);
  }
}

std::int64_t Db::changes() const { return sqlite3_changes(db_); }

std::int64_t Db::data_version() {
  Stmt s(*this, "PRAGMA data_version");
  return s.step() ? s.int64(0) : 0;
}

Stmt::Stmt(Db& db, std::string_view sql) : db_(db), sql_(sql) {
  if (sqlite3_prepare_v2(db.raw(), sql_.c_str(), static_cast<int>(sql_.size()), &stmt_, nullptr) != SQLITE_OK)
    fail(db.raw(), "prepare " + sql_);
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

void Stmt::bind(int i, std::int64_t v) {
  if (sqlite3_bind_int64(stmt_, i, v) != SQLITE_OK) fail(db_.raw(), "bind " + sql_);
}
void Stmt::bind(int i, double v) {
  if (sqlite3_bind_double(stmt_, i, v) != SQLITE_OK) fail(db_.raw(), "bind " + sql_);
}
void Stmt::bind(int i, std::string_view v) {
  if (sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) != SQLITE_OK)
    fail(db_.raw(), "bind " + sql_);
}
void Stmt::bind_ref(int i, std::string_view v) {
  if (sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC) != SQLITE_OK)
    fail(db_.raw(), "bind " + sql_);
}
void Stmt::bind_blob(int i, std::string_view v) {
  if (sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) != SQLITE_OK)
    fail(db_.raw(), "bind " + sql_);
}
void Stmt::bind_null(int i) {
  if (sqlite3_bind_null(stmt_, i) != SQLITE_OK) fail(db_.raw(), "bind " + sql_);
}

bool Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_.raw(), "step " + sql_);
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Stmt::int64(int col) const { return sqlite3_column_int64(stmt_, col); }
double Stmt::real(int col) const { return sqlite3_column_double(stmt_, col); }
std::string Stmt::text(int col) const {
  auto* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string();
}
bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

}  // namespace osprey::usage::sql
