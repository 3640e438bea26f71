#include "inference/threads.hpp"

#include <atomic>
#include <cstdlib>
#include <dlfcn.h>
#include <unistd.h>

#include <opencv2/core.hpp>
#include <spdlog/spdlog.h>

#include "inference/torch_engine.hpp"

namespace osprey::inference {

ThreadPlan plan_threads(int workers, int engine_threads) {
  int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  ThreadPlan p;
  p.cores = cores;
  p.workers = workers > 0 ? workers : cores;
  p.engine_threads = engine_threads > 0 ? engine_threads : std::max(1, cores / p.workers);
  p.elastic = engine_threads <= 0;
  return p;
}

namespace {
std::atomic<int> g_running{0};
}

RunningForward::RunningForward() : running_(g_running.fetch_add(1, std::memory_order_relaxed) + 1) {}

RunningForward::~RunningForward() { g_running.fetch_sub(1, std::memory_order_relaxed); }

int RunningForward::share(int cores) const { return std::max(1, cores / std::max(1, running_)); }

void configure_engine_threads(int n) {
  n = std::max(1, n);
  cv::setNumThreads(n);
  torch_set_threads(n);
}

void reexec_with_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("OSPREY_NO_REEXEC")) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  setenv("KMP_BLOCKTIME", "0", 0);  // the same for Intel's OpenMP, if present
  // libtorch (and its libgomp) is a plugin loaded later (torch_loader.cpp):
  // then the environment set here is all it takes. Only a process that has
  // GNU OpenMP loaded already, which read its environment at startup, must
  // start again to see it.
  void* gomp = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (!gomp) return;
  dlclose(gomp);
  execv("/proc/self/exe", argv);
  spdlog::warn("inference: re-exec with OMP_WAIT_POLICY=PASSIVE failed; OpenMP threads may spin");
}

}  // namespace osprey::inference
