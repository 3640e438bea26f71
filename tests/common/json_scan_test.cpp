#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/json_scan.hpp"

using namespace osprey;
using json_scan::Kind;
using json_scan::Member;

namespace {

using namespace std::string_literals;

bool valid(std::string_view text) { return json_scan::scan(text).valid; }

std::vector<Member> members_of(std::string_view text, json_scan::Result* result = nullptr) {
  std::vector<Member> out;
  auto r = json_scan::scan(text, [&](const Member& m) { out.push_back(m); });
  if (result != nullptr) *result = r;
  return out;
}

// The oracle, as the code this scanner replaces used it.
bool nlohmann_accepts(std::string_view text) {
  bool accept = nlohmann::json::accept(text);
  bool parse = !nlohmann::json::parse(text, nullptr, false).is_discarded();
  EXPECT_EQ(accept, parse) << text;
  return accept;
}

// Cases for the differential test and the rejection tests below. Embedded
// NULs need std::string literals ("..."s).
const std::vector<std::string> kTricky = {
    // empty, whitespace, BOM
    "", " ", "\t\r\n ", "\f1", "\v1", "1\f", "\xC2\xA0" "1",
    "\xEF\xBB\xBF", "\xEF\xBB\xBF" "1", "\xEF\xBB\xBF \t{}", "\xEF\xBB" "1", "\xEF" "1", "\xEF\xBB\xBF\xEF\xBB\xBF" "1",
    " \xEF\xBB\xBF" "1", "\xFE\xFF" "1",
    // NUL: end of input for nlohmann's lexer, outside strings
    "\0"s, "\0 1"s, "1\0"s, "1 \0 garbage"s, "[1]\0]"s, "{\"a\":1}\0{\"b\":"s, "[1,\0]"s, "[\0]"s, "tr\0e"s,
    "\"a\0\""s, "{\"a\0\":1}"s, "1.\0"s, "-\0"s,
    // literals
    "true", "false", "null", "tru", "nul", "fals", "True", "NULL", "truex", "true false", "nulll", "[true,false,null]",
    // numbers
    "0", "-0", "1", "-1", "01", "-01", "00", "1.", ".5", "-.5", "1.e5", "1e", "1e+", "1e-", "1E5", "1e+5", "1e-5",
    "+1", "--1", "-", "0x10", "1_000", "Infinity", "-Infinity", "NaN", "1.5.5", "1e5e5", "1e5.5", "0.0e0", "-0.0E-0",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
    "18446744073709551615", "18446744073709551616", "123456789012345678901234567890",
    "1e308", "1e309", "-1e309", "1e999", "-1e400", "1e-999", "-1e-400", "0e999999999999999999999", "0.0e99999",
    "1.7976931348623157e308", "1.7976931348623158e308", "1.79769313486231580793e308", "1.7976931348623159e308",
    "17976931348623158e292", "0.17976931348623159e309", "1e99999999999999999999999", "1e-99999999999999999999999",
    std::string(308, '9'), std::string(309, '9'), "1" + std::string(308, '0'), "1" + std::string(309, '0'),
    "0." + std::string(400, '0') + "1e708", "0." + std::string(400, '0') + "1e710",
    // strings
    "\"\"", "\"abc", "\"abc\\\"", "\"\\\"", "\"a\tb\"", "\"a\nb\"", "\"\x1f\"", "\"\x7f\"", "\"\\x41\"", "\"\\'\"",
    "\"\\U0041\"", "\"\\u41\"", "\"\\u004\"", "\"\\u00G1\"", "\"\\u0041\"", "\"\\u00e9\\u00E9\"", "\"\\/\\b\\f\\n\\r\\t\"",
    "\"\\u0000\"", "'a'", "\"\\", "\"\\u",
    // surrogate escapes
    "\"\\ud800\"", "\"\\udc00\"", "\"\\udfff\"", "\"\\ud800\\udc00\"", "\"\\udbff\\udfff\"", "\"\\uD83D\\uDE00\"",
    "\"\\ud800\\u0041\"", "\"\\ud800\\ud800\"", "\"\\ud800x\"", "\"\\ud800\\\"", "\"\\ud800\\n\"", "\"\\ud800\\udc0\"",
    "\"\\ud800\\", "\"\\udc00\\ud800\"", "\"\\ud7ff\"", "\"\\ue000\"",
    // UTF-8
    "\"\xC2\x80\"", "\"\xDF\xBF\"", "\"\xC0\x80\"", "\"\xC1\xBF\"", "\"\x80\"", "\"\xBF\"", "\"\xC2\"", "\"\xC2\x41\"",
    "\"\xE0\xA0\x80\"", "\"\xE0\x9F\xBF\"", "\"\xE1\x80\x80\"", "\"\xEC\xBF\xBF\"", "\"\xED\x9F\xBF\"",
    "\"\xED\xA0\x80\"", "\"\xED\xBF\xBF\"", "\"\xEE\x80\x80\"", "\"\xEF\xBF\xBF\"", "\"\xE2\x82\"", "\"\xE2\x28\xA1\"",
    "\"\xF0\x90\x80\x80\"", "\"\xF0\x8F\xBF\xBF\"", "\"\xF1\x80\x80\x80\"", "\"\xF3\xBF\xBF\xBF\"", "\"\xF4\x8F\xBF\xBF\"",
    "\"\xF4\x90\x80\x80\"", "\"\xF5\x80\x80\x80\"", "\"\xF8\x88\x80\x80\x80\"", "\"\xFF\"", "\"\xF0\x90\x80\"",
    "\xC3\xA9", "[\xC3\xA9]",
    // structure
    "[]", "{}", "[", "]", "{", "}", "[1,]", "[,1]", "[1 2]", "[1,,2]", "{\"a\":1,}", "{,\"a\":1}", "{\"a\" 1}",
    "{\"a\":}", "{\"a\"}", "{a:1}", "{1:1}", "{null:1}", "{\"a\":1 \"b\":2}", "[}", "{]", "[[]", "[]]", "{\"a\":[}]}",
    "[1]x", "[1] [2]", "1 2", "{\"a\":1}}", "[1]//c", "/*c*/[1]", "[1,/*c*/2]", "{\"a\":1,\"a\":2}",
    " [ 1 , { \"a\" : [ ] , \"b\" : { } } ] ",
};

}  // namespace

