#include "common/json_scan.hpp"

#include <array>
#include <bit>
#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace osprey::json_scan {

namespace {

using uchar = unsigned char;

// ---------------------------------------------------------------------------
// Byte tables. Built at compile time so the scanner's per-byte decisions are
// one load each instead of a chain of comparisons.

// Bytes that can appear in a string without any further check: printable
// ASCII except '"' and '\\'. Everything else ends the fast skip and is looked
// at individually (quote, escape, control byte, UTF-8 lead byte).
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

// JSON whitespace is exactly these four (nlohmann rejects \f and \v too).
constexpr std::array<bool, 256> kSpace = [] {
  std::array<bool, 256> t{};
  t[' '] = t['\t'] = t['\n'] = t['\r'] = true;
  return t;
}();

// Hex digit values, -1 for anything else; OR-ing four lookups is negative iff
// one of them was not a hex digit.
constexpr std::array<std::int8_t, 256> kHex = [] {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<std::int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<std::int8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<std::int8_t>(c - 'A' + 10);
  return t;
}();

inline bool is_digit(uchar c) { return static_cast<unsigned>(c - '0') < 10u; }

// Four hex digits at p (caller guarantees they are in bounds); -1 if any is
// not a hex digit.
inline int hex4(const uchar* p) {
  int a = kHex[p[0]], b = kHex[p[1]], c = kHex[p[2]], d = kHex[p[3]];
  if ((a | b | c | d) < 0) return -1;
  return (a << 12) | (b << 8) | (c << 4) | d;
}

// Returns the first byte in [p, end) that is not kPlain (or end).
inline const uchar* skip_plain(const uchar* p, const uchar* end) {
#if defined(__SSE2__)
  // One signed compare catches both control bytes (0x00-0x1F) and bytes with
  // the high bit set (negative as int8): everything below ' '.
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(' ');
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                _mm_cmplt_epi8(v, space));
    unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(stop));
    if (mask != 0) return p + std::countr_zero(mask);
    p += 16;
  }
#endif
  while (p != end && kPlain[*p]) ++p;
  return p;
}

// The largest decimal a correctly rounding strtod still maps to a finite
// double: values >= 2^1024 - 2^970 (halfway between DBL_MAX and 2^1024, and
// ties go to the even neighbour, 2^1024) round to infinity. 309 digits.
constexpr std::string_view kOverflowThreshold =
    "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096"
    "330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730"
    "270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497"
    "792";
static_assert(kOverflowThreshold.size() == 309);

