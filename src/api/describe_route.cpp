#include "api/describe_route.hpp"

#include <boost/system/system_error.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "api/detection_routes.hpp"
#include "api/gateway_relay.hpp"
#include "common/json_scan.hpp"
#include "common/strings.hpp"
#include "gateway/chat_chunk.hpp"
#include "http/multipart.hpp"
#include "http/response.hpp"
#include "vision/annotate.hpp"
#include "vision/image_format.hpp"

namespace osprey::api {

using http::Awaitable;
using http::Context;
using http::Response;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxQuestion = 8000;  // characters
constexpr std::size_t kMaxDetectionsInPrompt = 100;

struct Ask {
  std::string question, model, detector;
  std::optional<bool> send_image;
  std::optional<long> max_tokens;
  bool stream = false;
  detection::Fields fields;  // detection options (confidence, iou, classes)
  std::string image_bytes;
  // Filled on the CPU pool.
  inference::ModelInfo detector_info;
  inference::DetectOptions options;
  vision::DecodedImage image;
  double decode_ms = 0;
};

bool truthy(std::string_view v, const char* name) {
  auto s = str::lower(str::trim(v));
  if (s == "true" || s == "1") return true;
  if (s == "false" || s == "0") return false;
  throw bad_request(std::string(name) + " must be true or false", name);
}

// The request's fields, from JSON or multipart; the image stays encoded.
Ask read_request(const Context& ctx) {
  Ask a;
  const auto ct = ctx.request[http::Field::content_type];
  std::map<std::string, std::string> text;
  if (http::is_multipart_form(ct)) {
    auto form = http::parse_multipart(ct, ctx.request.body());
    bool have_image = false;
    for (const auto& part : form.parts) {
      if (part.name == "image") {
        if (have_image) throw bad_request("send exactly one `image` part", "image");
        a.image_bytes.assign(part.body);
        have_image = true;
      } else if (part.filename.empty()) {
        text[part.name] = std::string(part.body);
      }
    }
    if (!have_image) throw bad_request("the multipart form has no `image` part", "image", "missing_image");
  } else {
    json j = http::parse_json_body(ctx);
    if (!j.is_object()) throw bad_request("the JSON body must be an object", {}, "invalid_json");
    for (auto& [k, v] : j.items()) {
      if (k == "image") {
        if (!v.is_string()) throw bad_request("image must be a base64 string or a data: URL", "image");
        a.image_bytes = detection::decode_base64_image(v.get_ref<const std::string&>());
      } else if (v.is_string()) {
        text[k] = v.get<std::string>();
      } else if (v.is_boolean()) {
        text[k] = v.get<bool>() ? "true" : "false";
      } else if (v.is_number()) {
        text[k] = v.dump();
      } else if (k == "classes" && v.is_array()) {
        for (const auto& c : v) a.fields["classes"].push_back(c.is_string() ? c.get<std::string>() : c.dump());
      } else if (!v.is_null()) {
        throw bad_request("field '" + k.substr(0, 64) + "' has an unsupported JSON type", k);
      }
    }
    if (a.image_bytes.empty()) throw bad_request("the JSON body needs \"image\": a base64-encoded image", "image", "missing_image");
  }
  auto take = [&text](const char* k) -> std::optional<std::string> {
    auto it = text.find(k);
    if (it == text.end()) return std::nullopt;
    return it->second;
  };
  a.question = take("question").value_or("");
  if (str::trim(a.question).empty())
    throw bad_request("you must provide a question", "question", "missing_required_parameter");
  if (a.question.size() > kMaxQuestion)
    throw bad_request("question is longer than " + std::to_string(kMaxQuestion) + " characters", "question");
  a.model = take("model").value_or("");
  if (a.model.empty()) throw bad_request("you must provide a model parameter (the chat model)", "model", "missing_required_parameter");
  a.detector = take("detector").value_or("");
  if (auto v = take("send_image")) a.send_image = truthy(*v, "send_image");
  if (auto v = take("stream")) a.stream = truthy(*v, "stream");
  if (auto v = take("max_tokens")) {
    char* end = nullptr;
    long n = std::strtol(v->c_str(), &end, 10);
    if (v->empty() || *end || n < 1 || n > 1'000'000) throw bad_request("max_tokens must be a positive integer", "max_tokens");
    a.max_tokens = n;
  }
  for (const char* k : {"confidence", "iou", "max_detections", "classes"})
    if (auto v = take(k)) a.fields[k].push_back(*v);
  return a;
}

// What the chat model is told about the picture: its size and the boxes,
// compact (label, confidence, box as whole pixels).
std::string scene_context(const Ask& a, const inference::DetectResult& res) {
  json objects = json::array();
  for (const auto& d : res.detections) {
    if (objects.size() >= kMaxDetectionsInPrompt) break;
    objects.push_back({{"label", d.label},
                       {"confidence", std::round(d.confidence * 100) / 100},
                       {"box", {std::lround(d.box.x1), std::lround(d.box.y1), std::lround(d.box.x2), std::lround(d.box.y2)}}});
  }
  return "You answer questions about one image of " + std::to_string(a.image.original_width) + "x" +
         std::to_string(a.image.original_height) + " pixels. An object detector (" + a.detector_info.name +
         ") found these objects, as JSON: label, confidence, and box [x1, y1, x2, y2] in pixels from the top-left "
         "corner:\n" +
         objects.dump() + (res.detections.size() > kMaxDetectionsInPrompt ? "\n(more objects were found; the list is cut)" : "") +
         "\nUse them to answer. The detector knows only its own classes and misses some objects; when the "
         "detections cannot answer the question, say so.";
}

// The picture as a data: URL the upstream accepts: the upload itself when it
// is JPEG, PNG or WebP, else re-encoded as JPEG.
std::string image_data_url(const Ask& a) {
  switch (vision::sniff_format(a.image_bytes)) {
    case vision::ImageFormat::jpeg: return "data:image/jpeg;base64," + str::base64_encode(a.image_bytes);
    case vision::ImageFormat::png: return "data:image/png;base64," + str::base64_encode(a.image_bytes);
    case vision::ImageFormat::webp: return "data:image/webp;base64," + str::base64_encode(a.image_bytes);
    default: return "data:image/jpeg;base64," + str::base64_encode(vision::encode_jpeg(a.image.bgr));
  }
}

std::string chat_request(const Ask& a, const inference::DetectResult& res, bool send_image) {
  json user_content = json::array({{{"type", "text"}, {"text", a.question}}});
  if (send_image) user_content.push_back({{"type", "image_url"}, {"image_url", {{"url", image_data_url(a)}}}});
  json req = {{"model", a.model},
              {"messages",
               {{{"role", "system"}, {"content", scene_context(a, res)}}, {{"role", "user"}, {"content", user_content}}}}};
  if (a.max_tokens) req["max_tokens"] = *a.max_tokens;
  if (a.stream) {
    req["stream"] = true;
    req["stream_options"] = {{"include_usage", true}};
  }
  return req.dump();
}

void record_tokens(Context& ctx, const json& usage) {
  if (!usage.is_object()) return;
  auto count = [&usage](const char* k) -> long {
    auto it = usage.find(k);
    return it != usage.end() && it->is_number_integer() ? std::max(0L, it->get<long>()) : 0;  // never a credit
  };
  ctx.usage.prompt_tokens = count("prompt_tokens");
  ctx.usage.completion_tokens = count("completion_tokens");
}

Awaitable<Response> answer_json(Context& ctx, gateway::Upstreams& ups, const Ask& a, std::string body, json detections) {
  gateway::UpstreamReply reply;
  std::function<Awaitable<void>(gateway::Gateway&)> attempt = [&](gateway::Gateway& gw) -> Awaitable<void> {
    ctx.usage.upstream = gw.name();
    reply = co_await gw.request_json(http::Verb::post, "/chat/completions", body, ctx.cancellation);
  };
  co_await ups.call(a.model, ctx.cancellation, std::move(attempt));
  json up = json::parse(reply.body, nullptr, false);
  if (up.is_discarded() || !up.is_object())
    throw ApiError(502, "upstream returned malformed JSON", "api_error", "upstream_invalid_response");
  json usage = up.contains("usage") && up["usage"].is_object() ? up["usage"] : json::object();
  record_tokens(ctx, usage);
  relay::count_tokens(a.model, ctx.usage.prompt_tokens, ctx.usage.completion_tokens);
  json answer = nullptr;
  if (auto c = up.find("choices"); c != up.end() && c->is_array() && !c->empty() && (*c)[0].is_object()) {
    const auto& msg = (*c)[0].value("message", json::object());
    if (msg.is_object() && msg.contains("content")) answer = msg["content"];
  }
  json out = {{"object", "vision.description"},
              // An upstream's odd "model" (not a string) must not make this a 500.
              {"model", up.contains("model") && up["model"].is_string() ? up["model"] : json(a.model)},
              {"answer", answer},
              {"detections", std::move(detections)},
              {"usage", usage},
              {"upstream", ctx.usage.upstream}};
  auto res = http::json_response(ctx, 200, out);
  res.set("X-Osprey-Upstream", ctx.usage.upstream);
  co_return res;
}

Awaitable<Response> answer_stream(Context& ctx, gateway::Upstreams& ups, const Ask& a, std::string body, json detections) {
  if (!ctx.stream) throw ApiError(400, "streaming is not available on this connection", "invalid_request_error", "stream_unsupported", "stream");
  relay::Held held;
  held.add(detections.dump(), 0, "detections");  // leaves with the head
  bool got_usage = false;
  gateway::StreamCallbacks cb;
  cb.on_open = [&]() -> Awaitable<void> { co_await ctx.stream->begin(relay::stream_head(ctx)); };
  cb.on_event = [&](std::string_view data) {
    const auto facts = gateway::inspect_chunk(data);
    if (facts.has_usage) {
      auto j = json::parse(data, nullptr, false);
      if (j.is_object() && j.contains("usage")) {
        record_tokens(ctx, j["usage"]);
        got_usage = true;
      }
    }
    held.add(data, facts.text_chars);
  };
  cb.on_flush = [&held, &ctx] { return held.flush(*ctx.stream); };
  gateway::StreamResult result;
  bool client_gone = false;
  std::function<Awaitable<void>(gateway::Gateway&)> attempt = [&](gateway::Gateway& gw) -> Awaitable<void> {
    ctx.usage.upstream = gw.name();
    result = co_await gw.stream("/chat/completions", body, ctx.cancellation, cb);
  };
  try {
    co_await ups.call(a.model, ctx.cancellation, std::move(attempt));
  } catch (const boost::system::system_error&) {
    client_gone = true;
  } catch (const ApiError& e) {
    if (!ctx.stream->started()) throw;
    result.error = e;
  }
  std::string last = result.error ? relay::sse_error_event(*result.error) : std::string("data: [DONE]\n\n");
  if (!client_gone) co_await relay::end_stream(*ctx.stream, held, std::move(last));
  if (!got_usage) {
    // Cut short: what was relayed / 4, and the prompt's text / 4.
    ctx.usage.completion_tokens = static_cast<long>((held.sent_chars + 3) / 4);
    ctx.usage.prompt_tokens = static_cast<long>((body.size() + 3) / 4);
  }
  relay::count_tokens(a.model, ctx.usage.prompt_tokens, ctx.usage.completion_tokens);
  co_return Response{http::Status::ok, 11};
}

Awaitable<Response> describe(Context& ctx, gateway::Upstreams& ups, inference::ModelRegistry& reg,
                             const config::Config& cfg) {
  // Body parsing and decoding run on the CPU pool (big uploads).
  auto parse = [&ctx, &reg, &cfg] {
    Ask a = read_request(ctx);
    if (ctx.principal && !ctx.principal->may_use_model(a.model))
      throw ApiError(403, "this API key may not use model '" + a.model + "'", "permission_error", "model_not_allowed", "model");
    a.detector_info = detection::resolve_model(reg, ctx, a.detector.empty() ? std::nullopt : std::optional(a.detector));
    a.options = detection::parse_options(a.fields, a.detector_info);
    vision::DecodeOptions dopt;
    dopt.max_pixels = cfg.inference.max_image_pixels;
    dopt.target_max_side = detection::target_side(a.detector_info);
    auto t0 = std::chrono::steady_clock::now();
    a.image = vision::decode_image(a.image_bytes, dopt);
    a.decode_ms = detection::ms_since(t0);
    return a;
  };
  Ask a = co_await detection::run_on(reg.cpu_pool(), std::move(parse));
  inference::DetectResult res = co_await reg.detect(a.detector_info.name, a.image.bgr, a.options);
  detection::to_original(res.detections, a.image);
  // One record: the image and the chat model's tokens.
  ctx.usage.images = 1;
  ctx.usage.model = a.model;
  ctx.usage.upstream_called = true;
  json detections = detection::detect_json(a.detector_info.name, a.image, res, a.decode_ms);
  bool send_image = a.send_image.value_or(false);
  if (!a.send_image)
    for (const auto& p : cfg.gateway.vision_models)
      if (gateway::model_matches(p, a.model)) send_image = true;
  auto build = [&a, &res, send_image] { return chat_request(a, res, send_image); };
  std::string body = co_await detection::run_on(reg.cpu_pool(), std::move(build));  // base64 of a big image
  if (a.stream) co_return co_await answer_stream(ctx, ups, a, std::move(body), std::move(detections));
  co_return co_await answer_json(ctx, ups, a, std::move(body), std::move(detections));
}

}  // namespace

