#pragma once
// ModelInfo: what the registry knows about one model folder. A snapshot:
// ModelRegistry::list()/info() return copies, so it is safe to keep.
//
// state: "loading"     being (re)loaded; not servable yet
//        "available"   servable
//        "unavailable" failed to load; `reason` says why (never servable)
//        "unloading"   draining its in-flight requests before release

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace osprey::inference {

struct ModelInfo {
  std::string name, state /*"loading","available","unavailable","unloading"*/,
      format /*"darknet","onnx","torchscript"*/, engine /*"opencv","libtorch"*/,
      family /*"darknet","yolov5","yolov8","yolox"*/, reason, path;
  int input_width = 0, input_height = 0;
  std::vector<std::string> classes;
  double load_ms = 0;
  std::string loaded_at; /*ISO 8601*/
  float default_confidence = 0.25f, default_iou = 0.45f;
  std::string input_name, output_name;
  std::vector<int64_t> input_shape, output_shape;
  std::string precision = "fp32";  // what the forward pass computes in: "fp32" | "bf16"

  // How its forwards use the cores (inference/threads.hpp). `instances`
  // forwards can run at once (one per inference worker). A forward that
  // starts alone gets `threads_alone` intra-op threads; beside others, its
  // share of the cores, down to `threads_min`. Engines with a process-wide
  // thread setting (OpenCV) have threads_alone == threads_min. forward_ms:
  // one forward's time at load, by thread count, which chose threads_alone.
  struct ThreadPlan {
    int instances = 0, threads_alone = 1, threads_min = 1;
    std::vector<std::pair<int, double>> forward_ms;  // {threads, ms}
    std::string describe() const;  // "2 instances x 1-2 threads (forward 105 ms at 1, 61 ms at 2)"
  } thread_plan;

  // Dynamic batching (inference/batcher.hpp). `mode` is what was asked
  // ("auto", "on", "off"); `enabled` what runs. At load a batch of
  // max_batch copies is timed against one-image forwards: ms_per_image
  // {batch, ms} holds a batch's time per image and, under key 1, one
  // image's time when as many forwards as fit on the cores run side by
  // side, timed together. `reason` says why.
  struct BatchPlan {
    std::string mode = "off";
    int max_batch = 1, max_delay_us = 0;
    bool enabled = false;
    std::string reason;
    std::vector<std::pair<int, double>> ms_per_image;  // {batch, ms per image}
    std::string describe() const;  // "on, up to 2 within 2000 us (measured: ...)"
  } batching;

  // Load-time rewrites of the file for its engine, in words (empty: none).
  std::vector<std::string> rewrites;

  // {"name","state","format","engine","family","reason","path","input_width",
  //  "input_height","classes","load_ms","loaded_at","default_confidence",
  //  "default_iou","input_name","output_name","input_shape","output_shape","precision",
  //  "thread_plan":{"instances","threads_alone","threads_min","forward_ms":{"1":ms,...}},
  //  "batching":{"mode","enabled","max_batch","max_delay_us","reason","ms_per_image":{"1":ms,"2":ms}},"rewrites"}
  nlohmann::json to_json() const;
};

}  // namespace osprey::inference