// Would strtod() of this (grammatically valid) number return +-infinity?
// nlohmann parses every number that is not an int64/uint64 with strtod and
// rejects a non-finite result, so this decides validity. Rather than copy the
// token and call strtod (locale-dependent, and allocating for long tokens),
// work out the decimal magnitude: the value lies in [10^E, 10^(E+1)), so
// E <= 307 is finite, E >= 309 is not, and only E == 308 needs the digits
// compared with the threshold. Zero and underflow are finite.
bool overflows(const uchar* int_begin, const uchar* int_end, const uchar* frac_begin, const uchar* frac_end,
               const uchar* exp_begin, const uchar* exp_end, bool exp_negative) {
  // Significant digits: from the first non-zero one, through the integer part
  // and then the fraction. The integer part has no leading zeros by grammar,
  // so it is either "0" or starts with its first significant digit.
  const uchar* first;  // first significant digit
  std::int64_t magnitude;
  if (*int_begin != '0') {
    first = int_begin;
    magnitude = (int_end - int_begin) - 1;
  } else {
    first = frac_begin;
    while (first != frac_end && *first == '0') ++first;
    if (first == frac_end) return false;  // the value is zero (however large the exponent)
    magnitude = -1 - (first - frac_begin);
  }
  // Saturate the exponent well beyond anything the digit counts can offset
  // (a token is far shorter than 10^15 bytes) so it cannot overflow.
  std::int64_t exponent = 0;
  for (const uchar* q = exp_begin; q != exp_end; ++q)
    if (exponent < 1'000'000'000'000'000) exponent = exponent * 10 + (*q - '0');
  magnitude += exp_negative ? -exponent : exponent;
  if (magnitude < 308) return false;
  if (magnitude > 308) return true;

  // Same magnitude as the threshold: compare digit strings, both padded with
  // zeros on the right. Equal means the value is exactly the threshold, which
  // rounds (ties-to-even) to infinity.
  const uchar* q = first;
  bool in_int = first < int_end && first >= int_begin;
  for (std::size_t i = 0;; ++i) {
    if (in_int && q == int_end) {
      in_int = false;
      q = frac_begin;
    }
    bool have_digit = in_int ? true : (q != nullptr && q != frac_end);
    if (!have_digit && i >= kOverflowThreshold.size()) return true;
    int v = have_digit ? *q - '0' : 0;
    int t = i < kOverflowThreshold.size() ? kOverflowThreshold[i] - '0' : 0;
    if (v != t) return v > t;
    if (have_digit) ++q;
  }
}

// ---------------------------------------------------------------------------
// Nesting: one bit per open container (1 = object), kept inline for the
// first 256 levels and on the heap beyond.

class DepthStack {
 public:
  std::size_t depth() const { return depth_; }

  void push(bool object) {
    std::size_t word = depth_ >> 6;
    if (word == capacity_words_) grow();
    std::uint64_t bit = std::uint64_t{1} << (depth_ & 63);
    if (object)
      words_[word] |= bit;
    else
      words_[word] &= ~bit;
    ++depth_;
  }

  // Pops one level; returns whether the container now on top is an object
  // (false when the stack became empty).
  bool pop() {
    --depth_;
    if (depth_ == 0) return false;
    std::size_t i = depth_ - 1;
    return (words_[i >> 6] >> (i & 63)) & 1;
  }

 private:
  void grow() {
    if (words_ == inline_) {
      heap_.assign(inline_, inline_ + kInlineWords);
    }
    heap_.resize(heap_.size() * 2);
    words_ = heap_.data();
    capacity_words_ = heap_.size();
  }

  static constexpr std::size_t kInlineWords = 4;
  std::uint64_t inline_[kInlineWords] = {};
  std::uint64_t* words_ = inline_;
  std::size_t capacity_words_ = kInlineWords;
  std::size_t depth_ = 0;
  std::vector<std::uint64_t> heap_;
};

// ---------------------------------------------------------------------------
// The scanner. A two-state machine (expecting a value / just finished one)
// driven by the byte at p; nesting lives in DepthStack, so hostile depth
// costs heap bits, never stack frames.

class Scanner {
 public:
  Scanner(std::string_view text, detail::MemberSink sink, void* context)
      : p_(reinterpret_cast<const uchar*>(text.data())),
        end_(p_ + text.size()),
        sink_(sink),
        context_(context) {}

  Result run();

 private:
  void skip_space() {
    while (p_ != end_ && kSpace[*p_]) ++p_;
  }

  // p_ is just past the opening quote; on success p_ is just past the
  // closing one. Sets `escaped` if a backslash was seen.
  bool string_body(bool& escaped) {
    for (;;) {
      p_ = skip_plain(p_, end_);
      if (p_ == end_) return false;
      uchar c = *p_;
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c == '\\') {
        escaped = true;
        if (!escape()) return false;
      } else if (c < 0x20) {
        return false;  // control bytes must be escaped
      } else {
        // Non-ASCII text tends to come in runs; stay here while it does.
        do {
          if (!utf8_sequence()) return false;
        } while (p_ != end_ && *p_ >= 0x80);
      }
    }
  }

  // p_ at a backslash.
  bool escape() {
    if (end_ - p_ < 2) return false;
    switch (p_[1]) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        p_ += 2;
        return true;
      case 'u':
        break;
      default:
        return false;
    }
    if (end_ - p_ < 6) return false;
    int unit = hex4(p_ + 2);
    if (unit < 0) return false;
    p_ += 6;
    if (unit < 0xD800 || unit > 0xDFFF) return true;
    if (unit >= 0xDC00) return false;  // a low surrogate with no high one before it
    // A high surrogate must be followed at once by \u and a low surrogate.
    if (end_ - p_ < 6 || p_[0] != '\\' || p_[1] != 'u') return false;
    int low = hex4(p_ + 2);
    if (low < 0xDC00 || low > 0xDFFF) return false;
    p_ += 6;
    return true;
  }

  // p_ at a byte >= 0x80: one well-formed RFC 3629 sequence.
  bool utf8_sequence() {
    uchar c = *p_;
    std::ptrdiff_t left = end_ - p_;
    auto cont = [](uchar b) { return (b & 0xC0) == 0x80; };
    if (c < 0xC2) return false;  // stray continuation byte or overlong 2-byte lead
    if (c < 0xE0) {
      if (left < 2 || !cont(p_[1])) return false;
      p_ += 2;
      return true;
    }
    if (c < 0xF0) {
      if (left < 3) return false;
      uchar lo = c == 0xE0 ? 0xA0 : 0x80;  // E0: no overlongs
      uchar hi = c == 0xED ? 0x9F : 0xBF;  // ED: no UTF-16 surrogates
      if (p_[1] < lo || p_[1] > hi || !cont(p_[2])) return false;
      p_ += 3;
      return true;
    }
    if (c < 0xF5) {
      if (left < 4) return false;
      uchar lo = c == 0xF0 ? 0x90 : 0x80;  // F0: no overlongs
      uchar hi = c == 0xF4 ? 0x8F : 0xBF;  // F4: nothing above U+10FFFF
      if (p_[1] < lo || p_[1] > hi || !cont(p_[2]) || !cont(p_[3])) return false;
      p_ += 4;
      return true;
    }
    return false;
  }

  // p_ at '-' or a digit.
  bool number() {
    if (*p_ == '-') ++p_;
    if (p_ == end_) return false;
    const uchar* int_begin = p_;
    if (*p_ == '0') {
      ++p_;
    } else if (is_digit(*p_)) {
      do ++p_;
      while (p_ != end_ && is_digit(*p_));
    } else {
      return false;
    }
    const uchar* int_end = p_;
    const uchar* frac_begin = nullptr;
    const uchar* frac_end = nullptr;
    if (p_ != end_ && *p_ == '.') {
      ++p_;
      frac_begin = p_;
      if (p_ == end_ || !is_digit(*p_)) return false;
      do ++p_;
      while (p_ != end_ && is_digit(*p_));
      frac_end = p_;
    }
    if (p_ == end_ || (*p_ | 0x20) != 'e') {
      // No exponent: fewer than 309 integer digits means below 10^308.
      if (int_end - int_begin <= 308) return true;
      return !overflows(int_begin, int_end, frac_begin, frac_end, nullptr, nullptr, false);
    }
    ++p_;
    bool exp_negative = false;
    if (p_ != end_ && (*p_ == '+' || *p_ == '-')) {
      exp_negative = *p_ == '-';
      ++p_;
    }
    const uchar* exp_begin = p_;
    if (p_ == end_ || !is_digit(*p_)) return false;
    do ++p_;
    while (p_ != end_ && is_digit(*p_));
    return !overflows(int_begin, int_end, frac_begin, frac_end, exp_begin, p_, exp_negative);
  }

  bool literal(const char* word, std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return false;
    p_ += n;
    return true;
  }

  // After '{' or ',' in an object (whitespace skipped): a key, whitespace and
  // the colon. Remembers the key when it belongs to a reported member.
  bool key() {
    if (p_ == end_ || *p_ != '"') return false;
    const uchar* begin = ++p_;
    bool escaped = false;
    if (!string_body(escaped)) return false;
    if (stack_.depth() == report_depth_) {
      key_ = std::string_view(reinterpret_cast<const char*>(begin), static_cast<std::size_t>(p_ - 1 - begin));
      key_escaped_ = escaped;
    }
    skip_space();
    if (p_ == end_ || *p_ != ':') return false;
    ++p_;
    return true;
  }

  void report(const uchar* value_end) {
    Member m{key_, key_escaped_, value_kind_,
             std::string_view(reinterpret_cast<const char*>(value_begin_),
                              static_cast<std::size_t>(value_end - value_begin_))};
    sink_(context_, m);
  }

  const uchar* p_;
  const uchar* const end_;
  detail::MemberSink sink_;
  void* context_;
  DepthStack stack_;
  // Members are reported at this depth: 1 when there is a sink and the
  // top-level value is an object, otherwise never.
  std::size_t report_depth_ = static_cast<std::size_t>(-1);
  // The member being scanned at report_depth_.
  std::string_view key_;
  bool key_escaped_ = false;
  Kind value_kind_ = Kind::null;
  const uchar* value_begin_ = nullptr;
};