// ---------------------------------------------------------------------------
// Acceptance and rejection, class by class.

TEST(JsonScan, AcceptsPlainDocuments) {
  EXPECT_TRUE(valid("{}"));
  EXPECT_TRUE(valid("[]"));
  EXPECT_TRUE(valid(" \t\r\n[ 1 , \"x\" , true , false , null , { \"k\" : -0.5e+3 } ]\n"));
  EXPECT_TRUE(valid("\"just a string\""));
  EXPECT_TRUE(valid("42"));
  EXPECT_TRUE(valid("null"));
}

TEST(JsonScan, RejectsEmptyAndBadWhitespace) {
  EXPECT_FALSE(valid(""));
  EXPECT_FALSE(valid(" \t\r\n"));
  EXPECT_FALSE(valid("\f1"));
  EXPECT_FALSE(valid("\v1"));
  EXPECT_FALSE(valid("1\f"));
  EXPECT_FALSE(valid("\xC2\xA0" "1"));  // U+00A0 is not JSON whitespace
}

TEST(JsonScan, ByteOrderMark) {
  EXPECT_TRUE(valid("\xEF\xBB\xBF{}"));
  EXPECT_TRUE(json_scan::scan("\xEF\xBB\xBF {}").object);
  EXPECT_FALSE(valid("\xEF\xBB\xBF"));                  // BOM, then nothing
  EXPECT_FALSE(valid("\xEF\xBB{}"));                    // partial BOM
  EXPECT_FALSE(valid("\xEF{}"));
  EXPECT_FALSE(valid("\xEF\xBB\xBF\xEF\xBB\xBF{}"));    // only one
  EXPECT_FALSE(valid(" \xEF\xBB\xBF{}"));               // only at the very start
}

TEST(JsonScan, NulEndsInputOnlyAfterTheValue) {
  // nlohmann's lexer treats '\0' as end of input: after a complete top-level
  // value it ends the document (the rest is ignored); anywhere else the
  // document is incomplete.
  EXPECT_TRUE(valid("[1]\0garbage"s));
  EXPECT_TRUE(valid("1\0"s));
  EXPECT_TRUE(valid("{\"a\":1} \0 {"s));
  EXPECT_TRUE(json_scan::scan("{\"a\":1}\0"s).object);
  EXPECT_FALSE(valid("\0"s));
  EXPECT_FALSE(valid("\0[1]"s));
  EXPECT_FALSE(valid("[1,\0]"s));
  EXPECT_FALSE(valid("[1\0]"s));
  EXPECT_FALSE(valid("tr\0e"s));
  EXPECT_FALSE(valid("\"a\0b\""s));  // inside a string it is a control byte
}

