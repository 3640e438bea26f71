// `osprey keys ...` as functions: the key alone on stdout, details on
// stderr, list/show never print the key, revoke of an unknown id fails;
// expiry options and rotation.

#include <CLI/CLI.hpp>

#include <regex>
#include <sstream>

#include "access/key.hpp"
#include "access/key_format.hpp"
#include "access_test_util.hpp"
#include "api/keys_command.hpp"

using namespace osprey;

TEST(KeysCommand, CreateListShowRevoke) {
  config::Config cfg;
  cfg.data_dir = testutil::temp_dir("osprey-cli");
  api::KeysCreateArgs a;
  a.scopes = "detect,chat";
  a.models = "yolov8n, gpt-4o-mini";
  a.rpm = 60;
  a.usd_per_month = 12.5;
  a.name = "ci-bot";
  std::ostringstream out, err;
  ASSERT_EQ(api::run_keys_create(cfg, a, out, err), 0) << err.str();
  auto key = out.str();
  ASSERT_FALSE(key.empty());
  EXPECT_EQ(key.back(), '\n');
  key.pop_back();
  EXPECT_TRUE(access::is_well_formed_key(key)) << key;  // stdout holds the key and nothing else
  EXPECT_NE(err.str().find("key_"), std::string::npos);
  EXPECT_EQ(err.str().find(key), std::string::npos);

  std::ostringstream lout, lerr;
  ASSERT_EQ(api::run_keys_list(cfg, false, lout, lerr), 0);
  EXPECT_NE(lout.str().find("ci-bot"), std::string::npos);
  EXPECT_NE(lout.str().find("rpm=60"), std::string::npos);
  EXPECT_EQ(lout.str().find(key), std::string::npos);
  std::smatch m;
  auto listing = lout.str();
  ASSERT_TRUE(std::regex_search(listing, m, std::regex("key_[0-9A-Za-z]{12}")));
  std::string id = m.str();

  std::ostringstream sout, serr;
  ASSERT_EQ(api::run_keys_show(cfg, id, true, sout, serr), 0);
  auto j = nlohmann::json::parse(sout.str());
  EXPECT_EQ(j["models"], (nlohmann::json{"yolov8n", "gpt-4o-mini"}));
  EXPECT_EQ(j["limits"]["usd_per_month"], 12.5);

  std::ostringstream rout, rerr;
  EXPECT_EQ(api::run_keys_revoke(cfg, id, rout, rerr), 0);
  EXPECT_EQ(api::run_keys_revoke(cfg, "key_unknown", rout, rerr), 1);
  EXPECT_EQ(api::run_keys_show(cfg, "key_unknown", false, rout, rerr), 1);
  std::ostringstream l2, e2;
  api::run_keys_list(cfg, false, l2, e2);
  EXPECT_NE(l2.str().find("revoked"), std::string::npos);
}

TEST(KeysCommand, BadArgumentsExit2) {
  config::Config cfg;
  cfg.data_dir = testutil::temp_dir("osprey-cli");
  std::ostringstream out, err;
  api::KeysCreateArgs a;
  a.scopes = "superuser";
  EXPECT_EQ(api::run_keys_create(cfg, a, out, err), 2);
  EXPECT_TRUE(out.str().empty());
  a.scopes = "chat";
  a.rpm = -3;
  EXPECT_EQ(api::run_keys_create(cfg, a, out, err), 2);
}

TEST(KeysCommand, Cli11Wiring) {
  auto dir = testutil::temp_dir("osprey-cli");
  CLI::App app("osprey");
  int code = -1;
  api::add_keys_command(app, [] { return config::Config{}; }, &code);
  app.parse("keys list --data-dir " + dir, false);
  EXPECT_EQ(code, 0);
  CLI::App app2("osprey");
  api::add_keys_command(app2, [] { return config::Config{}; }, &code);
  app2.parse("keys --data-dir " + dir + " revoke key_nope", false);
  EXPECT_EQ(code, 1);
}

