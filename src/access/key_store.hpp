#pragma once
// KeyStore: client API keys in SQLite (data_dir/keys.db, WAL).
//
//   KeyStore store(cfg.data_dir, resolve_pepper(cfg.access.pepper, cfg.data_dir));
//   auto created = store.create(spec);   // created.plaintext: show it once
//   store.revoke(created.record.id);
//
// Keys live in their own database file, apart from the usage ledger, so
// that the ledger's steady stream of group commits never delays a key
// being created or revoked (and `osprey keys` from another process only
// contends with the server for this small file).
//
// Not thread-safe: one KeyStore per thread (AccessService owns one and
// serialises access to it).

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

  std::string hash(std::string_view plaintext) const;
  // Changes whenever another connection (another process) changed keys.db.
  std::int64_t data_version();
  // Bumped after every change committed through any KeyStore on this data
  // dir, in any process (see key_generation.hpp).
  const KeyGeneration& generation() const { return *gen_; }

 private:
  KeyRecord insert(std::string_view plaintext, const KeySpec& spec);
  std::string pepper_;
  std::unique_ptr<usage::sql::Db> db_;
  std::unique_ptr<KeyGeneration> gen_;
};

}  // namespace osprey::access
