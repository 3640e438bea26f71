// The server's side of the libtorch plugin: finds libosprey_torch.so (see
// common/plugin.hpp for where; $OSPREY_TORCH_PLUGIN overrides) and dlopen()s
// it the first time a TorchScript model is loaded (see torch_engine.cpp for
// why libtorch is a plugin).

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "common/plugin.hpp"
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

Plugin load() {
  Plugin p;
  // libtorch brings GNU OpenMP, whose idle threads spin between forwards
  // (one busy core made libtorch 60x slower here). libgomp reads this when
  // it is loaded, which is now: main() set it before any thread started
  // (reexec_with_passive_openmp); this covers programs that did not.
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  // oneDNN 2.6 (libtorch 1.13's) uses AMX only when allowed to: let it, on
  // CPUs that have it (a cap, not a demand: elsewhere it picks what there
  // is). Read at oneDNN's first use, which comes after this. An operator's
  // own setting wins.
  setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX", 0);
  auto m = plugin::open("libosprey_torch.so", "OSPREY_TORCH_PLUGIN",
#ifdef OSPREY_TORCH_PLUGIN_BUILD_PATH
                        OSPREY_TORCH_PLUGIN_BUILD_PATH
#else
                        nullptr
#endif
  );
  if (!m.handle) {
    p.error = "the libtorch plugin is unavailable: " + m.error + " (or build with OSPREY_WITH_TORCH=ON)";
    return p;
  }
  auto abi = plugin::symbol<decltype(&osprey_torch_abi)>(m, "osprey_torch_abi");
  p.make = plugin::symbol<decltype(p.make)>(m, "osprey_torch_make_engine");
  p.set_threads = plugin::symbol<decltype(p.set_threads)>(m, "osprey_torch_set_threads");
  if (!abi || !p.make || !p.set_threads || abi() != kTorchPluginAbi) {
    p.error = "the libtorch plugin " + m.path + " is from another build (ABI mismatch); rebuild it";
    p.make = nullptr;
    p.set_threads = nullptr;
    return p;  // left loaded: unloading a half-initialised libtorch is worse
  }
  p.handle = m.handle;
  spdlog::info("inference: libtorch plugin loaded from {}", m.path);
  return p;
}

const Plugin& loaded_plugin() {
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

bool torch_available() { return loaded_plugin().make != nullptr; }

std::unique_ptr<Engine> make_torch_engine(const std::string& path, std::string* config_txt, bool bf16) {
  const auto& p = loaded_plugin();
  if (!p.make) throw std::runtime_error(p.error);
  return std::unique_ptr<Engine>(p.make(path.c_str(), config_txt, bf16 ? 1 : 0));
}

void torch_set_threads(int n) {
  // Recorded, not applied: loading the plugin just to set its threads would
  // cost every server the memory the plugin exists to save.
  g_threads = n;
  if (g_loaded) {
    const auto& p = loaded_plugin();
    if (p.set_threads) p.set_threads(n);
  }
}

}  // namespace osprey::inference
