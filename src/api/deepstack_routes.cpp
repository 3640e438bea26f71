#include "api/deepstack_routes.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "api/detection_routes.hpp"
#include "common/error.hpp"
#include "common/strings.hpp"
#include "http/multipart.hpp"
#include "http/response.hpp"

namespace osprey::api {

using http::Awaitable;
using http::Context;
using http::Response;

namespace {

struct Prepared {
  inference::ModelInfo model;
  inference::DetectOptions options;
  vision::DecodedImage image;
};

Prepared prepare(const Context& ctx, inference::ModelRegistry& reg, const config::Config& cfg) {
  const auto ct = ctx.request[http::Field::content_type];
  auto form = http::parse_multipart(ct, ctx.request.body());
  const http::MultipartPart* image = form.find("image");
  if (!image) throw bad_request("the form has no `image` file", "image", "missing_image");

  detection::Fields fields;
  if (auto m = ctx.query.get("model")) fields["model"].push_back(*m);
  if (auto m = form.value("model")) fields["model"] = {*m};
  // DeepStack's threshold is min_confidence (default 0.4), not the model's.
  fields["confidence"] = {form.value("min_confidence").value_or(ctx.query.get("min_confidence").value_or("0.4"))};

  Prepared p;
  p.model = detection::resolve_model(reg, ctx, detection::first(fields, "model"));
  try {
    p.options = detection::parse_options(fields, p.model);
  } catch (const ApiError& e) {
    throw bad_request("min_confidence must be a number in [0, 1]", "min_confidence");
  }
  vision::DecodeOptions dopt;
  dopt.max_pixels = cfg.inference.max_image_pixels;
  dopt.target_max_side = detection::target_side(p.model);
  p.image = vision::decode_image(image->body, dopt);
  return p;
}

Response failure(const Context& ctx, const ApiError& e) {
  auto res = http::json_response(ctx, static_cast<unsigned>(e.status()),
                                 {{"success", false}, {"error", e.what()}, {"code", e.status()}});
  for (const auto& [k, v] : e.headers) res.set(k, v);
  return res;
}

}  // namespace

void add_deepstack_routes(http::Router& router, inference::ModelRegistry& reg, const config::Config& cfg) {
  router.add({
      .method = http::Verb::post,
      .path = "/v1/vision/detection",
      .handler = [&reg, &cfg](Context& ctx) -> Awaitable<Response> {
        const auto t0 = std::chrono::steady_clock::now();
        // Errors use this protocol's own shape, so they are rendered here
        // rather than by the router.
        std::optional<ApiError> error;
        try {
          auto work = [&ctx, &reg, &cfg] { return prepare(ctx, reg, cfg); };
          Prepared p = co_await detection::run_on(reg.cpu_pool(), std::move(work));
          ctx.usage.model = p.model.name;
          inference::DetectResult res = co_await reg.detect(p.model.name, p.image.bgr, p.options);
          ctx.usage.images = 1;
          detection::to_original(res.detections, p.image);

          nlohmann::json preds = nlohmann::json::array();
          std::string found;
          std::vector<std::string> seen;
          for (const auto& d : res.detections) {
            preds.push_back({{"label", d.label},
                             {"confidence", std::round(d.confidence * 1e4) / 1e4},
                             {"x_min", std::lround(d.box.x1)},
                             {"y_min", std::lround(d.box.y1)},
                             {"x_max", std::lround(d.box.x2)},
                             {"y_max", std::lround(d.box.y2)}});
            if (std::find(seen.begin(), seen.end(), d.label) == seen.end()) {
              found += (found.empty() ? "" : ", ") + d.label;
              seen.push_back(d.label);
            }
          }
          const auto process_ms = std::lround(detection::ms_since(t0));
          const std::size_t count = res.detections.size();
          co_return http::json_response(
              ctx, 200,
              {{"success", true},
               {"message", count ? "Found " + found : "No objects found"},
               {"count", count},
               {"predictions", std::move(preds)},
               {"inferenceMs", std::lround(res.timings.inference_ms)},
               {"processMs", process_ms},
               {"analysisRoundTripMs", process_ms},
               {"moduleId", "osprey"},
               {"moduleName", "Osprey YOLO (" + p.model.name + ")"},
               {"command", "detect"},
               {"executionProvider", "CPU"},
               {"canUseGPU", false},
               {"code", 200}});
        } catch (const ApiError& e) {
          error = e;
        }
        co_return failure(ctx, *error);
      },
      .summary = "Object detection (DeepStack / CodeProject.AI compatible)",
      .tag = "DeepStack",
      .description = "Drop-in for DeepStack's and CodeProject.AI Server's /v1/vision/detection. Multipart form "
                     "with `image` and optional `min_confidence` (default 0.4) and `model`. Boxes are integer "
                     "pixels. Errors are {\"success\":false,\"error\",\"code\"}.",
      .params = {{.name = "model", .description = "Model name (default model if absent)"}},
      .request_body = {{"required", true},
                       {"content",
                        {{"multipart/form-data",
                          {{"schema",
                            {{"type", "object"},
                             {"properties",
                              {{"image", {{"type", "string"}, {"format", "binary"}}},
                               {"min_confidence", {{"type", "number"}, {"default", 0.4}}},
                               {"model", {{"type", "string"}}},
                               {"api_key", {{"type", "string"}}}}},
                             {"required", {"image"}}}}}}}}},
      .responses = {{"200", "Predictions"},
                    {"400", "Malformed form, bad option or corrupt image"},
                    {"404", "Unknown model"},
                    {"413", "Image too large"},
                    {"415", "Not a supported image"}},
      .response_schema =
          {{"type", "object"},
           {"properties",
            {{"success", {{"type", "boolean"}}},
             {"message", {{"type", "string"}}},
             {"count", {{"type", "integer"}}},
             {"predictions",
              {{"type", "array"},
               {"items",
                {{"type", "object"},
                 {"properties",
                  {{"label", {{"type", "string"}}},
                   {"confidence", {{"type", "number"}}},
                   {"x_min", {{"type", "integer"}}},
                   {"y_min", {{"type", "integer"}}},
                   {"x_max", {{"type", "integer"}}},
                   {"y_max", {{"type", "integer"}}}}}}}}},
             {"inferenceMs", {{"type", "integer"}}},
             {"processMs", {{"type", "integer"}}},
             {"code", {{"type", "integer"}}}}}},
      .scope = "detect",
      .max_body_bytes = cfg.server.max_upload_bytes,
  });
}

}  // namespace osprey::api
