// --reload and SIGHUP: configuration changes apply live, broken changes are
// rejected while the old configuration keeps serving, and no request fails
// while a reload happens.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "support.hpp"

using namespace osprey::test;
using namespace std::chrono_literals;

namespace {

void write_config(const std::string& path, const std::string& text) {
  // Write then rename, as editors and config management do.
  std::ofstream(path + ".tmp") << text;
  std::rename((path + ".tmp").c_str(), path.c_str());
}

bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

std::string cors(HttpClient& c, const std::string& origin) {
  return c.get("/v2/health/ready", {{"Origin", origin}}).header("access-control-allow-origin");
}

}  // namespace

TEST(Reload, ConfigChangesApplyWithoutDroppingRequests) {
  auto dir = make_temp_dir("reload");
  auto cfg = dir + "/osprey.toml";
  write_config(cfg, "[server]\ncors_origins = [\"https://a.example\"]\n");
  auto srv = OspreyProcess::start({"--config", cfg, "--reload", "--models", make_temp_dir("m"), "--auth", "false"});
  HttpClient c("127.0.0.1", srv->port());
  EXPECT_EQ(cors(c, "https://a.example"), "https://a.example");

  // Load in the background for the whole test: every request must succeed.
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, bad{0};
  std::thread load([&] {
    HttpClient lc("127.0.0.1", srv->port());
    while (!stop) {
      try {
        (lc.get("/v2/health/ready").status == 200 ? ok : bad)++;
      } catch (...) {
        bad++;
      }
    }
  });

  write_config(cfg, "[server]\ncors_origins = [\"https://b.example\"]\n");
  EXPECT_TRUE(wait_for([&] { return cors(c, "https://b.example") == "https://b.example"; }, 10s)) << srv->log();
  EXPECT_TRUE(cors(c, "https://a.example").empty());

  // A broken change is logged and the running configuration stays.
  write_config(cfg, "[server]\ncors_origins = [\"https://c.example\"]\nport = \"oops\"\n");
  EXPECT_TRUE(wait_for([&] { return srv->log().find("rejected") != std::string::npos; }, 10s)) << srv->log();
  EXPECT_EQ(cors(c, "https://b.example"), "https://b.example");
  EXPECT_TRUE(cors(c, "https://c.example").empty());

  stop = true;
  load.join();
  EXPECT_GT(ok.load(), 10);
  EXPECT_EQ(bad.load(), 0);
}

TEST(Reload, SighupReloadsTheConfigFile) {
  auto dir = make_temp_dir("sighup");
  auto cfg = dir + "/osprey.toml";
  write_config(cfg, "[server]\ncors_origins = [\"https://a.example\"]\n");
  auto srv = OspreyProcess::start({"--config", cfg, "--models", make_temp_dir("m"), "--auth", "false"});
  HttpClient c("127.0.0.1", srv->port());
  write_config(cfg, "[server]\ncors_origins = [\"https://z.example\"]\n");
  std::this_thread::sleep_for(700ms);
  EXPECT_TRUE(cors(c, "https://z.example").empty());  // no --reload: nothing watched
  srv->signal(SIGHUP);
  EXPECT_TRUE(wait_for([&] { return cors(c, "https://z.example") == "https://z.example"; }, 5s)) << srv->log();
}
