#include "access/key_format.hpp"

#include <sodium.h>

#include <array>
#include <cstdint>
#include <stdexcept>

namespace osprey::access {

namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

void ensure_sodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium failed to initialise");
}

std::string random_base62(std::size_t n) {
  ensure_sodium();
  std::string out;
  out.reserve(n);
  // randombytes_uniform avoids modulo bias.
  for (std::size_t i = 0; i < n; ++i) out.push_back(kAlphabet[randombytes_uniform(62)]);
  return out;
}

bool is_base62(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

}  // namespace

std::uint32_t crc32(std::string_view data) {
  // Reflected CRC-32 (IEEE 802.3, as in zlib), table built once.
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string base62_fixed(std::uint64_t v, std::size_t width) {
  std::string out(width, '0');
  for (std::size_t i = width; i-- > 0;) {
    out[i] = kAlphabet[v % 62];
    v /= 62;
  }
  return out;
}

std::string generate_key() {
  std::string k(kKeyPrefix);
  k += random_base62(kKeyBodyChars);
  k += base62_fixed(crc32(k), kKeyChecksumChars);
  return k;
}

std::string generate_key_id() { return "key_" + random_base62(12); }

bool is_well_formed_key(std::string_view s) {
  if (s.size() != kKeyLength || s.substr(0, kKeyPrefix.size()) != kKeyPrefix) return false;
  for (char c : s.substr(kKeyPrefix.size()))
    if (!is_base62(c)) return false;
  auto head = s.substr(0, s.size() - kKeyChecksumChars);
  return base62_fixed(crc32(head), kKeyChecksumChars) == s.substr(head.size());
}

std::string key_prefix(std::string_view key) {
  // Never reveal more than a third of an unusual (e.g. bootstrap) key.
  std::size_t n = key.substr(0, kKeyPrefix.size()) == kKeyPrefix ? kKeyPrefix.size() + 4 : 4;
  n = std::min(n, key.size() / 3);
  return std::string(key.substr(0, n));
}

std::string key_last4(std::string_view key) {
  std::size_t n = std::min<std::size_t>(4, key.size() / 4);
  return std::string(key.substr(key.size() - n));
}

}  // namespace osprey::access
