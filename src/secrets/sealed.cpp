#include "secrets/sealed.hpp"

#include <sodium.h>

#include <vector>

#include "common/strings.hpp"

namespace osprey::secrets {

std::string seal(std::string_view plaintext, const MasterKey& key) {
  ensure_sodium();
  std::vector<unsigned char> buf(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plaintext.size());
  unsigned char* nonce = buf.data();
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(buf.data() + crypto_secretbox_NONCEBYTES, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        plaintext.size(), nonce, key.bytes.data());
  return std::string(kSealedPrefix) +
         str::base64_encode(std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()));
}

std::string unseal(std::string_view sealed, const MasterKey& key) {
  ensure_sodium();
  if (!is_sealed(sealed)) throw SecretError("value is not an enc: value");
  auto raw = str::base64_decode(sealed.substr(kSealedPrefix.size()));
  if (!raw) throw SecretError("enc: value is not valid base64");
  if (raw->size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) throw SecretError("enc: value is too short");
  const auto* p = reinterpret_cast<const unsigned char*>(raw->data());
  std::string out(raw->size() - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(out.data()), p + crypto_secretbox_NONCEBYTES,
                                 raw->size() - crypto_secretbox_NONCEBYTES, p, key.bytes.data()) != 0) {
    throw SecretError("enc: value does not decrypt: wrong master key or corrupted value");
  }
  return out;
}

}  // namespace osprey::secrets
