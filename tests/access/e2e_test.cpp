// INTEGRATION: the access area through the real `osprey` binary. Needs the
// lead's serve.cpp to install access::install_access_middleware and the
// admin/usage/metrics routes, and `osprey keys` wired to add_keys_command.
//
//  - the CLI prints a new key alone on stdout; the server accepts it;
//    `keys revoke` from another process takes effect while it runs
//  - rpm exact through HTTP, with the x-ratelimit-* headers
//  - kill -9 under load: every 2xx the clients saw is in the ledger
//  - three osprey processes sharing one Redis admit exactly rpm in total

#include <gtest/gtest.h>

#include <signal.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <regex>
#include <sstream>
#include <thread>

#include "redis_server.hpp"
#include "support.hpp"
#include "usage/ledger.hpp"
#include "usage/sqlite.hpp"

using namespace osprey;
using namespace osprey::test;

namespace {

const std::string kAdmin = "e2e-admin-key-0123456789abcdef";

std::string extract_key(const std::string& output) {
  // The key is alone on its own line.
  std::istringstream in(output);
  std::string line;
  std::regex re("^osk_[0-9A-Za-z]{30}$");
  while (std::getline(in, line))
    if (std::regex_match(line, re)) return line;
  return {};
}

std::map<std::string, std::string> bearer(const std::string& k) { return {{"Authorization", "Bearer " + k}}; }

// Sleeps past the end of the current minute if fewer than `need_s` seconds
// are left in it, so a fixed-window count is not split by a boundary.
void avoid_minute_boundary(int need_s) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto into = std::chrono::duration_cast<std::chrono::milliseconds>(now).count() % 60000;
  if (into > (60 - need_s) * 1000) std::this_thread::sleep_for(std::chrono::milliseconds(60000 - into + 200));
}

// Removes a make_temp_dir() folder when the test ends.
struct RemoveAtEnd {
  std::string dir;
  ~RemoveAtEnd() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

}  // namespace

TEST(AccessE2E, CliKeyAuthRevokeAndLimits) {
  RemoveAtEnd tmp{make_temp_dir("osprey-access-e2e")};
  auto dir = tmp.dir + "/data";
  auto [rc, out] = OspreyProcess::run({"keys", "create", "--scopes", "detect,chat", "--rpm", "4", "--name", "e2e",
                                       "--data-dir", dir});
  ASSERT_EQ(rc, 0) << out;
  auto key = extract_key(out);
  ASSERT_FALSE(key.empty()) << out;

  auto srv = OspreyProcess::start({"--data-dir", dir}, {{"OSPREY_ADMIN_KEY", kAdmin}});
  HttpClient c("127.0.0.1", srv->port());
  EXPECT_EQ(c.get("/v1/usage?limit=0").status, 401);
  EXPECT_EQ(c.get("/v1/admin/keys", bearer(key)).status, 403);
  EXPECT_EQ(c.get("/v1/admin/keys", bearer(kAdmin)).status, 200);

  avoid_minute_boundary(10);
  for (int i = 0; i < 4; ++i) {
    auto r = c.get("/v1/usage?limit=0", bearer(key));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-ratelimit-limit-requests"), "4");
    EXPECT_EQ(r.header("x-ratelimit-remaining-requests"), std::to_string(3 - i));
  }
  auto limited = c.get("/v1/usage?limit=0", bearer(key));
  EXPECT_EQ(limited.status, 429);
  EXPECT_FALSE(limited.header("retry-after").empty());

  // Revoke from another process while the server runs.
  auto list = c.get("/v1/admin/keys", bearer(kAdmin));
  std::string id;
  auto listed = nlohmann::json::parse(list.body);
  for (auto& k : listed["data"])
    if (k["name"] == "e2e") id = k["id"];
  ASSERT_FALSE(id.empty()) << list.status << " " << list.body;
  auto [rrc, rout] = OspreyProcess::run({"keys", "revoke", id, "--data-dir", dir});
  ASSERT_EQ(rrc, 0) << rout;
  EXPECT_EQ(c.get("/v1/usage?limit=0", bearer(key)).status, 401);  // the very next request

  auto metrics = c.get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("osprey_rate_limited_total"), std::string::npos);

  // No key material anywhere the operator can read: the server's log, the
  // metrics, the key listing, the OpenAPI document. (Keys were sent in
  // headers on every request above, also unknown and revoked ones.)
  c.get("/v1/usage?limit=0", bearer("osk_notarealkeybutlookslikeone000000"));
  auto log_text = srv->log();
  for (const auto& secret : {key, kAdmin}) {
    EXPECT_EQ(log_text.find(secret), std::string::npos) << "key in the log";
    EXPECT_EQ(metrics.body.find(secret), std::string::npos) << "key in /metrics";
    EXPECT_EQ(c.get("/v1/admin/keys", bearer(kAdmin)).body.find(secret), std::string::npos) << "key in the listing";
    EXPECT_EQ(c.get("/openapi.json").body.find(secret), std::string::npos);
  }
}