Result Scanner::run() {
  Result result;
  // nlohmann skips one BOM, but only a whole one.
  if (p_ != end_ && *p_ == 0xEF) {
    if (end_ - p_ < 3 || p_[1] != 0xBB || p_[2] != 0xBF) return result;
    p_ += 3;
  }
  bool root_object = false;
  bool in_object = false;  // the innermost open container is an object
  for (;;) {
    // State 1: a value is expected.
    skip_space();
    if (p_ == end_) return result;
    const uchar* begin = p_;
    const bool reported = stack_.depth() == report_depth_;
    Kind kind;
    switch (*p_) {
      case '{':
      case '[': {
        const bool object = *p_ == '{';
        ++p_;
        skip_space();
        if (p_ != end_ && *p_ == (object ? '}' : ']')) {  // empty: complete already
          ++p_;
          kind = object ? Kind::object : Kind::array;
          if (stack_.depth() == 0) root_object = object;
          break;
        }
        if (stack_.depth() == 0 && object) {
          root_object = true;
          if (sink_ != nullptr) report_depth_ = 1;
        }
        if (reported) {
          value_begin_ = begin;
          value_kind_ = object ? Kind::object : Kind::array;
        }
        stack_.push(object);
        in_object = object;
        if (object && !key()) return result;
        continue;  // expect the first element / member value
      }
      case '"': {
        ++p_;
        bool escaped = false;
        if (!string_body(escaped)) return result;
        kind = Kind::string;
        break;
      }
      case 't':
        if (!literal("true", 4)) return result;
        kind = Kind::boolean;
        break;
      case 'f':
        if (!literal("false", 5)) return result;
        kind = Kind::boolean;
        break;
      case 'n':
        if (!literal("null", 4)) return result;
        kind = Kind::null;
        break;
      default:
        if (*p_ != '-' && !is_digit(*p_)) return result;  // includes '\0': nlohmann's "end of input"
        if (!number()) return result;
        kind = Kind::number;
        break;
    }
    if (reported) {
      value_begin_ = begin;
      value_kind_ = kind;
      report(p_);
    }

    // State 2: a value just ended; close containers until one continues.
    for (;;) {
      if (stack_.depth() == 0) {
        // After the top-level value only whitespace may follow, up to the
        // end or to a NUL, which nlohmann's lexer reads as end of input.
        skip_space();
        result.valid = p_ == end_ || *p_ == '\0';
        result.object = result.valid && root_object;
        return result;
      }
      skip_space();
      if (p_ == end_) return result;
      uchar c = *p_++;
      if (c == ',') {
        if (in_object) {
          skip_space();
          if (!key()) return result;
        }
        break;  // expect the next value
      }
      if (c != (in_object ? '}' : ']')) return result;
      in_object = stack_.pop();
      if (stack_.depth() == report_depth_) report(p_);
    }
  }
}

