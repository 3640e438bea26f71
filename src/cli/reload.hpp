#pragma once
// Watcher: polls the config file, the .env file and the model repository
// for changes (every 500 ms) and calls back with what changed. Polling
// rather than inotify keeps it correct on bind mounts and network file
// systems, and 500 ms is well below how fast a person edits a file.
// A change is reported once the files have been quiet for one poll, so a
// model copied in over several seconds is loaded once, complete.
//
// The constructor records what the files look like now, and start() begins
// polling against that: construct it before reading what it watches, so
// that an edit made meanwhile (while models load, say) is not taken as the
// starting state and lost.

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>

namespace osprey::cli {

class Watcher {
 public:
  struct Change {
    bool config = false;
    bool models = false;
  };
  // One file as last seen (see reload.cpp for why each part is there).
  struct State {
    long long mtime_ns = 0, size = 0;
    unsigned long long inode = 0;
    std::size_t content = 0;  // hash; config and .env files only
    bool operator==(const State&) const = default;
  };
  using Snapshot = std::map<std::string, State>;

  Watcher(std::string config_file, std::string env_file, std::string models_dir);
  ~Watcher();
  // Polls on a thread of its own until stop(); on_change runs there.
  void start(std::function<void(Change)> on_change);
  void stop();

 private:
  Snapshot snapshot_files() const;
  Snapshot snapshot_models() const;
  void loop();

  std::string config_file_, env_file_, models_dir_;
  Snapshot files_, models_;  // as last seen
  std::function<void(Change)> on_change_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace osprey::cli
