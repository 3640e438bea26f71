#include "api/detection_routes.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "api/deepstack_routes.hpp"
#include "api/kserve_routes.hpp"
#include "api/model_routes.hpp"
#include "common/error.hpp"
#include "common/strings.hpp"
#include "http/multipart.hpp"
#include "http/response.hpp"
#include "vision/annotate.hpp"

namespace osprey::api {

using http::Awaitable;
using http::Context;
using http::Response;

namespace detection {
namespace {

std::optional<double> parse_number(std::string_view s) {
  s = str::trim(s);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

float unit_interval(const Fields& f, const char* name) {
  auto v = first(f, name);
  if (!v) return -1;  // model default
  auto d = parse_number(*v);
  if (!d || *d < 0 || *d > 1) throw bad_request(fmt::format("{} must be a number in [0, 1]", name), name);
  return static_cast<float>(*d);
}

// Divides by an exact power of ten (not multiplies by 0.0001) so the result
// is the double nearest the decimal and prints short: 0.9559, not 0.9559000000000001.
double round_to(double v, double unit) {
  const double inv = std::round(1.0 / unit);
  return std::round(v * inv) / inv;
}

}  // namespace

std::optional<std::string> first(const Fields& f, std::string_view name) {
  auto it = f.find(name);
  if (it == f.end() || it->second.empty()) return std::nullopt;
  return it->second.front();
}

inference::DetectOptions parse_options(const Fields& f, const inference::ModelInfo& model) {
  inference::DetectOptions o;
  o.confidence = unit_interval(f, "confidence");
  o.iou = unit_interval(f, "iou");
  if (auto v = first(f, "max_detections")) {
    auto d = parse_number(*v);
    if (!d || *d != std::floor(*d) || *d < 1 || *d > 10000)
      throw bad_request("max_detections must be an integer in [1, 10000]", "max_detections");
    o.max_detections = static_cast<int>(*d);
  }
  if (auto it = f.find("classes"); it != f.end()) {
    for (const auto& value : it->second) {
      for (auto token : str::split(value, ',')) {
        token = str::trim(token);
        if (token.empty()) continue;
        int id = -1;
        auto [p, ec] = std::from_chars(token.data(), token.data() + token.size(), id);
        if (ec == std::errc() && p == token.data() + token.size()) {
          if (id < 0 || id >= static_cast<int>(model.classes.size()))
            throw bad_request(fmt::format("class id {} is out of range: model '{}' has {} classes", id, model.name,
                                          model.classes.size()),
                              "classes");
        } else {
          for (std::size_t i = 0; i < model.classes.size(); ++i)
            if (str::iequals(model.classes[i], token)) {
              id = static_cast<int>(i);
              break;
            }
          if (id < 0)
            throw bad_request(fmt::format("unknown class '{}' for model '{}'", std::string(token).substr(0, 64),
                                          model.name),
                              "classes");
        }
        if (std::find(o.classes.begin(), o.classes.end(), id) == o.classes.end()) o.classes.push_back(id);
      }
    }
  }
  return o;
}

inference::ModelInfo resolve_model(inference::ModelRegistry& reg, const http::Context& ctx,
                                   std::optional<std::string> requested) {
  std::string name = requested && !requested->empty() ? *requested : reg.default_model();
  if (name.empty())
    throw ApiError(503, "no detection model is available", "server_error", "model_unavailable", "model");
  if (name.size() > 256) throw bad_request("model name is too long", "model");
  auto info = reg.info(name);
  if (!info) throw ApiError(404, fmt::format("model '{}' not found", name), "invalid_request_error",
                            "model_not_found", "model");
  if (ctx.principal && !ctx.principal->may_use_model(name))
    throw ApiError(403, fmt::format("this API key may not use model '{}'", name), "permission_error",
                   "model_not_allowed", "model");
  if (info->state != "available")
    throw ApiError(503,
                   fmt::format("model '{}' is {}{}{}", name, info->state, info->reason.empty() ? "" : ": ",
                               info->reason),
                   "server_error", "model_unavailable", "model");
  return *info;
}

int target_side(const inference::ModelInfo& model) { return std::max(model.input_width, model.input_height); }

void to_original(std::vector<inference::Detection>& dets, const vision::DecodedImage& img) {
  const float inv = static_cast<float>(1.0 / img.scale);
  const auto w = static_cast<float>(img.original_width), h = static_cast<float>(img.original_height);
  for (auto& d : dets) {
    d.box.x1 = std::clamp(d.box.x1 * inv, 0.0f, w);
    d.box.y1 = std::clamp(d.box.y1 * inv, 0.0f, h);
    d.box.x2 = std::clamp(d.box.x2 * inv, 0.0f, w);
    d.box.y2 = std::clamp(d.box.y2 * inv, 0.0f, h);
  }
}

nlohmann::json detect_json(const std::string& model, const vision::DecodedImage& img,
                           const inference::DetectResult& res, double decode_ms) {
  nlohmann::json dets = nlohmann::json::array();
  for (const auto& d : res.detections) {
    dets.push_back({{"label", d.label},
                    {"class_id", d.class_id},
                    {"confidence", round_to(d.confidence, 1e-4)},
                    {"box",
                     {{"x1", round_to(d.box.x1, 0.01)},
                      {"y1", round_to(d.box.y1, 0.01)},
                      {"x2", round_to(d.box.x2, 0.01)},
                      {"y2", round_to(d.box.y2, 0.01)}}}});
  }
  const auto& t = res.timings;
  return {{"model", model},
          {"image", {{"width", img.original_width}, {"height", img.original_height}}},
          {"detections", std::move(dets)},
          {"timings",
           {{"decode_ms", round_to(decode_ms, 0.001)},
            {"queue_ms", round_to(t.queue_ms, 0.001)},
            {"preprocess_ms", round_to(t.preprocess_ms, 0.001)},
            {"inference_ms", round_to(t.inference_ms, 0.001)},
            {"postprocess_ms", round_to(t.postprocess_ms, 0.001)},
            {"batch", t.batch}}}};
}

// "data:image/png;base64,AAAA" or plain base64.
std::string decode_base64_image(std::string_view text) {
  if (text.starts_with("data:")) {
    auto comma = text.find(',');
    if (comma == std::string_view::npos || text.substr(0, comma).find(";base64") == std::string_view::npos)
      throw bad_request("image data URL must be base64-encoded", "image", "invalid_image");
    text.remove_prefix(comma + 1);
  }
  auto bytes = str::base64_decode(text);
  if (!bytes) throw bad_request("image is not valid base64", "image", "invalid_base64");
  return std::move(*bytes);
}

}  // namespace detection

namespace {

using detection::Fields;

// Everything POST /v1/detect needs before inference, built on the CPU pool:
// body parsing (multipart, JSON + base64) and image decoding are both
// CPU-heavy on large uploads.
struct Prepared {
  inference::ModelInfo model;
  inference::DetectOptions options;
  vision::DecodedImage image;
  double decode_ms = 0;
  std::string format = "json";  // json, jpeg or png
};

bool is_json_type(std::string_view ct) {
  auto base = str::lower(str::trim(ct.substr(0, ct.find(';'))));
  return base == "application/json" || (base.size() > 5 && base.ends_with("+json"));
}

void add_json_field(Fields& f, const std::string& key, const nlohmann::json& v, int depth = 0) {
  if (v.is_null()) return;
  if (v.is_string()) f[key].push_back(v.get<std::string>());
  else if (v.is_boolean()) f[key].push_back(v.get<bool>() ? "true" : "false");
  else if (v.is_number()) f[key].push_back(v.dump());
  else if (v.is_array() && depth == 0)
    for (const auto& e : v) add_json_field(f, key, e, 1);
  else throw bad_request(fmt::format("field '{}' has an unsupported JSON type", key.substr(0, 64)), key);
}

std::string wanted_format(const Fields& f, const Context& ctx) {
  if (auto v = detection::first(f, "format")) {
    auto s = str::lower(str::trim(*v));
    if (s == "json") return "json";
    if (s == "jpeg" || s == "jpg") return "jpeg";
    if (s == "png") return "png";
    throw bad_request("format must be json, jpeg or png", "format");
  }
  // Accept: the first of the media types we can produce that the client lists.
  auto accept = str::lower(ctx.request[http::Field::accept]);
  auto jpos = accept.find("application/json"), jpg = accept.find("image/jpeg"), png = accept.find("image/png");
  std::size_t best = std::min({jpos, jpg, png});
  if (best == std::string::npos || best == jpos) return "json";
  return best == jpg ? "jpeg" : "png";
}

Prepared prepare(const Context& ctx, inference::ModelRegistry& reg, const config::Config& cfg) {
  Fields fields;
  for (const auto& [k, v] : ctx.query.items()) fields[k].push_back(v);

  const auto ct = ctx.request[http::Field::content_type];
  const std::string& body = ctx.request.body();
  std::string_view image;
  std::string owned;
  if (http::is_multipart_form(ct)) {
    auto form = http::parse_multipart(ct, body);
    Fields from_body;
    bool have_image = false;
    for (const auto& part : form.parts) {
      if (part.name == "image") {
        if (have_image) throw bad_request("send exactly one `image` part", "image");
        image = part.body;
        have_image = true;
      } else if (part.filename.empty()) {
        from_body[part.name].emplace_back(part.body);
      }
    }
    if (!have_image) throw bad_request("the multipart form has no `image` part", "image", "missing_image");
    for (auto& [k, v] : from_body) fields[k] = std::move(v);
  } else if (is_json_type(ct)) {
    nlohmann::json j = http::parse_json_body(ctx);
    if (!j.is_object()) throw bad_request("the JSON body must be an object", {}, "invalid_json");
    auto it = j.find("image");
    if (it == j.end() || !it->is_string())
      throw bad_request("the JSON body needs \"image\": a base64-encoded image", "image", "missing_image");
    owned = detection::decode_base64_image(it->get_ref<const std::string&>());
    image = owned;
    Fields from_body;
    for (auto& [k, v] : j.items())
      if (k != "image") add_json_field(from_body, k, v);
    for (auto& [k, v] : from_body) fields[k] = std::move(v);
  } else {
    auto base = str::lower(str::trim(ct.substr(0, ct.find(';'))));
    if (!base.empty() && !base.starts_with("image/") && base != "application/octet-stream")
      throw ApiError(415,
                     "send the image as multipart/form-data (field `image`), as a raw image/* body, or as JSON "
                     "{\"image\": base64}",
                     "invalid_request_error", "unsupported_media_type");
    image = body;
  }

  Prepared p;
  p.format = wanted_format(fields, ctx);
  p.model = detection::resolve_model(reg, ctx, detection::first(fields, "model"));
  p.options = detection::parse_options(fields, p.model);
  vision::DecodeOptions dopt;
  dopt.max_pixels = cfg.inference.max_image_pixels;
  // An annotated picture is drawn at full resolution; JSON only needs the
  // resolution the model sees.
  dopt.target_max_side = p.format == "json" ? detection::target_side(p.model) : 0;
  auto t0 = std::chrono::steady_clock::now();
  p.image = vision::decode_image(image, dopt);
  p.decode_ms = detection::ms_since(t0);
  return p;
}

nlohmann::json detect_response_schema() {
  auto num = nlohmann::json{{"type", "number"}};
  return {{"type", "object"},
          {"properties",
           {{"model", {{"type", "string"}}},
            {"image",
             {{"type", "object"},
              {"properties", {{"width", {{"type", "integer"}}}, {"height", {{"type", "integer"}}}}}}},
            {"detections",
             {{"type", "array"},
              {"items",
               {{"type", "object"},
                {"properties",
                 {{"label", {{"type", "string"}}},
                  {"class_id", {{"type", "integer"}}},
                  {"confidence", num},
                  {"box",
                   {{"type", "object"},
                    {"description", "Pixels of the original image: top-left (x1,y1), bottom-right (x2,y2)"},
                    {"properties", {{"x1", num}, {"y1", num}, {"x2", num}, {"y2", num}}}}}}}}}}},
            {"timings",
             {{"type", "object"},
              {"properties",
               {{"decode_ms", num},
                {"queue_ms", num},
                {"preprocess_ms", num},
                {"inference_ms", num},
                {"postprocess_ms", num},
                {"batch",
                 {{"type", "integer"},
                  {"description", "Images in the forward this one rode in (dynamic batching; 1 alone)"}}}}}}}}}};
}

nlohmann::json detect_request_body() {
  nlohmann::json options = {
      {"model", {{"type", "string"}, {"description", "Model name; default model if absent"}}},
      {"confidence", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}},
      {"iou", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}},
      {"max_detections", {{"type", "integer"}, {"minimum", 1}, {"maximum", 10000}}},
      {"classes", {{"type", "string"}, {"description", "Class names or ids, comma-separated"}}},
      {"format", {{"type", "string"}, {"enum", {"json", "jpeg", "png"}}}}};
  nlohmann::json multipart_props = options;
  multipart_props["image"] = {{"type", "string"}, {"format", "binary"}};
  nlohmann::json json_props = options;
  json_props["image"] = {{"type", "string"}, {"description", "Base64 (or a data: URL)"}};
  json_props["classes"] = {{"oneOf", {{{"type", "string"}}, {{"type", "array"}, {"items", {{"type", "string"}}}}}}};
  return {{"required", true},
          {"content",
           {{"multipart/form-data",
             {{"schema", {{"type", "object"}, {"properties", multipart_props}, {"required", {"image"}}}}}},
            {"image/*", {{"schema", {{"type", "string"}, {"format", "binary"}}}}},
            {"application/json",
             {{"schema", {{"type", "object"}, {"properties", json_props}, {"required", {"image"}}}}}}}}};
}

}  // namespace

