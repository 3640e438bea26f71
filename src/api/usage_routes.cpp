#include "api/usage_routes.hpp"

#include <charconv>
#include <chrono>

#include "access/middleware.hpp"
#include "common/error.hpp"
#include "http/response.hpp"

namespace osprey::api {

using http::Awaitable;
using http::Context;
using http::Response;
using nlohmann::json;

std::optional<std::int64_t> parse_time_bound(std::string_view s) {
  // Digits only: from_chars would also take a sign ("-026-11-25").
  auto num = [](std::string_view t, int& out) {
    for (char c : t)
      if (c < '0' || c > '9') return false;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    return ec == std::errc() && p == t.data() + t.size();
  };
  if (s.empty() || s.size() > 40) return std::nullopt;
  if (s.find('-') == std::string_view::npos) {
    std::int64_t secs = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), secs);
    if (ec != std::errc() || p != s.data() + s.size() || secs < 0 || secs > 253402300799) return std::nullopt;
    return secs * 1000;
  }
  // YYYY-MM-DD[THH:MM:SS[Z]]
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (s.size() < 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  if (!num(s.substr(0, 4), y) || !num(s.substr(5, 2), mo) || !num(s.substr(8, 2), d)) return std::nullopt;
  auto rest = s.substr(10);
  if (!rest.empty()) {
    if (rest.back() == 'Z') rest.remove_suffix(1);
    if (rest.size() != 9 || (rest[0] != 'T' && rest[0] != ' ') || rest[3] != ':' || rest[6] != ':')
      return std::nullopt;
    if (!num(rest.substr(1, 2), h) || !num(rest.substr(4, 2), mi) || !num(rest.substr(7, 2), sec)) return std::nullopt;
    if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
  }
  if (y < 1970) return std::nullopt;
  using namespace std::chrono;
  year_month_day ymd{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return std::nullopt;
  auto t = sys_days(ymd) + hours(h) + minutes(mi) + seconds(sec);
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

namespace {

json totals_json(const usage::Totals& t) {
  return {{"requests", t.requests},           {"images", t.images},
          {"prompt_tokens", t.prompt_tokens}, {"completion_tokens", t.completion_tokens},
          {"total_tokens", t.tokens()},       {"cost_usd", t.cost_usd}};
}

json record_json(const usage::Record& r) {
  return {{"seq", r.seq},
          {"time", r.ts_ms / 1000.0},
          {"request_id", r.request_id},
          {"key_id", r.key_id},
          {"route", r.route},
          {"method", r.method},
          {"model", r.model},
          {"status", r.status},
          {"latency_ms", r.latency_ms},
          {"images", r.images},
          {"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.completion_tokens},
          {"cost_usd", r.cost_usd},
          {"upstream", r.upstream.empty() ? json(nullptr) : json(r.upstream)}};
}

std::int64_t int_param(const Context& ctx, const char* name, std::int64_t def, std::int64_t lo, std::int64_t hi) {
  auto v = ctx.query.get(name);
  if (!v) return def;
  std::int64_t out = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || p != v->data() + v->size() || out < lo || out > hi)
    throw bad_request(std::string(name) + " must be an integer in [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "]",
                      name);
  return out;
}

}  // namespace

void add_usage_routes(http::Router& router, access::AccessService& access, usage::Ledger& ledger) {
  router.add({
      .method = http::Verb::get,
      .path = "/v1/usage",
      .handler = [&access, &ledger](Context& ctx) -> Awaitable<Response> {
        usage::Filter f;
        bool admin = !ctx.principal || ctx.principal->has_scope("admin");  // no principal: auth disabled
        auto asked = ctx.query.get("key_id");
        if (admin) {
          f.key_id = asked.value_or("");
        } else {
          if (asked && *asked != ctx.principal->key_id)
            throw ApiError(403, "only an admin key may read another key's usage", "permission_error",
                           "insufficient_scope", "key_id");
          f.key_id = ctx.principal->key_id;
        }
        auto now = access.now_ms();
        f.from_ms = usage::utc_month_start_ms(now);
        if (auto v = ctx.query.get("from")) {
          auto t = parse_time_bound(*v);
          if (!t) throw bad_request("from must be unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ", "from");
          f.from_ms = *t;
        }
        if (auto v = ctx.query.get("to")) {
          auto t = parse_time_bound(*v);
          if (!t) throw bad_request("to must be unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ", "to");
          f.to_ms = *t;
          if (f.to_ms <= f.from_ms) throw bad_request("to must be after from", "to");
        }
        std::optional<usage::GroupBy> group;
        if (auto g = ctx.query.get("group_by")) {
          if (*g == "day") group = usage::GroupBy::day;
          else if (*g == "model") group = usage::GroupBy::model;
          else throw bad_request("group_by must be 'day' or 'model'", "group_by");
        }
        int limit = static_cast<int>(int_param(ctx, "limit", 100, 0, 1000));
        auto before = int_param(ctx, "before", 0, 0, INT64_MAX);

        struct Result {
          usage::Totals totals;
          std::vector<usage::Group> groups;
          std::vector<usage::Record> records;
        };
        auto q = ledger.query([f, group, limit, before](usage::Ledger& l) {
          Result out;
          out.totals = l.totals(f);
          if (group) out.groups = l.grouped(f, *group);
          // One extra row tells whether there is another page.
          if (limit > 0) out.records = l.records(f, limit + 1, before);
          return out;
        });
        auto r = co_await std::move(q);
        bool more = static_cast<int>(r.records.size()) > limit;
        if (more) r.records.pop_back();
        json body = {{"object", "usage"},
                     {"key_id", f.key_id.empty() ? json(nullptr) : json(f.key_id)},
                     {"from", f.from_ms / 1000},
                     {"to", f.to_ms ? json(f.to_ms / 1000) : json(nullptr)},
                     {"totals", totals_json(r.totals)}};
        if (group) {
          json g = json::array();
          for (const auto& x : r.groups) {
            auto t = totals_json(x.totals);
            t[*group == usage::GroupBy::day ? "day" : "model"] = x.group;
            g.push_back(std::move(t));
          }
          body["groups"] = std::move(g);
        }
        json data = json::array();
        for (const auto& rec : r.records) data.push_back(record_json(rec));
        body["data"] = std::move(data);
        body["has_more"] = more;
        body["next_before"] = more ? json(r.records.back().seq) : json(nullptr);
        co_return http::json_response(ctx, 200, body);
      },
      .summary = "Usage of the calling key (admin: any key)",
      .tag = "Usage",
      .description = "Totals, optional groups and the newest records from the usage ledger. Records are "
                     "paged newest first with `before`.",
      .params = {{"key_id", "query", "Key to report on (admin only; default: the caller, or all keys for admin)"},
                 {"from", "query", "Start (inclusive): unix seconds, YYYY-MM-DD or RFC 3339 UTC; default: "
                                   "start of this month"},
                 {"to", "query", "End (exclusive), same formats"},
                 {"group_by", "query", "day or model"},
                 {"limit", "query", "Records to return, 0..1000 (default 100)", "integer"},
                 {"before", "query", "Cursor: return records older than this seq", "integer"}},
      .responses = {{"200", "Usage"}, {"400", "Bad parameter"}, {"401", "Missing or invalid key"},
                    {"403", "key_id of another key without admin scope"}},
      .response_schema = {{"type", "object"},
                          {"properties",
                           {{"totals", {{"type", "object"}}},
                            {"groups", {{"type", "array"}, {"items", {{"type", "object"}}}}},
                            {"data", {{"type", "array"}, {"items", {{"type", "object"}}}}},
                            {"has_more", {{"type", "boolean"}}}}}},
      .scope = std::string(access::kAnyKeyScope),
  });
}

}  // namespace osprey::api
