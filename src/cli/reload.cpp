#include "cli/reload.hpp"

#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace osprey::cli {

namespace fs = std::filesystem;

namespace {

constexpr off_t kMaxHashedBytes = 1 << 20;

// What a file looks like: modification time, size and inode (an editor or
// `mv` that replaces the file gives it a new inode). Timestamps come from
// the kernel's coarse clock, so two writes a few milliseconds apart can
// share one; for the small config files the content itself is compared too.
void add(Watcher::Snapshot& snap, const fs::path& p, bool hash_content) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return;
  Watcher::State s;
  s.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec;
  s.size = S_ISREG(st.st_mode) ? static_cast<long long>(st.st_size) : 0;
  s.inode = static_cast<unsigned long long>(st.st_ino);
  if (hash_content && S_ISREG(st.st_mode) && st.st_size <= kMaxHashedBytes) {
    std::ifstream in(p, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    s.content = std::hash<std::string>{}(text);
  }
  snap[p.string()] = s;
}

}  // namespace

Watcher::Watcher(std::string config_file, std::string env_file, std::string models_dir)
    : config_file_(std::move(config_file)), env_file_(std::move(env_file)), models_dir_(std::move(models_dir)) {
  files_ = snapshot_files();
  models_ = snapshot_models();
}

void Watcher::start(std::function<void(Change)> on_change) {
  on_change_ = std::move(on_change);
  thread_ = std::thread([this] { loop(); });
}

Watcher::~Watcher() { stop(); }

void Watcher::stop() {
  stop_ = true;
  if (thread_.joinable() && std::this_thread::get_id() != thread_.get_id()) thread_.join();
}

Watcher::Snapshot Watcher::snapshot_files() const {
  Snapshot s;
  if (!config_file_.empty()) add(s, config_file_, true);
  if (!env_file_.empty()) add(s, env_file_, true);
  return s;
}

Watcher::Snapshot Watcher::snapshot_models() const {
  Snapshot s;
  std::error_code ec;
  if (models_dir_.empty() || !fs::is_directory(models_dir_, ec)) return s;
  add(s, models_dir_, false);
  // Two levels: model folders and the files in them (symlinks followed).
  for (const auto& dir : fs::directory_iterator(models_dir_, fs::directory_options::skip_permission_denied, ec)) {
    add(s, dir.path(), false);
    if (!dir.is_directory(ec)) continue;
    for (const auto& f : fs::directory_iterator(dir.path(), fs::directory_options::skip_permission_denied, ec))
      add(s, f.path(), false);
  }
  return s;
}

void Watcher::loop() {
  auto& files = files_;
  auto& models = models_;
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
