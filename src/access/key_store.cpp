#include "access/key_store.hpp"

#include <filesystem>
#include <set>
#include <utility>

#include "access/key_format.hpp"
#include "access/pepper.hpp"
#include "common/error.hpp"
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
  revoked_at INTEGER NOT NULL DEFAULT 0,
  expires_at INTEGER NOT NULL DEFAULT 0,
  rotated_from TEXT
);
)sql";

// Columns added after the first release, with how to add each to an older
// keys.db (existing keys get the default: no expiry, not rotated).
constexpr std::pair<const char*, const char*> kAddedColumns[] = {
    {"expires_at", "ALTER TABLE keys ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0"},
    {"rotated_from", "ALTER TABLE keys ADD COLUMN rotated_from TEXT"},
};

constexpr const char* kColumns =
    "id, name, hash, prefix, last4, scopes, models, rpm, tpm, ipm, concurrency, tokens_per_day, usd_per_month, "
    "created_at, revoked_at, expires_at, rotated_from";

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
  r.expires_at = s.int64(15);
  if (!s.is_null(16)) r.rotated_from = s.text(16);
  return r;
}

std::set<std::string> column_names(usage::sql::Db& db) {
  std::set<std::string> out;
  usage::sql::Stmt s(db, "PRAGMA table_info(keys)");
  while (s.step()) out.insert(s.text(1));
  return out;
}

}  // namespace

KeyStore::KeyStore(const std::string& data_dir, std::string pepper) : pepper_(std::move(pepper)) {
  std::filesystem::create_directories(data_dir);
  db_ = std::make_unique<usage::sql::Db>((std::filesystem::path(data_dir) / "keys.db").string());
  db_->exec("PRAGMA journal_mode=WAL");
  // Creating or revoking a key must survive a power cut as much as a crash.
  db_->exec("PRAGMA synchronous=FULL");
  db_->exec(kSchema);
  migrate();
  gen_ = std::make_unique<KeyGeneration>(data_dir);
}

void KeyStore::migrate() {
  auto missing = [this] {
    auto have = column_names(*db_);
    for (const auto& [name, sql] : kAddedColumns)
      if (!have.count(name)) return true;
    return false;
  };
  if (!missing()) return;
  // Checked again under the write lock: another process opening the same
  // old file may have added the columns meanwhile.
  usage::sql::transaction(*db_, [&] {
    auto have = column_names(*db_);
    for (const auto& [name, sql] : kAddedColumns)
      if (!have.count(name)) db_->exec(sql);
  });
}

KeyStore::~KeyStore() = default;

std::string KeyStore::hash(std::string_view plaintext) const { return hash_key(pepper_, plaintext); }

std::int64_t KeyStore::data_version() { return db_->data_version(); }

KeyRecord KeyStore::insert(std::string_view plaintext, const KeySpec& spec, const std::string& rotated_from) {
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
  r.expires_at = spec.expires_at;
  r.rotated_from = rotated_from;
  usage::sql::Stmt s(*db_, std::string("INSERT INTO keys (") + kColumns +
                               ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,0,?15,?16)");
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
  s.bind(15, r.expires_at);
  if (r.rotated_from.empty()) s.bind_null(16);
  else s.bind(16, r.rotated_from);
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

std::optional<std::string> KeyStore::successor(const std::string& id) {
  usage::sql::Stmt s(*db_, "SELECT id FROM keys WHERE rotated_from = ?1 LIMIT 1");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return s.text(0);
}

std::optional<RotatedKey> KeyStore::rotate(const std::string& id, std::int64_t grace_seconds) {
  if (grace_seconds < 0 || grace_seconds > kMaxDurationSeconds)
    throw bad_request("grace must be between 0 (revoke the old key at once) and 100 years", "grace_seconds");
  std::optional<RotatedKey> out;
  // One transaction: the new key never exists without the old one being
  // shortened, and two rotations of one key cannot both pass the checks.
  usage::sql::transaction(*db_, [&] {
    auto old = get(id);
    if (!old || old->revoked()) return;
    auto now = unix_now();
    if (old->expired(now))
      throw ApiError(409, "key " + id + " expired at " + utc_time(old->expires_at) + "; create a new key instead",
                     "invalid_request_error", "key_expired");
    if (auto next = successor(id))
      throw ApiError(409, "key " + id + " was already rotated to " + *next + "; rotate that key instead",
                     "invalid_request_error", "key_already_rotated");
    KeySpec spec{old->name, old->scopes, old->models, old->limits, old->expires_at};
    RotatedKey r;
    r.key.plaintext = generate_key();
    r.key.record = insert(r.key.plaintext, spec, old->id);
    r.previous = *old;
    if (grace_seconds == 0) {
      r.previous.revoked_at = now;
      usage::sql::Stmt s(*db_, "UPDATE keys SET revoked_at = ?1 WHERE id = ?2");
      s.bind(1, now);
      s.bind(2, id);
      s.step();
    } else {
      auto until = now + grace_seconds;
      if (old->expires_at == 0 || until < old->expires_at) r.previous.expires_at = until;
      usage::sql::Stmt s(*db_, "UPDATE keys SET expires_at = ?1 WHERE id = ?2");
      s.bind(1, r.previous.expires_at);
      s.bind(2, id);
      s.step();
    }
    out = std::move(r);
  });
  if (out) gen_->bump();
  return out;
}

}  // namespace osprey::access
