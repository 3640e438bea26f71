#include "secrets/master_key.hpp"

#include <sodium.h>

#include "common/strings.hpp"

namespace osprey::secrets {

void ensure_sodium() {
  static const int rc = sodium_init();  // thread-safe once; <0 is failure, 1 "already"
  if (rc < 0) throw SecretError("libsodium failed to initialise");
}

MasterKey MasterKey::parse(std::string_view text) {
  ensure_sodium();
  text = str::trim(text);
  MasterKey k;
  if (auto raw = str::base64_decode(text); raw && raw->size() == k.bytes.size()) {
    std::copy(raw->begin(), raw->end(), k.bytes.begin());
    sodium_memzero(raw->data(), raw->size());
    return k;
  }
  if (text.size() < 12) {
    throw SecretError(
        "master key is neither base64 of 32 bytes nor a passphrase of at least 12 characters "
        "(generate one with `osprey secrets keygen`)");
  }
  static const unsigned char context[] = "osprey-master-v1";  // 16 bytes + NUL
  crypto_generichash(k.bytes.data(), k.bytes.size(), reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                     context, sizeof context - 1);
  k.derived_from_passphrase = true;
  return k;
}

std::string MasterKey::generate() {
  ensure_sodium();
  std::array<unsigned char, 32> b{};
  randombytes_buf(b.data(), b.size());
  std::string out = str::base64_encode(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
  sodium_memzero(b.data(), b.size());
  return out;
}

}  // namespace osprey::secrets
