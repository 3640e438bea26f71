#include "cli/reload.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

namespace osprey::cli {

namespace fs = std::filesystem;

namespace {

void add(std::map<std::string, std::pair<long long, long long>>& snap, const fs::path& p) {
  std::error_code ec;
  auto st = fs::status(p, ec);
  if (ec || !fs::exists(st)) return;
  auto t = fs::last_write_time(p, ec);
  if (ec) return;
  long long size = fs::is_regular_file(st) ? static_cast<long long>(fs::file_size(p, ec)) : 0;
  snap[p.string()] = {static_cast<long long>(t.time_since_epoch().count()), size};
}

}  // namespace

Watcher::Watcher(std::string config_file, std::string env_file, std::string models_dir,
                 std::function<void(Change)> on_change)
    : config_file_(std::move(config_file)),
      env_file_(std::move(env_file)),
      models_dir_(std::move(models_dir)),
      on_change_(std::move(on_change)) {
  thread_ = std::thread([this] { loop(); });
}

Watcher::~Watcher() { stop(); }

void Watcher::stop() {
  stop_ = true;
  if (thread_.joinable() && std::this_thread::get_id() != thread_.get_id()) thread_.join();
}

Watcher::Snapshot Watcher::snapshot_files() const {
  Snapshot s;
  if (!config_file_.empty()) add(s, config_file_);
  if (!env_file_.empty()) add(s, env_file_);
  return s;
}

Watcher::Snapshot Watcher::snapshot_models() const {
  Snapshot s;
  std::error_code ec;
  if (models_dir_.empty() || !fs::is_directory(models_dir_, ec)) return s;
  add(s, models_dir_);
  // Two levels: model folders and the files in them (symlinks followed).
  for (const auto& dir : fs::directory_iterator(models_dir_, fs::directory_options::skip_permission_denied, ec)) {
    add(s, dir.path());
    if (!dir.is_directory(ec)) continue;
    for (const auto& f : fs::directory_iterator(dir.path(), fs::directory_options::skip_permission_denied, ec))
      add(s, f.path());
  }
  return s;
}

void Watcher::loop() {
  auto files = snapshot_files();
  auto models = snapshot_models();
  bool files_pending = false, models_pending = false;
  while (!stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    if (stop_) break;
    auto f = snapshot_files();
    auto m = snapshot_models();
    Change change;
    // Report only when a change has settled (unchanged since the last poll).
    if (f != files) {
      files = std::move(f);
      files_pending = true;
    } else if (files_pending) {
      files_pending = false;
      change.config = true;
    }
    if (m != models) {
      models = std::move(m);
      models_pending = true;
    } else if (models_pending) {
      models_pending = false;
      change.models = true;
    }
    if (change.config || change.models) {
      try {
        on_change_(change);
      } catch (const std::exception& e) {
        spdlog::error("reload failed: {}", e.what());
      }
    }
  }
}

}  // namespace osprey::cli