// What a new user does: the server runs, `osprey keys create` in another
// terminal, then curl with the key at once. No sleep anywhere: the key
// counts from the first request after the command returns, and a revoked
// one stops on the first request after `keys revoke` returns, each time.
TEST(AccessE2E, KeyFromAnotherProcessCountsOnTheNextRequest) {
  RemoveAtEnd tmp{make_temp_dir("osprey-access-fresh")};
  auto dir = tmp.dir + "/data";
  auto srv = OspreyProcess::start({"--data-dir", dir});
  HttpClient c("127.0.0.1", srv->port());
  std::regex created_re("created (\\S+) \\(");
  for (int round = 0; round < 5; ++round) {
    auto [rc, out] = OspreyProcess::run(
        {"keys", "create", "--scopes", "detect", "--name", "fresh" + std::to_string(round), "--data-dir", dir});
    ASSERT_EQ(rc, 0) << out;
    auto key = extract_key(out);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, created_re)) << out;
    std::string id = m[1];
    auto first = c.get("/v1/usage?limit=0", bearer(key));
    EXPECT_EQ(first.status, 200) << "round " << round << ": " << first.body;

    auto [rrc, rout] = OspreyProcess::run({"keys", "revoke", id, "--data-dir", dir});
    ASSERT_EQ(rrc, 0) << rout;
    auto after = c.get("/v1/usage?limit=0", bearer(key));
    EXPECT_EQ(after.status, 401) << "round " << round << ": " << after.body;
    EXPECT_NE(after.body.find("revoked"), std::string::npos) << after.body;
  }
}

TEST(AccessE2E, Kill9UnderLoadLosesNoAcknowledgedRecord) {
  auto srv = OspreyProcess::start({}, {{"OSPREY_ADMIN_KEY", kAdmin}});
  std::atomic<long> ok{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      try {
        HttpClient c("127.0.0.1", srv->port());
        c.set_timeout(std::chrono::milliseconds(2000));
        while (!stop) {
          auto r = c.get("/v1/usage?limit=0", bearer(kAdmin));
          if (r.status / 100 == 2) ++ok;
        }
      } catch (const std::exception&) {
        // The server died mid-request: that response was never received.
      }
    });
  }
  while (ok < 300) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  srv->signal(SIGKILL);
  srv->wait_exit(std::chrono::seconds(10));
  stop = true;
  for (auto& t : clients) t.join();

  // Restart the ledger as the next server would: it replays what the killed
  // process left in its journal (records acknowledged but not yet in SQLite).
  { usage::Ledger restarted(srv->data_dir()); }
  usage::sql::Db db(srv->data_dir() + "/usage.db");
  usage::sql::Stmt s(db, "SELECT COUNT(*) FROM usage WHERE status BETWEEN 200 AND 299 AND route = '/v1/usage'");
  ASSERT_TRUE(s.step());
  EXPECT_GE(s.int64(0), ok.load()) << "2xx responses received: " << ok.load();
}

TEST(AccessE2E, ThreeServersShareRedisLimits) {
  testutil::RedisServer redis;
  RemoveAtEnd tmp{make_temp_dir("osprey-access-e2e3")};
  auto dir = tmp.dir + "/data";
  auto [rc, out] = OspreyProcess::run({"keys", "create", "--scopes", "detect", "--rpm", "9", "--data-dir", dir});
  ASSERT_EQ(rc, 0) << out;
  auto key = extract_key(out);
  std::vector<std::unique_ptr<OspreyProcess>> servers;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < 3; ++i) {
    servers.push_back(OspreyProcess::start({"--data-dir", dir, "--redis", redis.url()}));
    clients.push_back(std::make_unique<HttpClient>("127.0.0.1", servers.back()->port()));
  }
  avoid_minute_boundary(15);
  int ok = 0, limited = 0;
  for (int i = 0; i < 27; ++i) {
    auto r = clients[i % 3]->get("/v1/usage?limit=0", bearer(key));
    if (r.status == 200) ++ok;
    if (r.status == 429) ++limited;
  }
  EXPECT_EQ(ok, 9);
  EXPECT_EQ(limited, 18);
  redis.stop();
  EXPECT_EQ(clients[0]->get("/v1/usage?limit=0", bearer(key)).status, 503);
}