TEST(JsonScan, RejectsBadLiterals) {
  for (const char* s : {"tru", "nul", "fals", "True", "NULL", "truex", "nulll", "t", "n", "f", "undefined"})
    EXPECT_FALSE(valid(s)) << s;
  EXPECT_TRUE(valid("true"));
  EXPECT_TRUE(valid("false"));
}

TEST(JsonScan, RejectsBadNumberGrammar) {
  for (const char* s : {"01", "-01", "00", "1.", ".5", "-.5", "1.e5", "1e", "1e+", "1e-", "+1", "--1", "-", "0x10",
                        "1_000", "Infinity", "NaN", "1.5.5", "1e5e5", "1e5.5", "- 1", "[-]", "1.0e", "0.e1"})
    EXPECT_FALSE(valid(s)) << s;
  for (const char* s : {"0", "-0", "0.0", "-0.0e-0", "1E5", "1e+5", "1e-5", "123.456e78", "9223372036854775808",
                        "18446744073709551616", "123456789012345678901234567890"})
    EXPECT_TRUE(valid(s)) << s;
}

TEST(JsonScan, RejectsNumbersThatOverflowADouble) {
  EXPECT_FALSE(valid("1e309"));
  EXPECT_FALSE(valid("1e999"));
  EXPECT_FALSE(valid("-1e400"));
  EXPECT_FALSE(valid("[1e99999999999999999999999]"));
  EXPECT_FALSE(valid(std::string(309, '9')));          // an integer too big even for a double
  EXPECT_FALSE(valid("1.7976931348623159e308"));
  EXPECT_FALSE(valid("0." + std::string(400, '0') + "1e710"));
  // Underflow and zero are fine, whatever the exponent.
  EXPECT_TRUE(valid("1e-999"));
  EXPECT_TRUE(valid("-1e-99999999999999999999999"));
  EXPECT_TRUE(valid("0e999999999999"));
  EXPECT_TRUE(valid("0.000e999999999999"));
  EXPECT_TRUE(valid(std::string(308, '9')));
  EXPECT_TRUE(valid("1.7976931348623157e308"));
  EXPECT_TRUE(valid("0." + std::string(400, '0') + "1e708"));
}

TEST(JsonScan, OverflowThresholdMatchesStrtod) {
  // The scanner decides overflow without strtod; check it against strtod
  // right at the edge: digits of 2^1024 - 2^970 (the rounding threshold)
  // perturbed, in several spellings.
  const std::string t =
      "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096"
      "330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730"
      "270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497"
      "792";
  std::mt19937_64 rng(7);
  auto check = [](const std::string& number) {
    bool finite = std::isfinite(std::strtod(number.c_str(), nullptr));
    EXPECT_EQ(valid(number), finite) << number;
    EXPECT_EQ(valid(number), nlohmann_accepts(number)) << number;
  };
  check(t);
  check(t + ".0");
  check(t + ".0000000001");
  check("1.79769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096e308");
  for (int i = 0; i < 3000; ++i) {
    std::string digits = t;
    std::size_t keep = 1 + rng() % digits.size();
    digits.resize(keep);
    int mode = static_cast<int>(rng() % 4);
    if (mode == 0 && keep > 1) {  // nudge one digit
      std::size_t at = rng() % keep;
      digits[at] = static_cast<char>('0' + rng() % 10);
      if (digits[0] == '0') digits[0] = '1';
    }
    if (mode == 1) digits += std::string(rng() % 5, static_cast<char>('0' + rng() % 10));
    // Place the decimal point anywhere and compensate with the exponent.
    std::size_t point = 1 + rng() % digits.size();
    long exponent = 308 - static_cast<long>(point - 1);
    std::string number = digits.substr(0, point);
    if (point < digits.size()) number += "." + digits.substr(point);
    if (rng() % 2 == 0) number = "-" + number;
    if (exponent != 0 || rng() % 2 == 0) number += (rng() % 2 ? "e" : "E") + std::to_string(exponent);
    check(number);
    // Zero-prefixed fraction form: 0.000ddd e(309 + zeros).
    std::size_t zeros = rng() % 4;
    check("0." + std::string(zeros, '0') + digits + "e" + std::to_string(309 + zeros));
  }
}

