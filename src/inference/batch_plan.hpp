#pragma once
// plan_batching: whether a TorchScript model runs its requests in batches
// (inference/batcher.hpp), decided at load by timing both ways.
//
//   info.batching = plan_batching(pool, blob, spec, info.thread_plan, cores);
//   if (info.batching.enabled) { ... make a Batcher of info.batching.max_batch ... }
//
// Decides dynamic batching for a model whose instances are loaded and whose
// thread plan is settled. What a batch competes with is single forwards
// side by side on several instances, so both are timed as they would run:
// as many one-image forwards at once as fit on the cores (each at
// threads_min), and one batch of max_batch at the threads a forward alone
// gets. Each is run once untimed first (torch's profiling executor
// specialises the graph for a new shape) and the faster of two runs counts:
// a VM's noise only ever adds time.

#include <memory>
#include <vector>

#include <opencv2/core.hpp>

#include "inference/engine.hpp"
#include "inference/model_info.hpp"
#include "inference/model_spec.hpp"

namespace osprey::inference {

// `pool` holds the model's warmed engine instances (at least one), `blob`
// one preprocessed [1,3,H,W] input. Runs forwards on the calling thread and
// on threads of its own; never throws (a graph that refuses a batch keeps
// batch 1, with the reason).
ModelInfo::BatchPlan plan_batching(const std::vector<std::unique_ptr<Engine>>& pool, const cv::Mat& blob,
                                   const ModelSpec& spec, const ModelInfo::ThreadPlan& tp, int cores);

}  // namespace osprey::inference