namespace {

// Runs `keys create` and returns {key, id}.
std::pair<std::string, std::string> create_key(const config::Config& cfg, const api::KeysCreateArgs& a) {
  std::ostringstream out, err;
  EXPECT_EQ(api::run_keys_create(cfg, a, out, err), 0) << err.str();
  std::smatch m;
  auto details = err.str();
  EXPECT_TRUE(std::regex_search(details, m, std::regex("key_[0-9A-Za-z]{12}")));
  auto key = out.str();
  if (!key.empty()) key.pop_back();
  return {key, m.str()};
}

nlohmann::json show_json(const config::Config& cfg, const std::string& id) {
  std::ostringstream out, err;
  EXPECT_EQ(api::run_keys_show(cfg, id, true, out, err), 0) << err.str();
  return nlohmann::json::parse(out.str());
}

}  // namespace

TEST(KeysCommand, CreateWithExpiry) {
  config::Config cfg;
  cfg.data_dir = testutil::temp_dir("osprey-cli");
  api::KeysCreateArgs a;
  a.scopes = "chat";
  a.expires_in = "30d";
  auto now = access::unix_now();
  auto [key, id] = create_key(cfg, a);
  EXPECT_TRUE(access::is_well_formed_key(key));
  auto at = show_json(cfg, id)["expires_at"].get<std::int64_t>();
  EXPECT_GE(at, now + 30 * 86400);
  EXPECT_LE(at, access::unix_now() + 30 * 86400);

  a.expires_in.clear();
  a.expires_at = "2099-01-31T12:30:15Z";
  auto [key2, id2] = create_key(cfg, a);
  EXPECT_EQ(show_json(cfg, id2)["expires_at"], 4073545815);
  std::ostringstream sout, serr;
  ASSERT_EQ(api::run_keys_show(cfg, id2, false, sout, serr), 0);
  EXPECT_NE(sout.str().find("expires:    2099-01-31T12:30:15Z"), std::string::npos) << sout.str();
  std::ostringstream lout, lerr;
  ASSERT_EQ(api::run_keys_list(cfg, false, lout, lerr), 0);
  EXPECT_NE(lout.str().find("EXPIRES"), std::string::npos);
  EXPECT_NE(lout.str().find("2099-01-31T12:30:15Z"), std::string::npos) << lout.str();

  // Bad values, both options, or the past: exit 2 and no key on stdout.
  for (auto [in, at_] : std::vector<std::pair<std::string, std::string>>{
           {"30", ""}, {"0", ""}, {"0s", ""}, {"-1d", ""}, {"1w", ""}, {"", "tomorrow"}, {"", "2020-01-01T00:00:00Z"},
           {"", "2099-01-31T12:30:15"}, {"1d", "2099-01-31"}}) {
    SCOPED_TRACE(in + "|" + at_);
    api::KeysCreateArgs b;
    b.scopes = "chat";
    b.expires_in = in;
    b.expires_at = at_;
    std::ostringstream out, err;
    EXPECT_EQ(api::run_keys_create(cfg, b, out, err), 2);
    EXPECT_TRUE(out.str().empty());
    EXPECT_NE(err.str().find("error: "), std::string::npos);
  }
}

