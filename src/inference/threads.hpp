#pragma once
// Thread settings of the inference engines, so that workers x intra-op
// threads never exceed the cores (2 in CI).
//
//   auto t = plan_threads(cfg.workers, cfg.engine_threads);  // {workers, per-forward}
//   configure_engine_threads(t.engine_threads);              // OpenCV + libtorch, process-wide
//
// libtorch uses GNU OpenMP, whose idle threads spin after each parallel
// region unless OMP_WAIT_POLICY=PASSIVE. libgomp reads that variable when it
// is loaded, i.e. before main(), so setting it later has no effect: call
// reexec_with_passive_openmp(argv) first thing in main() to set it and
// re-exec the binary once (a no-op when it is already set or when the
// caller opts out with OSPREY_NO_REEXEC=1).

#include <thread>

namespace osprey::inference {

struct ThreadPlan {
  int cores = 1;           // what the plan divides
  int workers = 1;         // inference worker threads (= engine instances per model)
  int engine_threads = 1;  // intra-op threads per forward (engines with one process-wide setting)
  // engine_threads was left to the plan: engines that set threads per call
  // (libtorch) then size each forward by the cores free when it starts,
  // from `cores` for a forward alone down to 1 (see RunningForward).
  bool elastic = true;
};

// workers 0 = number of cores; engine_threads 0 = max(1, cores / workers),
// and elastic where the engine allows it.
ThreadPlan plan_threads(int workers, int engine_threads);

// Forwards running now, over every model: a forward that starts alone may
// use every core (lowest latency at light load), forwards that run together
// share them (no oversubscription under load, where throughput counts).
//
//   RunningForward f;                          // counts this forward until destroyed
//   engine.set_threads(f.share(plan.cores));   // cores / running, at least 1
class RunningForward {
 public:
  RunningForward();
  ~RunningForward();
  RunningForward(const RunningForward&) = delete;
  RunningForward& operator=(const RunningForward&) = delete;
  int share(int cores) const;

 private:
  int running_;  // this one included, when it started
};

// cv::setNumThreads(n); at::set_num_threads(n), at::set_num_interop_threads(1) once.
void configure_engine_threads(int n);

// See above. Returns only if no re-exec happened (or it failed).
void reexec_with_passive_openmp(char** argv);

}  // namespace osprey::inference
