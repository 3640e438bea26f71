#include "api/video_routes.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "access/access_service.hpp"
#include "api/detection_routes.hpp"
#include "common/error.hpp"
#include "http/response.hpp"
#include "usage/completion.hpp"
#include "video/stream_service.hpp"

namespace osprey::api {

using http::Awaitable;
using http::Context;
using http::Response;
using nlohmann::json;

namespace {

const http::Principal* who(const Context& ctx) { return ctx.principal ? &*ctx.principal : nullptr; }

access::Limits limits_of(access::AccessService* access, const Context& ctx) {
  if (!access || !ctx.principal || ctx.principal->key_id.empty()) return {};
  auto rec = access->find_by_id(ctx.principal->key_id);
  return rec ? rec->limits : access::Limits{};
}

// The POST body, checked field by field: anything unknown is a typo the
// client wants to hear about, not a silent default.
video::StreamSpec parse_spec(const Context& ctx, inference::ModelRegistry& reg, video::StreamService& streams,
                             access::AccessService* access) {
  json body = http::parse_json_body(ctx);
  if (!body.is_object()) throw bad_request("the body must be a JSON object", {}, "invalid_json");
  static const std::set<std::string> known{"source",  "model", "fps",   "confidence", "iou",           "classes",
                                           "lines",   "zones", "loop",  "max_detections", "in_flight"};
  for (const auto& [k, _] : body.items())
    if (!known.count(k)) throw bad_request(fmt::format("unknown field '{}'", k.substr(0, 64)), k.substr(0, 64));

  video::StreamSpec spec;
  auto src = body.find("source");
  if (src == body.end() || !src->is_string()) throw bad_request("source is required (a string)", "source");
  streams.check_source(src->get<std::string>(), spec);

  std::optional<std::string> model;
  if (auto m = body.find("model"); m != body.end()) {
    if (!m->is_string()) throw bad_request("model must be a string", "model");
    model = m->get<std::string>();
  }
  auto info = detection::resolve_model(reg, ctx, model);
  spec.model = info.name;

  detection::Fields fields;
  for (const char* k : {"confidence", "iou", "max_detections"})
    if (auto it = body.find(k); it != body.end()) {
      if (!it->is_number()) throw bad_request(fmt::format("{} must be a number", k), k);
      fields[k].push_back(it->dump());
    }
  if (auto it = body.find("classes"); it != body.end()) {
    if (it->is_string()) fields["classes"].push_back(it->get<std::string>());
    else if (it->is_array()) {
      for (const auto& c : *it) {
        if (c.is_string()) fields["classes"].push_back(c.get<std::string>());
        else if (c.is_number_integer()) fields["classes"].push_back(c.dump());
        else throw bad_request("classes must be names or ids", "classes");
      }
    } else {
      throw bad_request("classes must be a string or an array", "classes");
    }
  }
  spec.options = detection::parse_options(fields, info);
  spec.confidence = spec.options.confidence >= 0 ? spec.options.confidence : info.default_confidence;

  if (auto it = body.find("fps"); it != body.end() && !it->is_null()) {
    if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() <= 0 || it->get<double>() > 240)
      throw bad_request("fps must be a number in (0, 240]", "fps");
    spec.max_fps = it->get<double>();
  }
  if (auto it = body.find("in_flight"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1 || it->get<std::int64_t>() > video::kMaxInFlight)
      throw bad_request(fmt::format("in_flight must be an integer in [1, {}]", video::kMaxInFlight), "in_flight");
    spec.in_flight = int(it->get<std::int64_t>());
  } else {
    // A forward that takes one core leaves the others idle: keep as many
    // frames in flight as forwards fit beside each other, which costs no
    // latency. A forward that takes every core alone gets one frame.
    const auto& tp = info.thread_plan;
    spec.in_flight = std::clamp(tp.instances / std::max(1, tp.threads_alone), 1, video::kMaxInFlight);
  }
  if (auto it = body.find("loop"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) throw bad_request("loop must be true or false", "loop");
    if (it->get<bool>() && !spec.local_file) throw bad_request("loop applies to local files only", "loop");
    spec.source_options.loop_files = it->get<bool>();
  }
  if (auto it = body.find("lines"); it != body.end() && !it->is_null()) spec.lines = video::parse_lines(*it);
  if (auto it = body.find("zones"); it != body.end() && !it->is_null()) spec.zones = video::parse_zones(*it);

