#pragma once
// Watcher: polls the config file, the .env file and the model repository
// for changes (every 500 ms) and calls back with what changed. Polling
// rather than inotify keeps it correct on bind mounts and network file
// systems, and 500 ms is well below how fast a person edits a file.
// A change is reported once the files have been quiet for one poll, so a
// model copied in over several seconds is loaded once, complete.

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
  Watcher(std::string config_file, std::string env_file, std::string models_dir, std::function<void(Change)> on_change);
  ~Watcher();
  void stop();

 private:
  using Snapshot = std::map<std::string, std::pair<long long, long long>>;  // path -> (mtime ns, size)
  Snapshot snapshot_files() const;
  Snapshot snapshot_models() const;
  void loop();

  std::string config_file_, env_file_, models_dir_;
  std::function<void(Change)> on_change_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace osprey::cli
