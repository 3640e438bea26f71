// Differential libFuzzer target for common/json_scan: nlohmann::json is the
// oracle. For any bytes,
//   * scan(text).valid == json::accept(text) == parse(text) not discarded,
//     with and without a member callback;
//   * for a valid top-level object, the reported members, taken the way the
//     DOM takes them (the last occurrence of each decoded key wins), match
//     the DOM member for member: same kind, decode_string() of a string ==
//     the DOM string, as_int64() of a number == the DOM integer when that
//     fits int64 (and nullopt otherwise), literals as written, and a nested
//     container's raw text re-parses to the DOM value.
// Any disagreement aborts.
//
//   cmake -DOSPREY_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... && ./fuzz_json_scan -max_total_time=60

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/json_scan.hpp"

namespace js = osprey::json_scan;
using nlohmann::json;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

js::Kind kind_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return js::Kind::null;
    case json::value_t::boolean: return js::Kind::boolean;
    case json::value_t::string: return js::Kind::string;
    case json::value_t::object: return js::Kind::object;
    case json::value_t::array: return js::Kind::array;
    default: return js::Kind::number;
  }
}

void check_member(const js::Member& m, const json& v) {
  check(m.kind == kind_of(v));
  check(!m.value.empty());
  switch (m.kind) {
    case js::Kind::null:
      check(m.value == "null");
      break;
    case js::Kind::boolean:
      check(m.value == (v.get<bool>() ? "true" : "false"));
      break;
    case js::Kind::string:
      check(m.value.size() >= 2 && m.value.front() == '"' && m.value.back() == '"');
      check(js::decode_string(m.value) == v.get_ref<const std::string&>());
      break;
    case js::Kind::number: {
      std::optional<std::int64_t> want;
      if (v.is_number_unsigned()) {
        auto u = v.get<std::uint64_t>();
        if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          want = static_cast<std::int64_t>(u);
      } else if (v.is_number_integer()) {
        want = v.get<std::int64_t>();
      }
      check(js::as_int64(m.value) == want);
      break;
    }
    case js::Kind::object:
    case js::Kind::array:
      check(m.value.front() == (m.kind == js::Kind::object ? '{' : '['));
      check(m.value.back() == (m.kind == js::Kind::object ? '}' : ']'));
      check(js::scan(m.value).valid);
      // operator== recurses; keep the nesting it may meet small.
      if (m.value.size() <= 2048) check(json::parse(m.value) == v);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  std::vector<js::Member> members;
  js::Result r = js::scan(text, [&](const js::Member& m) { members.push_back(m); });
  js::Result plain = js::scan(text);
  bool accepted = json::accept(text);
  json dom = json::parse(text, nullptr, false);

  check(r.valid == accepted);
  check(r.valid == !dom.is_discarded());
  check(plain.valid == r.valid && plain.object == r.object);
  if (!r.valid) {
    check(!r.object);
    return 0;
  }
  check(r.object == dom.is_object());
  if (!r.object) {
    check(members.empty());
    return 0;
  }

  std::map<std::string, const js::Member*> last;
  for (const auto& m : members) {
    check(m.key_escaped == (m.key.find('\\') != std::string_view::npos));
    std::string key = js::decode_string(m.key);
    check(m.key_is(key));
    check(!m.key_is(key + "x"));
    if (!key.empty()) check(!m.key_is(std::string_view(key).substr(0, key.size() - 1)));
    last[key] = &m;
  }
  check(last.size() == dom.size());
  for (const auto& [key, m] : last) {
    auto it = dom.find(key);
    check(it != dom.end());
    check_member(*m, *it);
  }
  return 0;
}
