#pragma once
// Small string helpers shared by every layer: case-insensitive compare,
// trimming, splitting, percent-decoding and base64 (the standard alphabet,
// as used in JSON image payloads and Basic auth).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace osprey::str {

bool iequals(std::string_view a, std::string_view b);
std::string lower(std::string_view s);
std::string_view trim(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);

// Position of `needle` in `hay` from `from` (npos if absent), with glibc's
// memmem: std::string_view::find tests every occurrence of the needle's
// first byte with a memcmp, which shows on the relay's per-event scans (an
// API key starts with "sk-", and JSON is full of 's' and '"').
std::size_t find(std::string_view hay, std::string_view needle, std::size_t from = 0);
inline bool contains(std::string_view hay, std::string_view needle) { return find(hay, needle) != std::string_view::npos; }

// Decodes %XX escapes (and '+' as space when `plus_is_space`). Returns
// nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = true);

// Base64 (RFC 4648, standard alphabet). decode ignores ASCII whitespace and
// accepts missing padding; returns nullopt on any other invalid character.
std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace osprey::str