void add_detection_routes(http::Router& router, inference::ModelRegistry& reg, const config::Config& cfg) {
  router.add({
      .method = http::Verb::post,
      .path = "/v1/detect",
      .handler = [&reg, &cfg](Context& ctx) -> Awaitable<Response> {
        // Lambdas are named before co_await throughout: see run_on.
        auto parse = [&ctx, &reg, &cfg] { return prepare(ctx, reg, cfg); };
        Prepared p = co_await detection::run_on(reg.cpu_pool(), std::move(parse));
        ctx.usage.model = p.model.name;
        inference::DetectResult res = co_await reg.detect(p.model.name, p.image.bgr, p.options);
        ctx.usage.images = 1;
        detection::to_original(res.detections, p.image);
        if (p.format == "json")
          co_return http::json_response(ctx, 200, detection::detect_json(p.model.name, p.image, res, p.decode_ms));
        auto draw = [&p, &res] {
          std::vector<vision::Annotation> boxes;
          for (const auto& d : res.detections)
            boxes.push_back({d.box.x1, d.box.y1, d.box.x2, d.box.y2, d.label, d.confidence, d.class_id});
          cv::Mat drawn = vision::annotate(p.image.bgr, boxes);
          return p.format == "png" ? vision::encode_png(drawn) : vision::encode_jpeg(drawn);
        };
        std::string bytes = co_await detection::run_on(reg.cpu_pool(), std::move(draw));
        Response r = http::make_response(ctx, 200, std::move(bytes), p.format == "png" ? "image/png" : "image/jpeg");
        r.set("X-Detections-Count", std::to_string(res.detections.size()));
        co_return r;
      },
      .summary = "Detect objects in an image",
      .tag = "Detection",
      .description =
          "Runs a YOLO model on one image (JPEG, PNG, BMP or WebP, recognised by content) sent as multipart "
          "field `image`, as a raw image body, or as JSON {\"image\": base64}. Options may also be given in the "
          "query string. Boxes are in pixels of the original (EXIF-upright) image. With format=jpeg|png or "
          "Accept: image/jpeg|image/png the response is the annotated picture.",
      .params = {{.name = "model", .description = "Model name (default model if absent)"},
                 {.name = "confidence", .description = "Minimum confidence, 0..1 (model default if absent)",
                  .type = "number"},
                 {.name = "iou", .description = "NMS IoU threshold, 0..1", .type = "number"},
                 {.name = "max_detections", .description = "At most this many boxes (default 300)",
                  .type = "integer"},
                 {.name = "classes", .description = "Only these classes: names or ids, comma-separated or repeated"},
                 {.name = "format", .description = "json (default), jpeg or png (annotated image)"}},
      .request_body = detect_request_body(),
      .responses = {{"200", "Detections (JSON), or the annotated image"},
                    {"400", "Bad option, corrupt or truncated image, malformed body"},
                    {"404", "Unknown model"},
                    {"413", "Body or image pixel count over the limit"},
                    {"415", "Not a supported image format or body type"},
                    {"503", "Model unavailable or its queue is full"}},
      .response_schema = detect_response_schema(),
      .scope = "detect",
      .max_body_bytes = cfg.server.max_upload_bytes,
  });
  add_deepstack_routes(router, reg, cfg);
  add_kserve_routes(router, reg, cfg);
  add_model_routes(router, reg);
}

}  // namespace osprey::api
