// `osprey keys ...` as functions: the key alone on stdout, details on
// stderr, list/show never print the key, revoke of an unknown id fails.

#include <CLI/CLI.hpp>

#include <regex>
#include <sstream>

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
