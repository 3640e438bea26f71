#include "gateway/chat_chunk.hpp"

#include <algorithm>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace osprey::gateway {

namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Counts the characters of the string bytes [s, end) into `chars`.
void count_string(const char* s, const char* end, std::size_t& chars) {
  while (s < end) {
    if (*s == '\\') {
      const std::ptrdiff_t len = s + 1 < end && s[1] == 'u' ? 6 : 2;  // \uXXXX or \n, \", ...
      s += std::min(len, end - s);
      ++chars;
      continue;
    }
    if ((static_cast<unsigned char>(*s) & 0xC0) != 0x80) ++chars;  // not a UTF-8 continuation byte
    ++s;
  }
}

// Takes the chunk's unescaped quotes in order: each pair bounds a string;
// a string followed by ':' is a key, and tells what its value means.
class Walk {
 public:
  Walk(const char* end) : end_(end) {}

  void quote(const char* q) {
    if (!in_string_) {
      in_string_ = true;
      start_ = q + 1;
      return;
    }
    in_string_ = false;
    if (counting_) {  // the value of a "content" or "arguments" key
      counting_ = false;
      count_string(start_, q, facts.text_chars);
      return;
    }
    const char* colon = q + 1;
    while (colon < end_ && blank(*colon)) ++colon;
    if (colon == end_ || *colon != ':') return;  // a value, not a key
    const char* value = colon + 1;
    while (value < end_ && blank(*value)) ++value;
    if (value == end_) return;
    const std::string_view key(start_, static_cast<std::size_t>(q - start_));
    if (key == "usage") {
      if (*value == '{') facts.has_usage = true;
    } else if (*value == '"' && (key == "content" || key == "arguments")) {
      counting_ = true;
    }
  }
  bool in_string() const { return in_string_; }

  ChunkFacts facts;

 private:
  const char* end_;
  const char* start_ = nullptr;
  bool in_string_ = false;
  bool counting_ = false;
};

// Byte by byte from `s` to `to`; true when an escape at its end covers
// the byte after `to`.
bool walk_bytes(Walk& w, const char* s, const char* to) {
  for (; s < to; ++s) {
    if (*s == '\\' && w.in_string()) {
      if (++s == to) return true;  // the escaped character
    } else if (*s == '"') {
      w.quote(s);
    }
  }
  return false;
}

}  // namespace

namespace detail {

ChunkFacts inspect_chunk_bytewise(std::string_view data) {
  Walk w(data.data() + data.size());
  walk_bytes(w, data.data(), data.data() + data.size());
  return w.facts;
}

}  // namespace detail

ChunkFacts inspect_chunk(std::string_view data) {
#if defined(__SSE2__)
  // 16 bytes at a time: where a block has no backslash, its quotes are all
  // real and are taken from a bit mask; a block with one is walked byte by
  // byte. About twice as fast as a memchr per quote on relayed chunks.
  const char* p = data.data();
  const char* const end = p + data.size();
  Walk w(end);
  bool escaped = false;  // the last block ended in a backslash: its first byte is taken
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
  for (; end - p >= 16; p += 16) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const unsigned keep = escaped ? ~1u : ~0u;
    unsigned quotes = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(block, quote))) & keep;
    if (static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(block, backslash))) & keep) {
      escaped = walk_bytes(w, escaped ? p + 1 : p, p + 16);
      continue;
    }
    escaped = false;
    while (quotes) {
      w.quote(p + __builtin_ctz(quotes));
      quotes &= quotes - 1;
    }
  }
  if (escaped && p < end) ++p;
  walk_bytes(w, p, end);
  return w.facts;
#else
  return detail::inspect_chunk_bytewise(data);
#endif
}

}  // namespace osprey::gateway