TEST(KeysCommand, Rotate) {
  config::Config cfg;
  cfg.data_dir = testutil::temp_dir("osprey-cli");
  api::KeysCreateArgs a;
  a.scopes = "detect,chat";
  a.name = "ci-bot";
  a.rpm = 60;
  auto [old_key, old_id] = create_key(cfg, a);

  auto now = access::unix_now();
  std::ostringstream out, err;
  ASSERT_EQ(api::run_keys_rotate(cfg, old_id, "24h", out, err), 0) << err.str();
  auto key = out.str();
  ASSERT_FALSE(key.empty());
  key.pop_back();
  EXPECT_TRUE(access::is_well_formed_key(key)) << key;  // stdout holds the new key and nothing else
  EXPECT_NE(key, old_key);
  EXPECT_EQ(err.str().find(key), std::string::npos);
  auto old = show_json(cfg, old_id);
  auto until = old["expires_at"].get<std::int64_t>();
  EXPECT_GE(until, now + 86400);
  EXPECT_LE(until, access::unix_now() + 86400);
  EXPECT_NE(err.str().find("stays valid until " + access::utc_time(until)), std::string::npos) << err.str();
  std::smatch m;
  auto details = err.str();
  ASSERT_TRUE(std::regex_search(details, m, std::regex("-> (key_[0-9A-Za-z]{12})")));
  std::string new_id = m[1];
  auto fresh = show_json(cfg, new_id);
  EXPECT_EQ(fresh["rotated_from"], old_id);
  EXPECT_EQ(fresh["name"], "ci-bot");
  EXPECT_EQ(fresh["limits"]["rpm"], 60);
  std::ostringstream sout, serr;
  api::run_keys_show(cfg, new_id, false, sout, serr);
  EXPECT_NE(sout.str().find("replaces:   " + old_id), std::string::npos) << sout.str();

  // Again: already rotated; unknown; bad grace.
  std::ostringstream o2, e2;
  EXPECT_EQ(api::run_keys_rotate(cfg, old_id, "24h", o2, e2), 1);
  EXPECT_NE(e2.str().find("already rotated"), std::string::npos) << e2.str();
  EXPECT_EQ(api::run_keys_rotate(cfg, "key_unknown", "24h", o2, e2), 1);
  EXPECT_EQ(api::run_keys_rotate(cfg, new_id, "soon", o2, e2), 2);
  EXPECT_EQ(api::run_keys_rotate(cfg, new_id, "24", o2, e2), 2);
  EXPECT_TRUE(o2.str().empty());

  // Grace 0 revokes the old key; a revoked key cannot be rotated.
  std::ostringstream o3, e3;
  ASSERT_EQ(api::run_keys_rotate(cfg, new_id, "0", o3, e3), 0) << e3.str();
  EXPECT_NE(e3.str().find("is revoked"), std::string::npos) << e3.str();
  EXPECT_FALSE(show_json(cfg, new_id)["revoked_at"].is_null());
  std::ostringstream o4, e4;
  EXPECT_EQ(api::run_keys_rotate(cfg, new_id, "1h", o4, e4), 1);
  EXPECT_TRUE(o4.str().empty());
}

TEST(KeysCommand, Cli11RotateAndExpiryWiring) {
  auto dir = testutil::temp_dir("osprey-cli");
  config::Config cfg;
  cfg.data_dir = dir;
  api::KeysCreateArgs a;
  a.scopes = "chat";
  auto [key, id] = create_key(cfg, a);
  CLI::App app("osprey");
  int code = -1;
  api::add_keys_command(app, [] { return config::Config{}; }, &code);
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  app.parse("keys rotate " + id + " --grace 90m --data-dir " + dir, false);
  auto printed = testing::internal::GetCapturedStdout();
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(access::is_well_formed_key(printed.substr(0, printed.size() - 1))) << printed;
  auto until = show_json(cfg, id)["expires_at"].get<std::int64_t>();
  EXPECT_NEAR(static_cast<double>(until), static_cast<double>(access::unix_now() + 90 * 60), 5);

  CLI::App app2("osprey");
  api::add_keys_command(app2, [] { return config::Config{}; }, &code);
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  app2.parse("keys create --scopes chat --expires-in 12h --data-dir " + dir, false);
  testing::internal::GetCapturedStdout();
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 0);

  CLI::App app3("osprey");
  api::add_keys_command(app3, [] { return config::Config{}; }, &code);
  EXPECT_THROW(app3.parse("keys create --scopes chat --expires-in 1h --expires-at 2099-01-01 --data-dir " + dir, false),
               CLI::ParseError);
}
