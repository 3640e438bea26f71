#pragma once
// Sealed values: `enc:<base64(nonce || secretbox(plaintext))>`, libsodium
// crypto_secretbox (XSalsa20-Poly1305) with a random 24-byte nonce prepended,
// keyed by the MasterKey. This is what `osprey secrets encrypt` prints and
// what config values and environment variables may hold instead of plain
// secrets.
//
//   std::string v = seal("sk-...", key);          // "enc:..."
//   std::string p = unseal(v, key);               // throws SecretError if the
//                                                 // key is wrong or v is corrupt
//   is_sealed(v)                                  // starts with "enc:"

#include <string>
#include <string_view>

#include "secrets/master_key.hpp"

namespace osprey::secrets {

inline constexpr std::string_view kSealedPrefix = "enc:";

inline bool is_sealed(std::string_view v) { return v.substr(0, kSealedPrefix.size()) == kSealedPrefix; }

std::string seal(std::string_view plaintext, const MasterKey& key);
std::string unseal(std::string_view sealed, const MasterKey& key);

}  // namespace osprey::secrets