  if (ctx.principal) spec.key_id = ctx.principal->key_id;
  spec.limits = limits_of(access, ctx);
  return spec;
}

ApiError open_error(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const video::SourceError& se) {
    if (se.kind() == "not_found")
      return ApiError(404, se.what(), "invalid_request_error",
                      "source_not_found", "source");
    return ApiError(422, se.what(),
                    "invalid_request_error", "source_" + se.kind(), "source");
  } catch (const std::exception& ex) {
    return ApiError(422, fmt::format("the source could not be opened: {}", ex.what()), "invalid_request_error",
                    "source_error", "source");
  }
}

json stream_schema() {
  return {{"type", "object"},
          {"properties",
           {{"id", {{"type", "string"}}},
            {"source", {{"type", "string"}, {"description", "Without credentials"}}},
            {"model", {{"type", "string"}}},
            {"state",
             {{"type", "string"},
              {"enum", {"starting", "running", "reconnecting", "throttled", "ended", "error", "stopped"}}}},
            {"fps", {{"type", "object"}, {"description", "Smoothed rates: in (from the source), processed"}}},
            {"frames", {{"type", "object"}, {"description", "received, processed, dropped, throttled"}}},
            {"latency_ms", {{"type", "object"}, {"description", "p50/p99 over the last 256 frames"}}},
            {"last_error", {{"type", "object"}, {"nullable", true}}},
            {"counts", {{"type", "object"}, {"description", "Line crossings and zone occupancy per class"}}}}}};
}

json create_body_doc() {
  auto point = json{{"type", "array"}, {"items", {{"type", "number"}}}, {"minItems", 2}, {"maxItems", 2}};
  auto shape = json{{"type", "array"},
                    {"items",
                     {{"type", "object"},
                      {"properties", {{"name", {{"type", "string"}}}, {"points", {{"type", "array"}, {"items", point}}}}}}}};
  return {{"required", true},
          {"content",
           {{"application/json",
             {{"schema",
               {{"type", "object"},
                {"required", {"source"}},
                {"properties",
                 {{"source",
                   {{"type", "string"},
                    {"description", "rtsp://, http(s):// (MJPEG, HLS, a video file) or a file path in video.allowed_dirs"}}},
                  {"model", {{"type", "string"}}},
                  {"fps", {{"type", "number"}, {"description", "Process at most this many frames a second"}}},
                  {"in_flight",
                   {{"type", "integer"},
                    {"minimum", 1},
                    {"maximum", 4},
                    {"description", "Frames detected at once, on different inference workers; events stay in "
                                    "frame order. Default: as many as the model's forwards fit on the cores "
                                    "side by side (1 for a model whose forward alone takes every core)"}}},
                  {"confidence", {{"type", "number"}}},
                  {"iou", {{"type", "number"}}},
                  {"classes", {{"oneOf", {{{"type", "string"}}, {{"type", "array"}}}}}},
                  {"loop", {{"type", "boolean"}, {"description", "Local files: start over at the end"}}},
                  {"lines", shape},
                  {"zones", shape}}}}}}}}}};
}

// Waits for the stream's first open without holding the I/O thread.
Awaitable<void> started(std::shared_ptr<video::Stream> s) {
  return usage::complete_from_thread_void([s](std::function<void(std::exception_ptr)> done) {
    s->start([done](std::exception_ptr e) { done(e); });
  });
}

Awaitable<Response> create_stream(Context& ctx, video::StreamService& streams, inference::ModelRegistry& reg,
                                  access::AccessService* access) {
  auto parse = [&] { return parse_spec(ctx, reg, streams, access); };
  video::StreamSpec spec = co_await detection::run_on(reg.cpu_pool(), std::move(parse));
  ctx.usage.model = spec.model;
  auto s = streams.add(std::move(spec));
  std::exception_ptr failed;
  try {
    co_await started(s);
  } catch (...) {
    failed = std::current_exception();
  }
  if (failed) {
    streams.forget(s->id());
    throw open_error(failed);
  }
  Response r = http::json_response(ctx, 201, s->to_json());
  r.set(http::Field::location, "/v1/streams/" + s->id());
  co_return r;
}