// ---------------------------------------------------------------------------
// Decoding, shared by decode_string() and Member::key_is(): calls
// out(const char*, size_t) for each decoded piece; stops early when out
// returns false. Defensive: input that scan() did not validate decodes to
// something (bad escapes and unpaired surrogates become U+FFFD), never UB.

template <class Out>
bool decode(std::string_view raw, Out&& out) {
  const uchar* p = reinterpret_cast<const uchar*>(raw.data());
  const uchar* end = p + raw.size();
  while (p != end) {
    const uchar* run = p;
    while (p != end && *p != '\\') ++p;
    if (p != run && !out(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run))) return false;
    if (p == end) break;
    // p at a backslash.
    char simple = 0;
    if (end - p >= 2) {
      switch (p[1]) {
        case '"': simple = '"'; break;
        case '\\': simple = '\\'; break;
        case '/': simple = '/'; break;
        case 'b': simple = '\b'; break;
        case 'f': simple = '\f'; break;
        case 'n': simple = '\n'; break;
        case 'r': simple = '\r'; break;
        case 't': simple = '\t'; break;
        default: break;
      }
    }
    if (simple != 0) {
      if (!out(&simple, 1)) return false;
      p += 2;
      continue;
    }
    std::uint32_t cp = 0xFFFD;
    if (end - p >= 6 && p[1] == 'u' && hex4(p + 2) >= 0) {
      std::uint32_t unit = static_cast<std::uint32_t>(hex4(p + 2));
      p += 6;
      if (unit < 0xD800 || unit > 0xDFFF) {
        cp = unit;
      } else if (unit < 0xDC00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
        int low = hex4(p + 2);
        if (low >= 0xDC00 && low <= 0xDFFF) {
          cp = 0x10000 + ((unit - 0xD800) << 10) + (static_cast<std::uint32_t>(low) - 0xDC00);
          p += 6;
        }
      }
    } else {
      ++p;  // a lone backslash: drop it, keep what follows as text
    }
    // UTF-8: continuation bytes carry 6 bits each, from the end.
    static constexpr uchar kLead[] = {0, 0, 0xC0, 0xE0, 0xF0};
    char buf[4];
    std::size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (std::size_t i = n - 1; i > 0; --i, cp >>= 6) buf[i] = static_cast<char>(0x80 | (cp & 0x3F));
    buf[0] = static_cast<char>(kLead[n] | cp);
    if (!out(buf, n)) return false;
  }
  return true;
}

}  // namespace

