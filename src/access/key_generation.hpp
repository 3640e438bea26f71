#pragma once
// KeyGeneration: a counter, shared by every process that opens the same
// data dir, that goes up each time a key is created or revoked there.
//
//   KeyGeneration gen(cfg.data_dir);
//   auto before = gen.current();   // what the cached keys were read at
//   ... commit a change to keys.db ...
//   gen.bump();                    // after the commit, never before
//   if (gen.current() != before) { /* re-read the keys */ }
//
// Why: the server answers from a snapshot of keys.db, and `osprey keys
// create` / `keys revoke` run in another process. Polling SQLite bounds how
// stale the snapshot is, but a user who creates a key and sends a request at
// once (or revokes a leaked key) needs the very next request to see it.
// Reading this counter is one load from shared memory, cheap enough for
// every authenticated request; since the writer bumps it only after its
// commit, a reader that sees the new value and then reads keys.db sees the
// change.
//
// The counter is the first 8 bytes of data_dir/keys.gen, mapped shared
// (created 0600 when missing). When the file cannot be mapped (a read-only
// or odd file system) current() stays 0 and bump() does nothing: the
// server's poller still picks changes up, only not on the next request.

#include <cstdint>
#include <string>

namespace osprey::access {

class KeyGeneration {
 public:
  explicit KeyGeneration(const std::string& data_dir);
  ~KeyGeneration();
  KeyGeneration(const KeyGeneration&) = delete;
  KeyGeneration& operator=(const KeyGeneration&) = delete;

  std::uint64_t current() const;
  void bump();
  bool shared() const { return word_ != nullptr; }

 private:
  std::uint64_t* word_ = nullptr;  // in the mapping; accessed only through std::atomic_ref
  void* map_ = nullptr;
};

}  // namespace osprey::access