Awaitable<Response> stream_events(Context& ctx, std::shared_ptr<video::Stream> s) {
  auto sub = s->events().subscribe(ctx.executor);
  ctx.cancellation->on_cancel([sub] { sub->stop(); });
  Response head{http::Status::ok, 11};
  head.set(http::Field::content_type, "text/event-stream");
  head.set(http::Field::cache_control, "no-cache");
  head.set("X-Accel-Buffering", "no");
  for (const auto& [k, v] : ctx.response_headers) head.set(k, v);
  co_await ctx.stream->begin(std::move(head));
  try {
    // The stream as it is now, then its frames.
    std::string first = "retry: 2000\nevent: stream\ndata: " + s->to_json().dump() + "\n\n";
    co_await ctx.stream->write(first);
    std::string out;
    for (;;) {
      auto n = co_await sub->next(std::chrono::seconds(15));
      if (n.kind == video::Feed::Next::closed) break;
      if (n.kind == video::Feed::Next::idle) {
        co_await ctx.stream->write(": keep-alive\n\n");
        continue;
      }
      out.assign("data: ").append(*n.data).append("\n\n");
      co_await ctx.stream->write(out);
    }
    std::string last = "event: end\ndata: " + s->to_json().dump() + "\n\n";
    co_await ctx.stream->end(last);
  } catch (const boost::system::system_error&) {
    // The client left.
  }
  co_return Response{http::Status::ok, 11};
}

Awaitable<Response> stream_mjpeg(Context& ctx, std::shared_ptr<video::Stream> s) {
  auto sub = s->mjpeg().subscribe(ctx.executor);
  ctx.cancellation->on_cancel([sub] { sub->stop(); });
  Response head{http::Status::ok, 11};
  head.set(http::Field::content_type, "multipart/x-mixed-replace; boundary=osprey-frame");
  head.set(http::Field::cache_control, "no-cache, no-store");
  head.set("X-Accel-Buffering", "no");
  for (const auto& [k, v] : ctx.response_headers) head.set(k, v);
  co_await ctx.stream->begin(std::move(head));
  try {
    co_await ctx.stream->flush();
    std::string out;
    for (;;) {
      auto n = co_await sub->next(std::chrono::seconds(30));
      if (n.kind == video::Feed::Next::closed) break;
      if (n.kind == video::Feed::Next::idle) continue;
      out = fmt::format("--osprey-frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n", n.data->size());
      out.append(*n.data).append("\r\n");
      co_await ctx.stream->write(out);
    }
    co_await ctx.stream->end("--osprey-frame--\r\n");
  } catch (const boost::system::system_error&) {
  }
  co_return Response{http::Status::ok, 11};
}

}  // namespace