TEST(JsonScan, RejectsBadStrings) {
  EXPECT_FALSE(valid("\"abc"));
  EXPECT_FALSE(valid("\"abc\\\""));
  EXPECT_FALSE(valid("'abc'"));
  for (int c = 0; c < 0x20; ++c) EXPECT_FALSE(valid("\""s + static_cast<char>(c) + "\"")) << c;
  EXPECT_TRUE(valid("\"\x7f\""));  // DEL needs no escape
  for (const char* s : {"\"\\x41\"", "\"\\'\"", "\"\\U0041\"", "\"\\a\"", "\"\\0\"", "\"\\", "\"\\u", "\"\\u41\"",
                        "\"\\u004\"", "\"\\u00G1\"", "\"\\u004 \""})
    EXPECT_FALSE(valid(s)) << s;
  EXPECT_TRUE(valid("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0000 \\uabcd \\uABCD\""));
}

TEST(JsonScan, SurrogateEscapesMustPair) {
  EXPECT_TRUE(valid("\"\\ud800\\udc00\""));
  EXPECT_TRUE(valid("\"\\uDBFF\\uDFFF\""));
  EXPECT_TRUE(valid("\"\\ud7ff\\ue000\""));
  for (const char* s : {"\"\\ud800\"", "\"\\udc00\"", "\"\\udfff\"", "\"\\ud800\\u0041\"", "\"\\ud800\\ud800\"",
                        "\"\\ud800x\"", "\"\\ud800\\n\"", "\"\\ud800\\udc0\"", "\"\\udc00\\ud800\"", "\"\\ud800 \\udc00\""})
    EXPECT_FALSE(valid(s)) << s;
}

TEST(JsonScan, Utf8MustBeWellFormed) {
  for (const char* s : {"\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xE1\x80\x80", "\xEC\xBF\xBF", "\xED\x80\x80",
                        "\xED\x9F\xBF", "\xEE\x80\x80", "\xEF\xBF\xBF", "\xF0\x90\x80\x80", "\xF1\x80\x80\x80",
                        "\xF3\xBF\xBF\xBF", "\xF4\x80\x80\x80", "\xF4\x8F\xBF\xBF"})
    EXPECT_TRUE(valid("\""s + s + "\"")) << s;
  for (const char* s : {"\x80", "\xBF", "\xC0\x80", "\xC1\xBF", "\xC2", "\xC2\x41", "\xC2\xC0", "\xE0\x80\x80",
                        "\xE0\x9F\xBF", "\xED\xA0\x80", "\xED\xBF\xBF", "\xE2\x82", "\xE2\x28\xA1", "\xE2\x82\x28",
                        "\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xF0\x90\x80",
                        "\xF0\x90\x28\x80", "\xF8\x88\x80\x80\x80", "\xFE", "\xFF"})
    EXPECT_FALSE(valid("\""s + s + "\"")) << s;
  EXPECT_FALSE(valid("\xC3\xA9"));  // UTF-8 outside a string
  // Long runs of multi-byte text cross the 16-byte fast path at every offset.
  std::string text = "\"";
  for (int i = 0; i < 40; ++i) text += "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
  EXPECT_TRUE(valid(text + "\""));
  EXPECT_FALSE(valid(text + "\xF0\x9F\x98\""));
}

TEST(JsonScan, RejectsBadStructure) {
  for (const char* s : {"[", "]", "{", "}", "[1,]", "[,1]", "[1 2]", "[1,,2]", "{\"a\":1,}", "{,\"a\":1}", "{\"a\" 1}",
                        "{\"a\":}", "{\"a\"}", "{a:1}", "{1:1}", "{null:1}", "{\"a\":1 \"b\":2}", "[}", "{]", "[[]",
                        "[]]", "{\"a\":[}]}", "[1]x", "[1] [2]", "1 2", "{\"a\":1}}", "[1]//c", "/*c*/[1]",
                        "[1,/*c*/2]", "{\"a\":1,,\"b\":2}"})
    EXPECT_FALSE(valid(s)) << s;
}

