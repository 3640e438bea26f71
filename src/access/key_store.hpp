#pragma once
// KeyStore: client API keys in SQLite (data_dir/keys.db, WAL).
//
//   KeyStore store(cfg.data_dir, resolve_pepper(cfg.access.pepper, cfg.data_dir));
//   auto created = store.create(spec);   // created.plaintext: show it once
//   store.revoke(created.record.id);
//   auto rotated = store.rotate(id, 24 * 3600);  // new key; the old one works 24 h more
//
// Keys live in their own database file, apart from the usage ledger, so
// that the ledger's steady stream of group commits never delays a key
// being created or revoked (and `osprey keys` from another process only
// contends with the server for this small file).
//
// Not thread-safe: one KeyStore per thread (AccessService owns one and
// serialises access to it).
//
// Schema changes are additive columns with defaults (expires_at,
// rotated_from), added when an older keys.db is opened: a server and an
// `osprey keys` of different versions can share one file.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "access/key.hpp"
#include "access/key_generation.hpp"

namespace osprey::usage::sql {
class Db;
}

namespace osprey::access {

struct CreatedKey {
  KeyRecord record;
  std::string plaintext;  // the full key; never stored, shown once
};

struct RotatedKey {
  CreatedKey key;       // the new key (record.rotated_from = previous.id)
  KeyRecord previous;   // the old key as it is now: shorter expires_at, or revoked
};

class KeyStore {
 public:
  KeyStore(const std::string& data_dir, std::string pepper);
  ~KeyStore();
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // Validates `spec` (ApiError 400) and stores a new random key.
  CreatedKey create(const KeySpec& spec);
  // Stores a key whose plaintext was chosen elsewhere (the bootstrap admin
  // key) unless its hash is already present. Returns true if inserted.
  bool import(std::string_view plaintext, const KeySpec& spec);

  std::vector<KeyRecord> list();  // newest first, revoked included
  std::optional<KeyRecord> get(const std::string& id);
  // Sets revoked_at; false when no such key. Revoking twice is a no-op.
  bool revoke(const std::string& id);
  // Replaces key `id` by a new key (new id, new secret) with the same name,
  // scopes, models, limits and expiry, so clients can move over while the
  // old key keeps working for `grace_seconds` more: its expires_at becomes
  // now + grace, or stays if it was already sooner (rotation never extends
  // a key). Grace 0 revokes the old key at once. A new id rather than a new
  // secret for the same id keeps each ledger row tied to the secret that
  // made it. nullopt when no such key or it is revoked; ApiError 409 when
  // it has expired or was already rotated (rotate its successor instead);
  // ApiError 400 for a grace < 0 or over kMaxDurationSeconds.
  std::optional<RotatedKey> rotate(const std::string& id, std::int64_t grace_seconds);

  std::string hash(std::string_view plaintext) const;
  // Changes whenever another connection (another process) changed keys.db.
  std::int64_t data_version();
  // Bumped after every change committed through any KeyStore on this data
  // dir, in any process (see key_generation.hpp).
  const KeyGeneration& generation() const { return *gen_; }

 private:
  KeyRecord insert(std::string_view plaintext, const KeySpec& spec, const std::string& rotated_from = {});
  void migrate();
  std::optional<std::string> successor(const std::string& id);
  std::string pepper_;
  std::unique_ptr<usage::sql::Db> db_;
  std::unique_ptr<KeyGeneration> gen_;
};

}  // namespace osprey::access
