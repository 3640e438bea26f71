#pragma once
// Detection over HTTP: every protocol face Osprey speaks for YOLO models.
//
//   api::add_detection_routes(router, registry, config);
//
// registers (see each file for details):
//   POST   /v1/detect                      native API (detection_routes.cpp)
//   POST   /v1/vision/detection            DeepStack / CodeProject.AI (deepstack_routes.cpp)
//   GET    /v2/models/{model}              KServe v2 metadata        (kserve_routes.cpp)
//   GET    /v2/models/{model}/ready        KServe v2 readiness
//   POST   /v2/models/{model}/infer        KServe v2 raw tensors (+ Triton binary extension)
//   GET    /v1/detection/models[/{model}]  model resources           (model_routes.cpp)
//   PUT    /v1/detection/models/{model}    load / reload (admin)
//   DELETE /v1/detection/models/{model}    unload (admin)
//
// POST /v1/detect takes the image as a multipart field `image`, as a raw
// image/* (or application/octet-stream) body, or as JSON {"image": base64}.
// Options (query string or body fields; the body wins): model, confidence,
// iou, max_detections, classes (names or ids; comma lists or repeated),
// format=json|jpeg|png (or Accept: image/jpeg|image/png) for an annotated
// picture instead of JSON. Boxes are in the pixels of the original upright
// image whatever the decoder did (DCT scaling, EXIF rotation).
//
// The helpers below are shared by the protocol faces and the CLI.

#include <utility>  // before Asio (g++ 12)

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "http/router.hpp"
#include "inference/detection.hpp"
#include "inference/model_info.hpp"
#include "inference/model_registry.hpp"
#include "vision/decode.hpp"

namespace osprey::api {

void add_detection_routes(http::Router& router, inference::ModelRegistry& registry, const config::Config& config);

namespace detection {

// Runs `f` on `pool` and resumes the caller on its own executor with the
// result (or the exception `f` threw). CPU-heavy work goes through this so
// that it never runs on an I/O thread.
//
// CALLERS: pass a named lambda (`auto work = [...]{...};
// co_await run_on(pool, std::move(work));`), never a lambda written inside
// the co_await expression: g++ 12 destroys a closure temporary in a co_await
// full-expression twice, double-freeing whatever it captured by value. The
// task below is a named local for the same reason.
template <class F>
auto run_on(boost::asio::thread_pool& pool, F f) -> http::Awaitable<std::invoke_result_t<F&>> {
  using R = std::invoke_result_t<F&>;
  auto task = [f = std::move(f)]() mutable -> http::Awaitable<R> { co_return f(); };
  co_return co_await boost::asio::co_spawn(pool.get_executor(), std::move(task), boost::asio::use_awaitable);
}

inline double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Request options as text, from the query string and body fields alike:
// name -> values in order. Later sources replace earlier ones per name.
using Fields = std::map<std::string, std::vector<std::string>, std::less<>>;

std::optional<std::string> first(const Fields& f, std::string_view name);

// Parses the detection options (confidence, iou, max_detections, classes)
// against `model`; ApiError 400 naming the param on a bad value. `classes`
// accepts names (case-insensitive) and ids, comma-separated or repeated.
inference::DetectOptions parse_options(const Fields& f, const inference::ModelInfo& model);

// The model a request names, else the registry's default; checks that it
// exists (404), and that the caller's key may use it (403). Fills
// ctx.usage.model.
inference::ModelInfo resolve_model(inference::ModelRegistry& reg, const http::Context& ctx,
                                   std::optional<std::string> requested);

// Longest side worth decoding for this model (its input size), for DCT scaling.
int target_side(const inference::ModelInfo& model);

// Maps boxes from decoded pixels to original-image pixels and clips them.
void to_original(std::vector<inference::Detection>& dets, const vision::DecodedImage& img);

// An image sent in JSON: "data:image/png;base64,AAAA" or plain base64;
// ApiError 400 when it is neither.
std::string decode_base64_image(std::string_view text);

// The /v1/detect JSON body (also printed by `osprey detect`).
nlohmann::json detect_json(const std::string& model, const vision::DecodedImage& img,
                           const inference::DetectResult& res, double decode_ms);

}  // namespace detection
}  // namespace osprey::api