TEST(JsonScan, DeepNestingNeedsNoStack) {
  const std::size_t n = 1'000'000;
  std::string deep = std::string(n, '[') + std::string(n, ']');
  EXPECT_TRUE(valid(deep));
  EXPECT_FALSE(valid(std::string(n, '[') + std::string(n - 1, ']')));
  EXPECT_FALSE(valid(std::string(n - 1, '[') + std::string(n, ']')));
  EXPECT_FALSE(valid(std::string(n, '[')));
  std::string objects;
  for (std::size_t i = 0; i < n / 8; ++i) objects += "{\"k\":[";
  objects += "1";
  for (std::size_t i = 0; i < n / 8; ++i) objects += "]}";
  EXPECT_TRUE(valid(objects));
  objects[objects.size() - 2] = '}';  // ...]} -> ...}} mismatched
  EXPECT_FALSE(valid(objects));
  // Only depth-1 members are reported, however deep the value.
  auto members = members_of("{\"deep\":" + deep + ",\"x\":1}");
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].kind, Kind::array);
  EXPECT_EQ(members[0].value.size(), deep.size());
}

// ---------------------------------------------------------------------------
// Members.

TEST(JsonScan, ReportsTopLevelMembersWithKindsAndRawValues) {
  std::string text =
      "{ \"s\" : \"a\\nb\" , \"n\":-1.5e3,\"i\":42, \"t\":true,\"f\":false,\"z\":null,"
      "\"o\":{\"inner\":1,\"deeper\":{\"x\":[]}},\"a\":[1,{\"no\":2}],\"eo\":{},\"ea\":[ ] }";
  json_scan::Result r;
  auto m = members_of(text, &r);
  EXPECT_TRUE(r.valid);
  EXPECT_TRUE(r.object);
  ASSERT_EQ(m.size(), 10u);
  struct Want {
    const char* key;
    Kind kind;
    const char* value;
  };
  const Want want[] = {{"s", Kind::string, "\"a\\nb\""},
                       {"n", Kind::number, "-1.5e3"},
                       {"i", Kind::number, "42"},
                       {"t", Kind::boolean, "true"},
                       {"f", Kind::boolean, "false"},
                       {"z", Kind::null, "null"},
                       {"o", Kind::object, "{\"inner\":1,\"deeper\":{\"x\":[]}}"},
                       {"a", Kind::array, "[1,{\"no\":2}]"},
                       {"eo", Kind::object, "{}"},
                       {"ea", Kind::array, "[ ]"}};
  for (std::size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(m[i].key, want[i].key) << i;
    EXPECT_FALSE(m[i].key_escaped) << i;
    EXPECT_EQ(m[i].kind, want[i].kind) << i;
    EXPECT_EQ(m[i].value, want[i].value) << i;
  }
  // Values are views into the input.
  EXPECT_EQ(m[0].value.data(), text.data() + text.find("\"a\\nb\""));
}

TEST(JsonScan, NoMembersForNonObjects) {
  json_scan::Result r;
  EXPECT_TRUE(members_of("[{\"a\":1},{\"b\":2}]", &r).empty());
  EXPECT_TRUE(r.valid);
  EXPECT_FALSE(r.object);
  EXPECT_TRUE(members_of("\"x\"", &r).empty());
  EXPECT_TRUE(members_of("{}", &r).empty());
  EXPECT_TRUE(r.object);
  EXPECT_TRUE(json_scan::scan("{}").object);
  EXPECT_FALSE(json_scan::scan("[]").object);
  EXPECT_FALSE(json_scan::scan("{} x").object);  // object only when valid
}

TEST(JsonScan, DuplicatesAreAllReportedInOrder) {
  auto m = members_of("{\"a\":1,\"b\":2,\"a\":\"x\"}");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].key, "a");
  EXPECT_EQ(m[0].value, "1");
  EXPECT_EQ(m[2].key, "a");
  EXPECT_EQ(m[2].kind, Kind::string);
  // The DOM keeps the last one.
  EXPECT_EQ(nlohmann::json::parse("{\"a\":1,\"b\":2,\"a\":\"x\"}")["a"], "x");
}

