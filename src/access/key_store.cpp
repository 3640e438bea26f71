#include "access/key_store.hpp"

#include <chrono>
#include <filesystem>

#include "access/key_format.hpp"
#include "access/pepper.hpp"
#include "usage/sqlite.hpp"

namespace osprey::access {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  hash BLOB NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  last4 TEXT NOT NULL,
  scopes TEXT NOT NULL,
  models TEXT NOT NULL,
  rpm INTEGER NOT NULL DEFAULT 0,
  tpm INTEGER NOT NULL DEFAULT 0,
  ipm INTEGER NOT NULL DEFAULT 0,
  concurrency INTEGER NOT NULL DEFAULT 0,
  tokens_per_day INTEGER NOT NULL DEFAULT 0,
  usd_per_month REAL NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL DEFAULT 0
);
)sql";

constexpr const char* kColumns =
    "id, name, hash, prefix, last4, scopes, models, rpm, tpm, ipm, concurrency, tokens_per_day, usd_per_month, "
    "created_at, revoked_at";

std::string join(const auto& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

KeyRecord read_row(const usage::sql::Stmt& s) {
  KeyRecord r;
  r.id = s.text(0);
  r.name = s.text(1);
  r.hash = s.text(2);
  r.prefix = s.text(3);
  r.last4 = s.text(4);
  for (auto& x : parse_list(s.text(5))) r.scopes.insert(x);
  r.models = parse_list(s.text(6));
  r.limits.rpm = s.int64(7);
  r.limits.tpm = s.int64(8);
  r.limits.ipm = s.int64(9);
  r.limits.concurrency = s.int64(10);
  r.limits.tokens_per_day = s.int64(11);
  r.limits.usd_per_month = s.real(12);
  r.created_at = s.int64(13);
  r.revoked_at = s.int64(14);
  return r;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

KeyStore::KeyStore(const std::string& data_dir, std::string pepper) : pepper_(std::move(pepper)) {
  std::filesystem::create_directories(data_dir);
  db_ = std::make_unique<usage::sql::Db>((std::filesystem::path(data_dir) / "keys.db").string());
  db_->exec("PRAGMA journal_mode=WAL");
  // Creating or revoking a key must survive a power cut as much as a crash.
  db_->exec("PRAGMA synchronous=FULL");
  db_->exec(kSchema);
  gen_ = std::make_unique<KeyGeneration>(data_dir);
}

KeyStore::~KeyStore() = default;

std::string KeyStore::hash(std::string_view plaintext) const { return hash_key(pepper_, plaintext); }

std::int64_t KeyStore::data_version() { return db_->data_version(); }

KeyRecord KeyStore::insert(std::string_view plaintext, const KeySpec& spec) {
  KeyRecord r;
  r.id = generate_key_id();
  r.name = spec.name;
  r.hash = hash(plaintext);
  r.prefix = key_prefix(plaintext);
  r.last4 = key_last4(plaintext);
  r.scopes = spec.scopes;
  r.models = spec.models;
  r.limits = spec.limits;
  r.created_at = unix_now();
  usage::sql::Stmt s(*db_, std::string("INSERT INTO keys (") + kColumns +
                               ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,0)");
  s.bind(1, r.id);
  s.bind(2, r.name);
  s.bind_blob(3, r.hash);
  s.bind(4, r.prefix);
  s.bind(5, r.last4);
  s.bind(6, join(r.scopes));
  s.bind(7, join(r.models));
  s.bind(8, r.limits.rpm);
  s.bind(9, r.limits.tpm);
  s.bind(10, r.limits.ipm);
  s.bind(11, r.limits.concurrency);
  s.bind(12, r.limits.tokens_per_day);
  s.bind(13, r.limits.usd_per_month);
  s.bind(14, r.created_at);
  s.step();
  return r;
}

CreatedKey KeyStore::create(const KeySpec& spec) {
  validate(spec);
  CreatedKey out;
  out.plaintext = generate_key();
  out.record = insert(out.plaintext, spec);
  gen_->bump();
  return out;
}

bool KeyStore::import(std::string_view plaintext, const KeySpec& spec) {
  validate(spec);
  bool inserted = false;
  usage::sql::transaction(*db_, [&] {
    usage::sql::Stmt q(*db_, "SELECT 1 FROM keys WHERE hash = ?1");
    q.bind_blob(1, hash(plaintext));
    if (q.step()) return;
    insert(plaintext, spec);
    inserted = true;
  });
  if (inserted) gen_->bump();
  return inserted;
}

std::vector<KeyRecord> KeyStore::list() {
  usage::sql::Stmt s(*db_, std::string("SELECT ") + kColumns + " FROM keys ORDER BY created_at DESC, id");
  std::vector<KeyRecord> out;
  while (s.step()) out.push_back(read_row(s));
  return out;
}

std::optional<KeyRecord> KeyStore::get(const std::string& id) {
  usage::sql::Stmt s(*db_, std::string("SELECT ") + kColumns + " FROM keys WHERE id = ?1");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_row(s);
}

bool KeyStore::revoke(const std::string& id) {
  usage::sql::Stmt s(*db_, "UPDATE keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at = 0");
  s.bind(1, unix_now());
  s.bind(2, id);
  s.step();
  if (db_->changes() > 0) {
    gen_->bump();
    return true;
  }
  return get(id).has_value();
}

}  // namespace osprey::access
