// The --reload watcher: what counts as a change, and that an edit made
// between taking the starting state and starting to poll (startup, while
// models load) is reported rather than taken as the starting state.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "cli/reload.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using osprey::cli::Watcher;

namespace {

struct Seen {
  std::mutex mu;
  int config = 0, models = 0;
  void record(Watcher::Change c) {
    std::lock_guard lock(mu);
    config += c.config;
    models += c.models;
  }
  std::pair<int, int> get() {
    std::lock_guard lock(mu);
    return {config, models};
  }
};

// The watcher reports a change once it has been quiet for a poll: two polls
// of 500 ms, so a change shows within about 1.5 s.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path + ".tmp") << text;
  std::filesystem::rename(path + ".tmp", path);
}

}  // namespace

TEST(Watcher, AnEditBeforeStartIsReportedNotTakenAsTheStartingState) {
  auto dir = osprey::test::make_temp_dir("watch");
  auto cfg = dir + "/osprey.toml";
  write_file(cfg, "[server]\ncors_origins = [\"https://a.example\"]\n");
  Watcher w(cfg, "", "");
  // Same size, written at once: only the modification time tells.
  write_file(cfg, "[server]\ncors_origins = [\"https://b.example\"]\n");
  Seen seen;
  w.start([&](Watcher::Change c) { seen.record(c); });
  EXPECT_TRUE(wait_until([&] { return seen.get().first == 1; }));
  std::this_thread::sleep_for(1200ms);
  EXPECT_EQ(seen.get(), std::make_pair(1, 0)) << "one edit, one report";
  w.stop();
}

TEST(Watcher, NothingChangedReportsNothing) {
  auto dir = osprey::test::make_temp_dir("watch");
  auto cfg = dir + "/osprey.toml";
  write_file(cfg, "[server]\n");
  auto models = osprey::test::make_temp_dir("watch-models");
  Watcher w(cfg, dir + "/.env-missing", models);
  Seen seen;
  w.start([&](Watcher::Change c) { seen.record(c); });
  std::this_thread::sleep_for(1600ms);
  EXPECT_EQ(seen.get(), std::make_pair(0, 0));
  w.stop();
}

TEST(Watcher, ModelFilesAndTheEnvFileAreWatchedToo) {
  auto dir = osprey::test::make_temp_dir("watch");
  auto models = osprey::test::make_temp_dir("watch-models");
  auto env = dir + "/.env";
  Watcher w("", env, models);
  Seen seen;
  w.start([&](Watcher::Change c) { seen.record(c); });
  std::filesystem::create_directories(models + "/yolo");
  std::ofstream(models + "/yolo/model.onnx") << "weights";
  EXPECT_TRUE(wait_until([&] { return seen.get().second == 1; }));
  // A .env file appearing counts as a config change (it feeds the config).
  write_file(env, "OSPREY_LOG_LEVEL=debug\n");
  EXPECT_TRUE(wait_until([&] { return seen.get().first == 1; }));
  w.stop();
}