TEST(JsonScan, EscapedKeys) {
  auto m = members_of("{\"\\u006dodel\":\"gpt\",\"a\\\"b\":1,\"\\ud83d\\ude00\":2,\"model\":3,\"\":4}");
  ASSERT_EQ(m.size(), 5u);
  EXPECT_TRUE(m[0].key_escaped);
  EXPECT_EQ(m[0].key, "\\u006dodel");
  EXPECT_TRUE(m[0].key_is("model"));
  EXPECT_FALSE(m[0].key_is("mode"));
  EXPECT_FALSE(m[0].key_is("models"));
  EXPECT_FALSE(m[0].key_is("\\u006dodel"));
  EXPECT_TRUE(m[1].key_is("a\"b"));
  EXPECT_TRUE(m[2].key_is("\xF0\x9F\x98\x80"));
  EXPECT_FALSE(m[3].key_escaped);
  EXPECT_TRUE(m[3].key_is("model"));
  EXPECT_FALSE(m[3].key_is("Model"));
  EXPECT_TRUE(m[4].key_is(""));
  EXPECT_EQ(json_scan::decode_string(m[2].key), "\xF0\x9F\x98\x80");
}

TEST(JsonScan, MembersBeforeAnErrorAreStillReported) {
  json_scan::Result r;
  auto m = members_of("{\"a\":1,\"b\":[2],\"c\":", &r);
  EXPECT_FALSE(r.valid);
  EXPECT_FALSE(r.object);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[1].value, "[2]");
}

namespace {
int g_function_calls = 0;
void count_member(const Member&) { ++g_function_calls; }
}  // namespace

TEST(JsonScan, CallbackMayBeAnyCallable) {
  json_scan::scan("{\"a\":1,\"b\":2,\"c\":3}", count_member);
  json_scan::scan("{\"a\":1}", &count_member);
  EXPECT_EQ(g_function_calls, 4);
  struct Counter {
    int n = 0;
    void operator()(const Member&) { ++n; }
  } counter;
  json_scan::scan("{\"a\":1,\"b\":2}", counter);
  EXPECT_EQ(counter.n, 2);
  int n = 0;
  const auto lambda = [&n](const Member&) { ++n; };
  json_scan::scan("{\"a\":1}", lambda);
  EXPECT_EQ(n, 1);
  EXPECT_THROW(json_scan::scan("{\"a\":1}", [](const Member&) { throw std::runtime_error("stop"); }),
               std::runtime_error);
}

// ---------------------------------------------------------------------------
// Decoding.

TEST(JsonScan, DecodeString) {
  EXPECT_EQ(json_scan::decode_string("\"\""), "");
  EXPECT_EQ(json_scan::decode_string(""), "");
  EXPECT_EQ(json_scan::decode_string("\"plain\""), "plain");
  EXPECT_EQ(json_scan::decode_string("plain"), "plain");  // a key, as reported: no quotes
  EXPECT_EQ(json_scan::decode_string("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\""), "\" \\ / \b \f \n \r \t");
  EXPECT_EQ(json_scan::decode_string("\\\"quoted\\\""), "\"quoted\"");  // key starting with an escaped quote
  EXPECT_EQ(json_scan::decode_string("\"\\u0041\\u00e9\\u20AC\\uFFFF\""), "A\xC3\xA9\xE2\x82\xAC\xEF\xBF\xBF");
  EXPECT_EQ(json_scan::decode_string("\"\\u0000\""), "\0"s);
  EXPECT_EQ(json_scan::decode_string("\"\\u007f\\u0080\\u07ff\\u0800\""), "\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80");
  EXPECT_EQ(json_scan::decode_string("\"\\ud800\\udc00\""), "\xF0\x90\x80\x80");
  EXPECT_EQ(json_scan::decode_string("\"\\uD83D\\uDE00\""), "\xF0\x9F\x98\x80");
  EXPECT_EQ(json_scan::decode_string("\"\\udbff\\udfff\""), "\xF4\x8F\xBF\xBF");
  EXPECT_EQ(json_scan::decode_string("\"caf\xC3\xA9 \\u2603\""), "caf\xC3\xA9 \xE2\x98\x83");
  // Unvalidated input: defined, not crashing.
  EXPECT_EQ(json_scan::decode_string("\\ud800"), "\xEF\xBF\xBD");
  EXPECT_EQ(json_scan::decode_string("\\udc00x"), "\xEF\xBF\xBDx");
  EXPECT_EQ(json_scan::decode_string("a\\"), "a\xEF\xBF\xBD");
  EXPECT_EQ(json_scan::decode_string("\\u12"), "\xEF\xBF\xBDu12");
  EXPECT_EQ(json_scan::decode_string("\""), "");
}

