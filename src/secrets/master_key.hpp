#pragma once
// MasterKey: the 32-byte key that seals `enc:` config values.
//
// Format of OSPREY_MASTER_KEY (or the file named by OSPREY_MASTER_KEY_FILE):
//   * base64 of exactly 32 bytes (what `osprey secrets keygen` prints), used
//     as is; or
//   * any other text of at least 12 characters: a passphrase, turned into a
//     key with BLAKE2b-256 (libsodium crypto_generichash) keyed with the
//     fixed context "osprey-master-v1". This is a fast hash, not a password
//     KDF: use a long random passphrase, or better a generated key.
//
//   MasterKey k = MasterKey::parse(text);   // throws SecretError on < 12 chars
//   std::string b64 = MasterKey::generate();

#include <array>
#include <stdexcept>
#include <string>
#include <string_view>

namespace osprey::secrets {

class SecretError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Calls sodium_init() once; throws SecretError if libsodium cannot start.
void ensure_sodium();

struct MasterKey {
  std::array<unsigned char, 32> bytes{};
  bool derived_from_passphrase = false;

  static MasterKey parse(std::string_view text);
  // A fresh random key, base64 (the format parse() takes first).
  static std::string generate();
};

}  // namespace osprey::secrets