namespace detail {

Result scan(std::string_view text, MemberSink sink, void* context) { return Scanner(text, sink, context).run(); }

bool escaped_key_equals(std::string_view raw_key, std::string_view k) noexcept {
  std::size_t pos = 0;
  bool same = decode(raw_key, [&](const char* s, std::size_t n) {
    if (k.size() - pos < n || std::memcmp(k.data() + pos, s, n) != 0) return false;
    pos += n;
    return true;
  });
  return same && pos == k.size();
}

}  // namespace detail

std::string decode_string(std::string_view raw) {
  if (!raw.empty() && raw.front() == '"') {
    raw.remove_prefix(1);
    if (!raw.empty() && raw.back() == '"') raw.remove_suffix(1);
  }
  std::string out;
  out.reserve(raw.size());
  decode(raw, [&](const char* s, std::size_t n) {
    out.append(s, n);
    return true;
  });
  return out;
}

std::optional<std::int64_t> as_int64(std::string_view raw_number) noexcept {
  std::string_view s = raw_number;
  bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty() || (s.front() == '0' && s.size() > 1)) return std::nullopt;
  // Accumulate the magnitude in uint64; the limit is 2^63 for negatives.
  const std::uint64_t limit = negative ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1;
  std::uint64_t v = 0;
  for (char ch : s) {
    uchar c = static_cast<uchar>(ch);
    if (!is_digit(c)) return std::nullopt;
    std::uint64_t d = c - '0';
    if (v > (limit - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (negative) return static_cast<std::int64_t>(0 - v);  // 0 - 2^63 wraps to INT64_MIN's bit pattern
  return static_cast<std::int64_t>(v);
}

}  // namespace osprey::json_scan