void add_video_routes(http::Router& router, video::StreamService& streams, inference::ModelRegistry& reg,
                      access::AccessService* access, usage::Ledger* ledger, const config::Config& cfg) {
  http::Route create;
  create.method = http::Verb::post;
  create.path = "/v1/streams";
  create.handler = [&streams, &reg, access](Context& ctx) -> Awaitable<Response> {
    return create_stream(ctx, streams, reg, access);
  };
  create.summary = "Start a server-side video stream";
  create.tag = "Video";
  create.description =
      "Osprey pulls frames from the source itself (RTSP, HTTP MJPEG/HLS/video files, or a local file inside "
      "video.allowed_dirs), detects and tracks objects on the newest frame (older ones are dropped when the model "
      "is slower than the source), and publishes one event per processed frame. The source is opened before the "
      "answer: one that cannot be opened gets 422 and no stream.";
  create.request_body = create_body_doc();
  create.responses = {{"201", "The stream (Location: /v1/streams/{id})"},
                      {"400", "Bad field"},
                      {"403", "Local file outside video.allowed_dirs, or local files disabled"},
                      {"404", "Unknown model, or the file does not exist"},
                      {"422", "The source could not be opened (unreachable, timeout, not a video, unsupported codec)"},
                      {"429", "video.max_streams streams already run"}};
  create.response_schema = stream_schema();
  create.scope = "detect";
  router.add(std::move(create));

  http::Route list;
  list.method = http::Verb::get;
  list.path = "/v1/streams";
  list.sync_handler = [&streams](Context& ctx) {
    json data = json::array();
    for (const auto& s : streams.list(who(ctx))) data.push_back(s->to_json());
    return http::json_response(ctx, 200, {{"object", "list"}, {"data", std::move(data)}});
  };
  list.summary = "List video streams";
  list.tag = "Video";
  list.description = "The streams the calling key created (an admin key sees every stream).";
  list.responses = {{"200", "{object: list, data: [stream]}"}};
  list.scope = "detect";
  router.add(std::move(list));

  http::Route get;
  get.method = http::Verb::get;
  get.path = "/v1/streams/{id}";
  get.sync_handler = [&streams](Context& ctx) {
    return http::json_response(ctx, 200, streams.get(std::string(ctx.param("id")), who(ctx))->to_json());
  };
  get.summary = "A video stream's state";
  get.tag = "Video";
  get.responses = {{"200", "The stream"}, {"404", "No such stream (or not the caller's)"}};
  get.response_schema = stream_schema();
  get.scope = "detect";
  router.add(std::move(get));

  http::Route del;
  del.method = http::Verb::delete_;
  del.path = "/v1/streams/{id}";
  del.handler = [&streams, &reg](Context& ctx) -> Awaitable<Response> {
    auto s = streams.get(std::string(ctx.param("id")), who(ctx));
    // Stopping joins the stream's threads: not on an I/O thread.
    auto stop = [&streams, &ctx, s] {
      streams.remove(s->id(), who(ctx));
      return s->to_json();
    };
    json last = co_await detection::run_on(reg.cpu_pool(), std::move(stop));
    last["deleted"] = true;
    co_return http::json_response(ctx, 200, last);
  };
  del.summary = "Stop a video stream";
  del.tag = "Video";
  del.responses = {{"200", "The stream's final state, deleted: true"}, {"404", "No such stream"}};
  del.scope = "detect";
  router.add(std::move(del));

  http::Route events;
  events.method = http::Verb::get;
  events.path = "/v1/streams/{id}/events";
  events.handler = [&streams](Context& ctx) -> Awaitable<Response> {
    auto s = streams.get(std::string(ctx.param("id")), who(ctx));
    return stream_events(ctx, std::move(s));
  };
  events.summary = "A stream's detections as Server-Sent Events";
  events.tag = "Video";
  events.description =
      "First an `event: stream` with the stream's state, then one `data:` JSON per processed frame: frame index, "
      "pts, received_at_ms, detections with track_id, counts (lines/zones), dropped, timings (latency_ms = frame "
      "received to event published). A client slower than the stream skips to the newest events. Ends with "
      "`event: end` when the stream stops.";
  events.responses = {{"200", "text/event-stream"}, {"404", "No such stream"}};
  events.scope = "detect";
  events.streaming = true;
  router.add(std::move(events));

  http::Route mjpeg;
  mjpeg.method = http::Verb::get;
  mjpeg.path = "/v1/streams/{id}/mjpeg";
  mjpeg.handler = [&streams](Context& ctx) -> Awaitable<Response> {
    auto s = streams.get(std::string(ctx.param("id")), who(ctx));
    return stream_mjpeg(ctx, std::move(s));
  };
  mjpeg.summary = "A stream's annotated video (MJPEG)";
  mjpeg.tag = "Video";
  mjpeg.description =
      "multipart/x-mixed-replace of annotated JPEG frames (boxes, labels and track ids), as browsers show in an "
      "<img>. Frames are drawn only while someone watches.";
  mjpeg.responses = {{"200", "multipart/x-mixed-replace; boundary=osprey-frame"}, {"404", "No such stream"}};
  mjpeg.scope = "detect";
  mjpeg.streaming = true;
  router.add(std::move(mjpeg));

  add_detect_ws_route(router, reg, access, ledger, cfg);
}

}  // namespace osprey::api
