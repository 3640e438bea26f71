// The ledger's read side: the usage queries (on the read connection, after
// catch_up(), so a client sees its own requests) and the UTC calendar the
// budgets and reports use. The write side is ledger.cpp.

#include "usage/ledger.hpp"

#include <chrono>

#include "usage/sqlite.hpp"

namespace osprey::usage {

namespace {

constexpr const char* kTotalsCols =
    "COUNT(*), COALESCE(SUM(images),0), COALESCE(SUM(prompt_tokens),0), "
    "COALESCE(SUM(completion_tokens),0), COALESCE(SUM(cost_usd),0)";

// WHERE clause for a Filter; binds start at parameter 1.
std::string where(const Filter& f) {
  std::string w = " WHERE ts_ms >= ?1";
  if (f.to_ms > 0) w += " AND ts_ms < ?2";
  if (!f.key_id.empty()) w += " AND key_id = ?3";
  return w;
}

void bind_filter(sql::Stmt& s, const Filter& f) {
  s.bind(1, f.from_ms);
  if (f.to_ms > 0) s.bind(2, f.to_ms);
  if (!f.key_id.empty()) s.bind(3, f.key_id);
}

Totals read_totals(const sql::Stmt& s, int c) {
  Totals t;
  t.requests = s.int64(c);
  t.images = s.int64(c + 1);
  t.prompt_tokens = s.int64(c + 2);
  t.completion_tokens = s.int64(c + 3);
  t.cost_usd = s.real(c + 4);
  return t;
}

}  // namespace

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t utc_day_start_ms(std::int64_t t) {
  constexpr std::int64_t day = 86'400'000;
  return t - ((t % day) + day) % day;
}

namespace {
std::chrono::year_month_day ymd_of(std::int64_t t) {
  using namespace std::chrono;
  return year_month_day{floor<days>(sys_time<milliseconds>(milliseconds(t)))};
}
std::int64_t ms_of(std::chrono::year_month_day d) {
  using namespace std::chrono;
  return duration_cast<milliseconds>(sys_days(d).time_since_epoch()).count();
}
}  // namespace

std::int64_t utc_month_start_ms(std::int64_t t) {
  auto d = ymd_of(t);
  return ms_of(d.year() / d.month() / std::chrono::day(1));
}

std::int64_t utc_next_month_start_ms(std::int64_t t) {
  auto d = ymd_of(t);
  auto first = std::chrono::year_month_day(d.year() / d.month() / std::chrono::day(1)) + std::chrono::months(1);
  return ms_of(first);
}

Totals Ledger::totals(const Filter& f) {
  catch_up();
  std::lock_guard lock(read_mu_);
  sql::Stmt s(*read_db_, std::string("SELECT ") + kTotalsCols + " FROM usage" + where(f));
  bind_filter(s, f);
  return s.step() ? read_totals(s, 0) : Totals{};
}

std::vector<Record> Ledger::records(const Filter& f, int limit, std::int64_t before_seq) {
  catch_up();
  std::lock_guard lock(read_mu_);
  std::string q =
      "SELECT seq, ts_ms, request_id, key_id, route, method, model, status, latency_ms, images, prompt_tokens, "
      "completion_tokens, cost_usd, upstream FROM usage" +
      where(f);
  if (before_seq > 0) q += " AND seq < ?4";
  q += " ORDER BY seq DESC LIMIT ?5";
  sql::Stmt s(*read_db_, q);
  bind_filter(s, f);
  if (before_seq > 0) s.bind(4, before_seq);
  s.bind(5, static_cast<std::int64_t>(limit));
  std::vector<Record> out;
  while (s.step()) {
    Record r;
    r.seq = s.int64(0);
    r.ts_ms = s.int64(1);
    r.request_id = s.text(2);
    r.key_id = s.text(3);
    r.route = s.text(4);
    r.method = s.text(5);
    r.model = s.text(6);
    r.status = static_cast<int>(s.int64(7));
    r.latency_ms = s.real(8);
    r.images = static_cast<int>(s.int64(9));
    r.prompt_tokens = s.int64(10);
    r.completion_tokens = s.int64(11);
    r.cost_usd = s.real(12);
    r.upstream = s.text(13);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Group> Ledger::grouped(const Filter& f, GroupBy by) {
  catch_up();
  std::lock_guard lock(read_mu_);
  std::string g = by == GroupBy::day ? "strftime('%Y-%m-%d', ts_ms / 1000, 'unixepoch')" : "model";
  sql::Stmt s(*read_db_, "SELECT " + g + " AS g, " + kTotalsCols + " FROM usage" + where(f) +
                             " GROUP BY g ORDER BY g");
  bind_filter(s, f);
  std::vector<Group> out;
  while (s.step()) out.push_back({s.text(0), read_totals(s, 1)});
  return out;
}

std::map<std::string, Totals> Ledger::totals_by_key(const Filter& f) {
  catch_up();
  std::lock_guard lock(read_mu_);
  sql::Stmt s(*read_db_, std::string("SELECT key_id, ") + kTotalsCols + " FROM usage" + where(f) +
                             " GROUP BY key_id");
  bind_filter(s, f);
  std::map<std::string, Totals> out;
  while (s.step()) out[s.text(0)] = read_totals(s, 1);
  return out;
}

}  // namespace osprey::usage