TEST(JsonScan, DecodeStringMatchesNlohmann) {
  for (const char* s : {"\"\\u0041\\u00e9\\u20AC\\uFFFF\"", "\"\\ud800\\udc00 x \\udbff\\udfff\"", "\"a\\/b\\\\c\\\"\"",
                        "\"\\b\\f\\n\\r\\t\\u001f\"", "\"\xF0\x9F\x98\x80 \\uD83D\\uDE00\""}) {
    ASSERT_TRUE(valid(s)) << s;
    EXPECT_EQ(json_scan::decode_string(s), nlohmann::json::parse(s).get<std::string>()) << s;
  }
}

TEST(JsonScan, AsInt64) {
  using L = std::numeric_limits<std::int64_t>;
  EXPECT_EQ(json_scan::as_int64("0"), 0);
  EXPECT_EQ(json_scan::as_int64("-0"), 0);
  EXPECT_EQ(json_scan::as_int64("64"), 64);
  EXPECT_EQ(json_scan::as_int64("-17"), -17);
  EXPECT_EQ(json_scan::as_int64("9223372036854775807"), L::max());
  EXPECT_EQ(json_scan::as_int64("-9223372036854775808"), L::min());
  EXPECT_EQ(json_scan::as_int64("9223372036854775808"), std::nullopt);
  EXPECT_EQ(json_scan::as_int64("-9223372036854775809"), std::nullopt);
  EXPECT_EQ(json_scan::as_int64("18446744073709551615"), std::nullopt);
  EXPECT_EQ(json_scan::as_int64("99999999999999999999"), std::nullopt);
  EXPECT_EQ(json_scan::as_int64("184467440737095516160"), std::nullopt);  // wraps uint64 if unchecked
  EXPECT_EQ(json_scan::as_int64("1.0"), std::nullopt);
  EXPECT_EQ(json_scan::as_int64("1e2"), std::nullopt);
  EXPECT_EQ(json_scan::as_int64(""), std::nullopt);
  EXPECT_EQ(json_scan::as_int64("-"), std::nullopt);
  EXPECT_EQ(json_scan::as_int64("01"), std::nullopt);
  EXPECT_EQ(json_scan::as_int64("+1"), std::nullopt);
  EXPECT_EQ(json_scan::as_int64(" 1"), std::nullopt);
  EXPECT_EQ(json_scan::as_int64("\"1\""), std::nullopt);
}

// ---------------------------------------------------------------------------
// Differential: nlohmann is the oracle on every tricky case above, and on
// each of them as an object member value and as an array element.

TEST(JsonScan, AgreesWithNlohmannOnTrickyCases) {
  int checked = 0;
  for (const std::string& s : kTricky) {
    for (const std::string& text : {s, "{\"k\":" + s + "}", "[" + s + "]", " " + s + " "}) {
      bool want = nlohmann_accepts(text);
      json_scan::Result r;
      auto m = members_of(text, &r);
      EXPECT_EQ(r.valid, want) << nlohmann::json(text).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
      EXPECT_EQ(json_scan::scan(text).valid, want);
      if (want) {
        auto dom = nlohmann::json::parse(text);
        EXPECT_EQ(r.object, dom.is_object());
        if (dom.is_object() && dom.contains("k") && dom["k"].is_string()) {
          ASSERT_FALSE(m.empty());
          EXPECT_EQ(json_scan::decode_string(m.back().value), dom["k"].get<std::string>());
        }
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 800);
}

TEST(JsonScan, AgreesWithNlohmannOnEveryTruncation) {
  const std::string doc =
      "\xEF\xBB\xBF{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"user\", \"content\": "
      "\"h\\u00e9llo \\ud83d\\ude00 \xE2\x82\xAC\"}], \"max_tokens\": 64, \"temperature\": 0.7, \"x\": -1e-5, "
      "\"stream\": true, \"stop\": null, \"n\": [false, {}]}";
  for (std::size_t i = 0; i <= doc.size(); ++i) {
    std::string_view prefix(doc.data(), i);
    EXPECT_EQ(valid(prefix), nlohmann_accepts(prefix)) << i;
  }
}
