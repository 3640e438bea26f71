#include "api/kserve_routes.hpp"

#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "api/detection_routes.hpp"
#include "common/error.hpp"
#include "http/response.hpp"

namespace osprey::api {

using http::Awaitable;
using http::Context;
using http::Response;
using inference::ModelInfo;
using Tensor = inference::ModelRegistry::Tensor;

namespace {

constexpr std::string_view kHeaderLength = "Inference-Header-Content-Length";
constexpr std::size_t kMaxElements = std::size_t(1) << 28;  // 1 GiB of FP32: far above any model input

std::string platform_of(const ModelInfo& m) {
  if (m.format == "torchscript") return "pytorch_libtorch";
  if (m.format == "onnx") return m.engine == "libtorch" ? "pytorch_libtorch" : "opencv_onnx";
  if (m.format == "darknet") return "opencv_darknet";
  return m.engine + "_" + m.format;
}

// Only version "1" exists: a model folder holds one model.
void check_version(const Context& ctx) {
  auto v = ctx.param("version");
  if (!v.empty() && v != "1")
    throw ApiError(404, fmt::format("model '{}' has no version '{}' (only \"1\")", ctx.param("model"), v),
                   "invalid_request_error", "model_not_found");
}

ModelInfo known_model(inference::ModelRegistry& reg, const Context& ctx) {
  check_version(ctx);
  std::string name(ctx.param("model"));
  auto info = reg.info(name);
  if (!info) throw ApiError(404, fmt::format("model '{}' not found", name), "invalid_request_error", "model_not_found");
  if (ctx.principal && !ctx.principal->may_use_model(name))
    throw ApiError(403, fmt::format("this API key may not use model '{}'", name), "permission_error",
                   "model_not_allowed");
  return *info;
}

struct InferRequest {
  std::string model;
  std::string id;
  Tensor input;
  bool binary_output = false;
};

std::int64_t shape_elements(const nlohmann::json& shape) {
  if (!shape.is_array() || shape.empty() || shape.size() > 8)
    throw bad_request("input `shape` must be an array of 1..8 non-negative integers", "shape");
  std::uint64_t n = 1;
  for (const auto& d : shape) {
    if (!d.is_number_integer() || d.get<std::int64_t>() < 0)
      throw bad_request("input `shape` must be an array of 1..8 non-negative integers", "shape");
    n *= d.get<std::uint64_t>();
    if (n > kMaxElements) throw ApiError(413, "input tensor is too large", "invalid_request_error", "tensor_too_large");
  }
  return static_cast<std::int64_t>(n);
}

// Appends the numbers of a (possibly nested) JSON array in row-major order.
void flatten(const nlohmann::json& v, std::vector<float>& out, std::size_t limit, int depth) {
  if (v.is_number()) {
    if (out.size() >= limit) throw bad_request("input `data` has more elements than `shape` says", "data");
    out.push_back(v.get<float>());
    return;
  }
  if (!v.is_array() || depth > 8) throw bad_request("input `data` must be an array of numbers", "data");
  for (const auto& e : v) flatten(e, out, limit, depth + 1);
}

InferRequest parse_infer(const Context& ctx, const ModelInfo& info) {
  std::string_view body = ctx.request.body();
  std::string_view header = body, binary;
  auto hl = ctx.request[kHeaderLength];
  if (!hl.empty()) {
    std::size_t n = 0;
    auto [p, ec] = std::from_chars(hl.data(), hl.data() + hl.size(), n);
    if (ec != std::errc() || p != hl.data() + hl.size() || n > body.size())
      throw bad_request(fmt::format("{} must be an integer no larger than the body", kHeaderLength));
    header = body.substr(0, n);
    binary = body.substr(n);
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const nlohmann::json::parse_error& e) {
    throw bad_request(fmt::format("inference request is not valid JSON (at byte {})", e.byte), {}, "invalid_json");
  }
  if (!j.is_object()) throw bad_request("inference request must be a JSON object", {}, "invalid_json");

  InferRequest r;
  r.model = info.name;
  if (auto it = j.find("id"); it != j.end() && it->is_string()) r.id = it->get<std::string>();
  if (auto it = j.find("parameters"); it != j.end() && it->is_object()) {
    auto b = it->find("binary_data_output");
    if (b != it->end() && b->is_boolean()) r.binary_output = b->get<bool>();
  }

  auto inputs = j.find("inputs");
  if (inputs == j.end() || !inputs->is_array() || inputs->size() != 1)
    throw bad_request(fmt::format("model '{}' takes exactly one input ('{}')", info.name, info.input_name), "inputs");
  const auto& in = (*inputs)[0];
  if (!in.is_object() || !in.contains("name") || !in["name"].is_string())
    throw bad_request("input needs a `name`", "inputs");
  r.input.name = in["name"].get<std::string>();
  if (!info.input_name.empty() && r.input.name != info.input_name)
    throw bad_request(fmt::format("unexpected input '{}': model '{}' expects '{}'", r.input.name.substr(0, 64),
                                  info.name, info.input_name),
                      "inputs");
  if (!in.contains("datatype") || in["datatype"] != "FP32")
    throw bad_request("only datatype FP32 is supported", "datatype");
  const std::int64_t count = shape_elements(in.contains("shape") ? in["shape"] : nlohmann::json());
  for (const auto& d : in["shape"]) r.input.shape.push_back(d.get<std::int64_t>());

  const nlohmann::json* params = in.contains("parameters") && in["parameters"].is_object() ? &in["parameters"] : nullptr;
  if (params && params->contains("binary_data_size")) {
    const auto& s = (*params)["binary_data_size"];
    if (!s.is_number_integer()) throw bad_request("binary_data_size must be an integer", "binary_data_size");
    const auto size = s.get<std::int64_t>();
    if (size != count * 4)
      throw bad_request(fmt::format("binary_data_size is {} but shape needs {} bytes of FP32", size, count * 4),
                        "binary_data_size");
    if (static_cast<std::uint64_t>(size) > binary.size())
      throw bad_request("the body holds less binary tensor data than binary_data_size says", "binary_data_size");
    r.input.data.resize(static_cast<std::size_t>(count));
    // The extension's wire format is little-endian FP32, as is every host we build for.
    static_assert(sizeof(float) == 4);
    std::memcpy(r.input.data.data(), binary.data(), static_cast<std::size_t>(size));
    binary.remove_prefix(static_cast<std::size_t>(size));
  } else {
    if (!in.contains("data")) throw bad_request("input has neither `data` nor binary_data_size", "data");
    r.input.data.reserve(static_cast<std::size_t>(count));
    flatten(in["data"], r.input.data, static_cast<std::size_t>(count), 0);
    if (static_cast<std::int64_t>(r.input.data.size()) != count)
      throw bad_request(fmt::format("input `data` has {} elements; shape says {}", r.input.data.size(), count),
                        "data");
  }
  if (!binary.empty()) throw bad_request("the body has binary data that no input claims", "binary_data_size");

  if (auto outs = j.find("outputs"); outs != j.end()) {
    if (!outs->is_array()) throw bad_request("`outputs` must be an array", "outputs");
    for (const auto& o : *outs) {
      if (!o.is_object() || !o.contains("name") || !o["name"].is_string())
        throw bad_request("each requested output needs a `name`", "outputs");
      const auto name = o["name"].get<std::string>();
      if (!info.output_name.empty() && name != info.output_name)
        throw bad_request(fmt::format("unknown output '{}': model '{}' has '{}'", name.substr(0, 64), info.name,
                                      info.output_name),
                          "outputs");
      if (o.contains("parameters") && o["parameters"].is_object()) {
        const auto& p = o["parameters"];
        if (p.contains("binary_data") && p["binary_data"].is_boolean()) r.binary_output = p["binary_data"].get<bool>();
      }
    }
  }
  return r;
}

Response infer_response(const Context& ctx, const InferRequest& req, const ModelInfo& info, const Tensor& out) {
  nlohmann::json o = {{"name", out.name.empty() ? info.output_name : out.name},
                      {"datatype", "FP32"},
                      {"shape", out.shape}};
  nlohmann::json head = {{"model_name", info.name}, {"model_version", "1"}};
  if (!req.id.empty()) head["id"] = req.id;
  if (!req.binary_output) {
    o["data"] = out.data;
    head["outputs"] = nlohmann::json::array({std::move(o)});
    return http::json_response(ctx, 200, head);
  }
  const std::size_t bytes = out.data.size() * sizeof(float);
  o["parameters"] = {{"binary_data_size", bytes}};
  head["outputs"] = nlohmann::json::array({std::move(o)});
  std::string body = head.dump();
  const std::size_t json_len = body.size();
  body.append(reinterpret_cast<const char*>(out.data.data()), bytes);
  Response res = http::make_response(ctx, 200, std::move(body), "application/octet-stream");
  res.set(kHeaderLength, std::to_string(json_len));
  return res;
}

nlohmann::json tensor_meta_schema() {
  return {{"type", "object"},
          {"properties",
           {{"name", {{"type", "string"}}},
            {"datatype", {{"type", "string"}}},
            {"shape", {{"type", "array"}, {"items", {{"type", "integer"}}}}}}}};
}

}  // namespace

void add_kserve_routes(http::Router& router, inference::ModelRegistry& reg, const config::Config& cfg) {
  auto metadata = [&reg](Context& ctx) -> Awaitable<Response> {
    ModelInfo m = known_model(reg, ctx);
    auto shape_or = [](const std::vector<int64_t>& s, std::vector<int64_t> fallback) {
      return s.empty() ? fallback : s;
    };
    co_return http::json_response(
        ctx, 200,
        {{"name", m.name},
         {"versions", {"1"}},
         {"platform", platform_of(m)},
         {"inputs",
          {{{"name", m.input_name},
            {"datatype", "FP32"},
            {"shape", shape_or(m.input_shape, {1, 3, m.input_height, m.input_width})}}}},
         {"outputs", {{{"name", m.output_name}, {"datatype", "FP32"}, {"shape", shape_or(m.output_shape, {})}}}}});
  };
  auto ready = [&reg](Context& ctx) -> Awaitable<Response> {
    ModelInfo m = known_model(reg, ctx);
    if (m.state != "available")
      throw ApiError(400, fmt::format("model '{}' is not ready: {}{}{}", m.name, m.state,
                                      m.reason.empty() ? "" : ": ", m.reason),
                     "invalid_request_error", "model_not_ready");
    co_return http::json_response(ctx, 200, {{"name", m.name}, {"ready", true}});
  };
  auto infer = [&reg](Context& ctx) -> Awaitable<Response> {
    check_version(ctx);
    ModelInfo info = detection::resolve_model(reg, ctx, std::string(ctx.param("model")));
    // Lambdas are named before co_await: see detection::run_on.
    auto parse = [&ctx, &info] { return parse_infer(ctx, info); };
    InferRequest req = co_await detection::run_on(reg.cpu_pool(), std::move(parse));
    ctx.usage.model = info.name;
    const auto batch = req.input.shape.empty() ? 1 : req.input.shape[0];
    Tensor out = co_await reg.infer_raw(info.name, std::move(req.input));
    ctx.usage.images = static_cast<int>(std::max<std::int64_t>(1, batch));
    auto render = [&ctx, &req, &info, &out] { return infer_response(ctx, req, info, out); };
    co_return co_await detection::run_on(reg.cpu_pool(), std::move(render));
  };

  nlohmann::json meta_schema = {{"type", "object"},
                                {"properties",
                                 {{"name", {{"type", "string"}}},
                                  {"versions", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                                  {"platform", {{"type", "string"}}},
                                  {"inputs", {{"type", "array"}, {"items", tensor_meta_schema()}}},
                                  {"outputs", {{"type", "array"}, {"items", tensor_meta_schema()}}}}}};
  nlohmann::json infer_body = {
      {"required", true},
      {"content",
       {{"application/json",
         {{"schema",
           {{"type", "object"},
            {"properties",
             {{"id", {{"type", "string"}}},
              {"parameters", {{"type", "object"}}},
              {"inputs",
               {{"type", "array"},
                {"items",
                 {{"type", "object"},
                  {"properties",
                   {{"name", {{"type", "string"}}},
                    {"shape", {{"type", "array"}, {"items", {{"type", "integer"}}}}},
                    {"datatype", {{"type", "string"}, {"enum", {"FP32"}}}},
                    {"parameters", {{"type", "object"}}},
                    {"data", {{"type", "array"}}}}}}}}},
              {"outputs", {{"type", "array"}, {"items", {{"type", "object"}}}}}}},
            {"required", {"inputs"}}}}}},
        {"application/octet-stream",
         {{"schema",
           {{"type", "string"},
            {"format", "binary"},
            {"description", "Triton binary tensor extension: JSON header (length in "
                            "Inference-Header-Content-Length) followed by raw tensor bytes"}}}}}}}};

  for (std::string prefix : {"/v2/models/{model}", "/v2/models/{model}/versions/{version}"}) {
    const bool versioned = prefix.find("versions") != std::string::npos;
    router.add({.method = http::Verb::get,
                .path = prefix,
                .handler = metadata,
                .summary = "Model metadata (KServe v2)",
                .tag = "KServe v2",
                .responses = {{"200", "Metadata"}, {"404", "Unknown model"}},
                .response_schema = meta_schema,
                .scope = "detect",
                .error_style = http::ErrorStyle::kserve,
                .hidden = versioned});
    router.add({.method = http::Verb::get,
                .path = prefix + "/ready",
                .handler = ready,
                .summary = "Model readiness (KServe v2)",
                .tag = "KServe v2",
                .responses = {{"200", "Ready"}, {"400", "Loading or unavailable"}, {"404", "Unknown model"}},
                .response_schema = {{"type", "object"},
                                    {"properties", {{"name", {{"type", "string"}}}, {"ready", {{"type", "boolean"}}}}}},
                .scope = "detect",
                .error_style = http::ErrorStyle::kserve,
                .hidden = versioned});
    router.add({.method = http::Verb::post,
                .path = prefix + "/infer",
                .handler = infer,
                .summary = "Raw tensor inference (KServe v2, Triton binary extension)",
                .tag = "KServe v2",
                .description = "Input: the model's preprocessed NCHW FP32 tensor (see metadata). Output: the raw "
                               "output tensor. Send `Inference-Header-Content-Length` for binary tensors; ask for "
                               "binary output with outputs[].parameters.binary_data or "
                               "parameters.binary_data_output.",
                .request_body = infer_body,
                .responses = {{"200", "Output tensor (JSON, or JSON header + binary)"},
                              {"400", "Malformed request or tensor"},
                              {"404", "Unknown model"},
                              {"503", "Model unavailable or queue full"}},
                .scope = "detect",
                .max_body_bytes = cfg.server.max_upload_bytes,
                .error_style = http::ErrorStyle::kserve,
                .hidden = versioned});
  }
}

}  // namespace osprey::api
