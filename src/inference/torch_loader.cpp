// The server's side of the libtorch plugin: finds libosprey_torch.so and
// dlopen()s it the first time a TorchScript model is loaded (see
// torch_engine.cpp for why libtorch is a plugin). Where it looks, in order:
//   $OSPREY_TORCH_PLUGIN                  (a file path)
//   <dir of the executable>/libosprey_torch.so
//   <dir of the executable>/../lib/osprey/libosprey_torch.so
//   the build tree it was built in        (make run, tests)
#include <dlfcn.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "inference/torch_engine.hpp"
#include "inference/torch_plugin.hpp"

namespace osprey::inference {

namespace {

struct Plugin {
  void* handle = nullptr;
  std::string error;  // why it could not be loaded
  decltype(&osprey_torch_make_engine) make = nullptr;
  decltype(&osprey_torch_set_threads) set_threads = nullptr;
};

std::atomic<int> g_threads{0};  // last torch_set_threads(n), applied on load
std::atomic<bool> g_loaded{false};

std::vector<std::string> candidates() {
  std::vector<std::string> out;
  if (const char* p = std::getenv("OSPREY_TORCH_PLUGIN"); p && *p) out.emplace_back(p);
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back((exe.parent_path() / "libosprey_torch.so").string());
    out.push_back((exe.parent_path().parent_path() / "lib" / "osprey" / "libosprey_torch.so").string());
  }
#ifdef OSPREY_TORCH_PLUGIN_BUILD_PATH
  out.emplace_back(OSPREY_TORCH_PLUGIN_BUILD_PATH);
#endif
  return out;
}

Plugin load() {
  Plugin p;
  // libtorch brings GNU OpenMP, whose idle threads spin between forwards
  // (one busy core made libtorch 60x slower here). libgomp reads this when
  // it is loaded, which is now: main() set it before any thread started
  // (prefer_passive_openmp); this covers programs that did not.
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  std::string tried;
  for (const auto& path : candidates()) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      tried += (tried.empty() ? "" : ", ") + path;
      continue;
    }
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      p.error = std::string("cannot load the libtorch plugin ") + path + ": " + dlerror();
      return p;
    }
    auto abi = reinterpret_cast<decltype(&osprey_torch_abi)>(dlsym(h, "osprey_torch_abi"));
    p.make = reinterpret_cast<decltype(p.make)>(dlsym(h, "osprey_torch_make_engine"));
    p.set_threads = reinterpret_cast<decltype(p.set_threads)>(dlsym(h, "osprey_torch_set_threads"));
    if (!abi || !p.make || !p.set_threads || abi() != kTorchPluginAbi) {
      p.error = "the libtorch plugin " + path + " is from another build (ABI mismatch); rebuild it";
      p.make = nullptr;
      p.set_threads = nullptr;
      return p;  // left loaded: unloading a half-initialised libtorch is worse
    }
    p.handle = h;
    spdlog::info("inference: libtorch plugin loaded from {}", path);
    return p;
  }
  p.error = "the libtorch plugin libosprey_torch.so was not found (looked at: " + tried +
            "); set OSPREY_TORCH_PLUGIN, or build with OSPREY_WITH_TORCH=ON";
  return p;
}

const Plugin& plugin() {
  static std::once_flag once;
  static Plugin p;
  std::call_once(once, [] {
    p = load();
    if (p.set_threads && g_threads.load() > 0) p.set_threads(g_threads.load());
    g_loaded = true;
  });
  return p;
}

}  // namespace

bool torch_available() { return plugin().make != nullptr; }

std::unique_ptr<Engine> make_torch_engine(const std::string& path, std::string* config_txt) {
  const auto& p = plugin();
  if (!p.make) throw std::runtime_error(p.error);
  return std::unique_ptr<Engine>(p.make(path.c_str(), config_txt));
}

void torch_set_threads(int n) {
  // Recorded, not applied: loading the plugin just to set its threads would
  // cost every server the memory the plugin exists to save.
  g_threads = n;
  if (g_loaded) {
    const auto& p = plugin();
    if (p.set_threads) p.set_threads(n);
  }
}

}  // namespace osprey::inference
