#pragma once
// json_scan: a validating JSON scanner that builds nothing.
//
// It answers two questions about a piece of text, in one pass and without
// allocating (for nesting up to 256 levels): "would nlohmann::json accept
// this?" and "what are the members of the top-level object?". The hot paths
// that used to run a nlohmann SAX parse over every request body and every
// upstream response only need those two answers, and paid about 8% of CPU
// for the rest: nlohmann's lexer reads one char at a time through its input
// adapter, copies every string and number into a token buffer, converts
// every number, and the SAX interface adds a virtual call per token. This
// scanner looks at each byte once (plain string bytes 16 at a time) and
// hands out views into the text instead of copies.
//
// Usage:
//
//   std::string_view model;
//   bool stream = false;
//   auto r = osprey::json_scan::scan(body, [&](const osprey::json_scan::Member& m) {
//     if (m.key_is("model") && m.kind == osprey::json_scan::Kind::string)
//       model = m.value;                       // still quoted and escaped
//     else if (m.key_is("stream"))
//       stream = m.value == "true";
//   });
//   if (!r.valid) return bad_request("body is not valid JSON");
//   if (!r.object) return bad_request("body must be a JSON object");
//   std::string name = osprey::json_scan::decode_string(model);
//
// Validation only:
//
//   if (!osprey::json_scan::scan(text).valid) ...
//
// What "valid" means. Exactly what nlohmann::json 3.11.2 accepts with its
// default options (json::accept(text), or json::parse(text, nullptr, false)
// not returning a discarded value): strict RFC 8259 grammar, no comments, no
// depth limit, plus nlohmann's own quirks, which we reproduce on purpose so
// that swapping this scanner in changes no accept/reject decision:
//   * one optional UTF-8 byte order mark (EF BB BF) at the very start; a
//     partial one is an error;
//   * a number whose value overflows a double (1e999, -1e400, an integer of
//     ~400 digits) is rejected; underflow (1e-999) is fine;
//   * strings must be well-formed UTF-8 (RFC 3629: no overlongs, no encoded
//     surrogates, nothing above U+10FFFF), \u escapes of surrogates must come
//     as a high+low pair;
//   * a NUL byte where the lexer expects the next token means "end of input"
//     (nlohmann treats '\0' like EOF so that C strings work). So "[1]\0junk"
//     is VALID: once the top-level value is complete, a NUL ends the
//     document and whatever follows it is never looked at. A NUL anywhere
//     else (inside a string, inside an unfinished value) is an error. If you
//     forward the raw body somewhere else, it may carry bytes after that NUL.
//
// Members. For a top-level object, scan() calls on_member once per member
// (depth 1 only; keys of nested objects are not reported), in document
// order, duplicates included: if a key repeats, nlohmann's DOM keeps the
// last occurrence, so a caller that wants the same answer should let later
// members overwrite earlier ones. A member is reported as soon as its value
// ends, which is before the scanner has seen the rest of the text: when the
// text turns out invalid further on, the members already reported stay
// reported. Check Result::valid before acting on anything you collected.
//
// Everything reported is a view into `text`: raw, undecoded. Keys come
// without their quotes, string values with them (so `m.value` is always the
// exact JSON text of the value). Use Member::key_is() to match keys (it
// decodes escapes, so "\u006dodel" matches "model", as it would in the DOM),
// decode_string() to get a string's content, as_int64() for integers.
//
// Cost. One pass, linear in the input (a number at the edge of the double
// range is checked digit by digit against the overflow threshold, never by a
// second scan), no recursion: nesting is tracked with one bit per level in
// an inline array that moves to the heap only beyond 256 levels, so hostile
// input like a million '[' costs about 128 KiB of heap and no stack. Plain
// string bytes are skipped 16 at a time. Thread-safe: no state outside the
// call.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace osprey::json_scan {

enum class Kind { null, boolean, number, string, object, array };

struct Member {
  std::string_view key;    // raw key text between the quotes, escapes NOT decoded
  bool key_escaped;        // key contains a backslash (decode before comparing)
  Kind kind;
  std::string_view value;  // raw text of the value; strings include their quotes, objects/arrays their brackets

  // True if the decoded key equals `k`. Without escapes this is a plain
  // comparison; with escapes it decodes on the fly, without allocating.
  bool key_is(std::string_view k) const;
};

struct Result {
  bool valid = false;   // the whole text is one valid JSON document (nlohmann::json::accept agrees)
  bool object = false;  // valid and the top-level value is an object
};

namespace detail {
// The scanner proper lives in json_scan.cpp, compiled once; the template
// below only adapts the caller's callable to this plain signature, so the
// header stays light and the core is not instantiated per call site. A null
// `sink` means "validate only".
using MemberSink = void (*)(void* context, const Member& member);
Result scan(std::string_view text, MemberSink sink, void* context);
bool escaped_key_equals(std::string_view raw_key, std::string_view k) noexcept;
}  // namespace detail

inline bool Member::key_is(std::string_view k) const {
  return key_escaped ? detail::escaped_key_equals(key, k) : key == k;
}

// Validates `text`; for a top-level object calls on_member(const Member&) for
// each member at depth 1, in document order (duplicates included). If the
// text turns out invalid later, members already reported were still reported
// (callers check valid). Exceptions thrown by on_member propagate.
template <class F>
Result scan(std::string_view text, F&& on_member) {
  using Fn = std::remove_reference_t<F>;
  if constexpr (std::is_function_v<Fn>) {
    return scan(text, &on_member);  // a plain function: pass it on as a pointer
  } else {
    detail::MemberSink sink = [](void* context, const Member& member) { (*static_cast<Fn*>(context))(member); };
    return detail::scan(text, sink, const_cast<void*>(static_cast<const void*>(std::addressof(on_member))));
  }
}

// Validation only.
inline Result scan(std::string_view text) { return detail::scan(text, nullptr, nullptr); }

// Decodes a string that scan() validated: escapes, \uXXXX including
// surrogate pairs, to UTF-8. Takes either form scan() reports: a string
// value with its surrounding quotes (Member::value) or a key without them
// (Member::key). The two cannot be confused: a raw key never begins with an
// unescaped quote, so a leading '"' always means "quoted". On text that was
// not validated it does not fail or misbehave, but the result is
// unspecified (a bad or unpaired \u escape becomes U+FFFD).
std::string decode_string(std::string_view raw);

// The value of an integer number token (-?(0|[1-9][0-9]*), no fraction or
// exponent) if it fits int64; otherwise (fraction, exponent, overflow,
// anything that is not such a token) nullopt. "-0" is 0.
std::optional<std::int64_t> as_int64(std::string_view raw_number) noexcept;

}  // namespace osprey::json_scan