void add_describe_route(http::Router& router, std::shared_ptr<gateway::Upstreams> ups, inference::ModelRegistry& reg,
                        const config::Config& cfg) {
  http::Route r;
  r.method = http::Verb::post;
  r.path = "/v1/vision/describe";
  r.handler = [ups, &reg, &cfg](Context& ctx) { return describe(ctx, *ups, reg, cfg); };
  r.summary = "See and ask: detect objects in an image, then ask a chat model about the scene";
  r.tag = "OpenAI gateway";
  r.description =
      "Runs the detection model (`detector`, default model if absent) on `image`, then asks the chat `model` the "
      "`question` with the detections as structured context, and the image itself when the model takes images "
      "(gateway.vision_models, or send_image). With `stream: true`: SSE, an `event: detections` first, then "
      "chat.completion.chunk events and `data: [DONE]`. Needs the chat and detect scopes; one usage record holds "
      "the image and the tokens.";
  json props = {{"image", {{"type", "string"}, {"description", "Base64 (or a data: URL)"}}},
                {"question", {{"type", "string"}}},
                {"model", {{"type", "string"}, {"description", "Chat model"}}},
                {"detector", {{"type", "string"}, {"description", "Detection model (default model if absent)"}}},
                {"confidence", {{"type", "number"}}},
                {"send_image", {{"type", "boolean"}}},
                {"max_tokens", {{"type", "integer"}}},
                {"stream", {{"type", "boolean"}}}};
  json multipart = props;
  multipart["image"] = {{"type", "string"}, {"format", "binary"}};
  r.request_body = {{"required", true},
                    {"content",
                     {{"application/json",
                       {{"schema", {{"type", "object"}, {"properties", props}, {"required", {"image", "question", "model"}}}}}},
                      {"multipart/form-data",
                       {{"schema", {{"type", "object"}, {"properties", multipart}, {"required", {"image", "question", "model"}}}}}}}}};
  r.responses = {{"200", "The answer with the detections, or text/event-stream"},
                 {"400", "Missing question/model/image, bad option, corrupt image"},
                 {"403", "The key lacks the chat or detect scope, or may not use the model"},
                 {"404", "Unknown detection model, or no upstream serves the chat model"},
                 {"413", "Body or image over the limit"},
                 {"429", "Rate limited (images, tokens, upstream)"},
                 {"502", "Upstream unreachable or malformed"},
                 {"503", "Detection model unavailable, or no upstream key"}};
  r.response_schema = {{"type", "object"},
                       {"properties",
                        {{"object", {{"type", "string"}}},
                         {"answer", {{"type", "string"}}},
                         {"detections", {{"type", "object"}}},
                         {"usage", {{"type", "object"}}},
                         {"upstream", {{"type", "string"}}}}}};
  r.scope = "chat";
  r.also_scope = "detect";
  r.counts_images = true;
  r.max_body_bytes = cfg.server.max_upload_bytes;
  r.streaming = true;
  router.add(std::move(r));
}

}  // namespace osprey::api
