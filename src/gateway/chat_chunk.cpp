#include "gateway/chat_chunk.hpp"

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
// AVX2 is not in the x86-64 baseline the build targets: its loop is
// compiled for it alone and taken when the CPU says it has it.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define OSPREY_CHUNK_AVX2 1
#include <immintrin.h>
#endif

namespace osprey::gateway {

namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// True when the byte at p is escaped: an odd run of backslashes before it.
bool escaped_at(const char* begin, const char* p) {
  std::size_t run = 0;
  while (p > begin && p[-1] == '\\') --p, ++run;
  return run % 2 == 1;
}

// The characters of the string value that starts at s (after its opening
// quote), up to its closing quote or `end`: an escape counts once (\uXXXX
// too), a UTF-8 sequence once.
std::size_t count_string(const char* s, const char* end) {
  std::size_t chars = 0;
  int hex = 0;  // \u's digits still to skip
  for (; s < end; ++s) {
    const char c = *s;
    if (c == '"') break;
    if (c == '\\') {
      ++chars;
      hex = 0;
      if (s + 1 < end && *++s == 'u') hex = 4;
      continue;
    }
    if (hex > 0) {
      --hex;
      continue;
    }
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;  // not a UTF-8 continuation byte
  }
  return chars;
}

enum class Key { none, usage, content, arguments };

// Which key that matters the bytes at q spell, quotes included.
inline Key key_at(const char* q, const char* end) {
  const auto is = [&](const char* k, std::size_t n) {  // n constant: the memcmp is inlined
    return static_cast<std::size_t>(end - q) >= n && std::memcmp(q, k, n) == 0;
  };
  if (q + 1 >= end) return Key::none;
  switch (q[1]) {
    case 'u': return is("\"usage\"", 7) ? Key::usage : Key::none;
    case 'c': return is("\"content\"", 9) ? Key::content : Key::none;
    case 'a': return is("\"arguments\"", 11) ? Key::arguments : Key::none;
    default: return Key::none;
  }
}

// What the value of the key that starts at q (the quote is not escaped)
// says. In valid JSON a real quote, then "usage", "content" or
// "arguments" and a quote, then a colon, can only be that key: inside a
// string both quotes would be escaped, and a string that closes at the
// first quote is never followed by letters.
void take_key(const char* begin, const char* end, const char* q, Key key, ChunkFacts& f) {
  if (escaped_at(begin, q)) return;
  const char* colon = q + (key == Key::usage ? 7 : key == Key::content ? 9 : 11);
  while (colon < end && blank(*colon)) ++colon;
  if (colon == end || *colon != ':') return;  // a value, not a key
  const char* value = colon + 1;
  while (value < end && blank(*value)) ++value;
  if (value == end) return;
  if (key == Key::usage) {
    if (*value == '{') f.has_usage = true;
  } else if (*value == '"') {
    f.text_chars += count_string(value + 1, end);
  }
}

inline void at_quote(const char* begin, const char* end, const char* q, ChunkFacts& f) {
  if (const Key k = key_at(q, end); k != Key::none) take_key(begin, end, q, k, f);
}

// Every quote from p on, a byte at a time.
void scan_bytes(const char* begin, const char* end, const char* p, ChunkFacts& f) {
  for (; p < end; ++p)
    if (*p == '"') at_quote(begin, end, p, f);
}

#if defined(OSPREY_CHUNK_AVX2)
// The SSE2 loop's test on 32 places at a time, from begin while 33 bytes
// are left (each block reads one byte past itself). Returns where it
// stopped: the SSE2 loop takes the rest.
__attribute__((target("avx2"))) const char* scan_avx2(const char* begin, const char* end, ChunkFacts& f) {
  const __m256i quote = _mm256_set1_epi8('"'), u = _mm256_set1_epi8('u'), c = _mm256_set1_epi8('c'),
                a = _mm256_set1_epi8('a');
  const char* p = begin;
  for (; end - p >= 33; p += 32) {
    const __m256i at = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i next = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 1));
    const __m256i letter =
        _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(next, u), _mm256_cmpeq_epi8(next, c)), _mm256_cmpeq_epi8(next, a));
    auto m = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_and_si256(_mm256_cmpeq_epi8(at, quote), letter)));
    for (; m; m &= m - 1) at_quote(begin, end, p + __builtin_ctz(m), f);
  }
  return p;
}

bool cpu_has_avx2() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return yes;
}
#endif

ChunkFacts inspect(std::string_view data, bool avx2) {
  ChunkFacts f;
  const char* const begin = data.data();
  const char* const end = begin + data.size();
  const char* p = begin;
#if defined(OSPREY_CHUNK_AVX2)
  if (avx2) p = scan_avx2(begin, end, f);
#else
  (void)avx2;
#endif
#if defined(__SSE2__)
  // 16 places at a time: a quote followed by the first letter of one of
  // the keys is a candidate (a few per chunk: "created", "choices" and
  // "chatcmpl-..." pass too), and only candidates are looked at.
  const __m128i quote = _mm_set1_epi8('"'), u = _mm_set1_epi8('u'), c = _mm_set1_epi8('c'), a = _mm_set1_epi8('a');
  // Bit i: a candidate at x + i. Reads x[0, 17).
  auto candidates = [&](const char* x) {
    const __m128i at = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x));
    const __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + 1));
    const __m128i letter = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(next, u), _mm_cmpeq_epi8(next, c)), _mm_cmpeq_epi8(next, a));
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(at, quote), letter)));
  };
  for (; end - p >= 17; p += 16)
    for (unsigned m = candidates(p); m; m &= m - 1) at_quote(begin, end, p + __builtin_ctz(m), f);
  if (end - begin >= 17 && end - p > 1) {
    // The rest but the last byte, in one block that overlaps the one
    // before (its first p - last places were taken there).
    const char* last = end - 17;
    for (unsigned m = candidates(last) & ~((1u << (p - last)) - 1); m; m &= m - 1)
      at_quote(begin, end, last + __builtin_ctz(m), f);
    p = end - 1;
  }
#endif
  scan_bytes(begin, end, p, f);
  return f;
}

}  // namespace

namespace detail {

ChunkFacts inspect_chunk_bytewise(std::string_view data) {
  ChunkFacts f;
  scan_bytes(data.data(), data.data() + data.size(), data.data(), f);
  return f;
}

ChunkFacts inspect_chunk_sse2(std::string_view data) { return inspect(data, false); }

}  // namespace detail

ChunkFacts inspect_chunk(std::string_view data) {
#if defined(OSPREY_CHUNK_AVX2)
  return inspect(data, cpu_has_avx2());
#else
  return inspect(data, false);
#endif
}

}  // namespace osprey::gateway
