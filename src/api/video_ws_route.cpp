// GET /v1/detect/ws: client-pushed frames over a WebSocket.
//
// Auth: a key as on every route (Authorization: Bearer), or, from a
// browser, the subprotocols ["osprey.v1", "osprey.key.<KEY>"]: the
// handshake then answers "osprey.v1".
//
// Protocol. Query: model, confidence, iou, classes, max_detections (as for
// POST /v1/detect). The client sends each frame as one BINARY message (a
// JPEG, PNG or WebP picture); frames are numbered from 0 in arrival order.
// The server answers each frame it processes with one TEXT message:
//
//   {"frame": 7, "dropped": [5, 6], "model": "yolov8n-ts", "image": {"width": 640, "height": 480},
//    "detections": [{"label": "dog", "class_id": 16, "confidence": 0.91, "track_id": 3, "box": {...}}],
//    "timings": {"decode_ms": .., "queue_ms": .., "inference_ms": .., "latency_ms": ..}}
//
// Backpressure: while a frame is being processed, only the newest frame
// that arrives waits; each one it replaces is dropped and listed once in the
// next answer's `dropped`. So a client that sends faster than the model
// runs gets answers about its newest frames, never an ever longer queue.
// A frame that cannot be processed gets {"frame": n, "error": {...}} (a
// corrupt image, the key's images-per-minute limit with retry_after) and
// the connection stays open. Objects keep their track_id across frames of
// one connection (video/tracker.hpp).
//
// Usage: each processed frame counts against the key's ipm limit; the
// ledger gets one record per connection per minute (method "WS").

#include <utility>  // before Asio (g++ 12)

#include <chrono>
#include <deque>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "access/access_service.hpp"
#include "access/limiter.hpp"
#include "api/detection_routes.hpp"
#include "api/video_routes.hpp"
#include "common/error.hpp"
#include "common/strings.hpp"
#include "http/response.hpp"
#include "video/event_json.hpp"
#include "video/tracker.hpp"
#include "video/usage_meter.hpp"

namespace osprey::api {

using http::Awaitable;
using http::Context;
using http::Response;
using nlohmann::json;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What the reading coroutine and the answering one share. Both run on the
// connection's executor, so nothing here needs a lock.
struct Shared {
  explicit Shared(asio::any_io_executor ex) : timer(ex) {}
  asio::steady_timer timer;
  bool waiting = false;
  std::optional<std::string> pending;  // the newest frame not yet taken
  std::int64_t pending_frame = -1;
  Clock::time_point pending_at;
  std::vector<std::int64_t> dropped;  // since the last answer
  std::deque<std::string> notices;    // answers the reader wants sent
  std::int64_t next_frame = 0;
  bool reader_done = false;
  void wake() {
    if (waiting) timer.cancel();
  }
};

json error_json(std::int64_t frame, const ApiError& e, std::int64_t retry_after = 0) {
  json err = {{"message", e.what()}, {"type", e.type()}, {"code", e.code()}, {"status", e.status()}};
  if (retry_after > 0) err["retry_after"] = retry_after;
  json j = {{"frame", frame}, {"error", std::move(err)}};
  return j;
}

Awaitable<void> read_frames(std::shared_ptr<Shared> st, http::WebSocket* ws) {
  std::string msg;
  bool binary = false;
  try {
    while (co_await ws->read(msg, binary)) {
      auto n = st->next_frame++;
      if (!binary) {
        st->notices.push_back(
            error_json(n, bad_request("send frames as binary messages (JPEG, PNG or WebP)", {}, "binary_expected"))
                .dump());
      } else {
        if (st->pending) st->dropped.push_back(st->pending_frame);
        st->pending = std::move(msg);
        msg = std::string();
        st->pending_frame = n;
        st->pending_at = Clock::now();
      }
      st->wake();
    }
  } catch (const std::exception&) {
    // A message over the cap, or a broken connection: the session ends.
  }
  st->reader_done = true;
  st->wake();
}

Awaitable<void> wait(Shared& st) {
  st.waiting = true;
  st.timer.expires_after(std::chrono::seconds(30));
  boost::system::error_code ec;
  co_await st.timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  st.waiting = false;
}

struct Session {
  inference::ModelInfo model;
  inference::DetectOptions options;
  access::Limits limits;
  std::string key_id;
};

// One frame: limits, decode, detect, track. Returns the answer.
Awaitable<json> process(Context& ctx, inference::ModelRegistry& reg, access::AccessService* access,
                        const config::Config& cfg, Session& s, video::ByteTracker& tracker, std::string bytes,
                        std::int64_t frame, Clock::time_point arrived) {
  if (access && !s.key_id.empty() && (s.limits.ipm > 0 || s.limits.usd_per_month > 0)) {
    auto take = [access, &s] { return access->limiter().take_images(s.key_id, s.limits, 1, wall_ms()); };
    access::Admission a = co_await detection::run_on(reg.cpu_pool(), std::move(take));
    if (!a.allowed) {
      auto retry = access::retry_after_seconds(a.denied_by, wall_ms());
      co_return error_json(frame,
                           ApiError(429,
                                    fmt::format("images-per-minute limit of this key reached ({})",
                                                access::to_string(a.denied_by)),
                                    "rate_limit_error", "rate_limit_exceeded"),
                           retry);
    }
  }
  auto decode = [&bytes, &s, &cfg] {
    vision::DecodeOptions o;
    o.max_pixels = cfg.inference.max_image_pixels;
    o.target_max_side = detection::target_side(s.model);
    auto t0 = Clock::now();
    auto img = vision::decode_image(bytes, o);
    return std::make_pair(std::move(img), detection::ms_since(t0));
  };
  auto [img, decode_ms] = co_await detection::run_on(reg.cpu_pool(), std::move(decode));
  auto res = co_await reg.detect(s.model.name, img.bgr, s.options);
  detection::to_original(res.detections, img);
  auto tracked = tracker.update(res.detections);
  json timings = video::timings_json(res.timings, detection::ms_since(arrived));
  timings["decode_ms"] = video::round_to(decode_ms, 1e-3);
  co_return json{{"frame", frame},
                 {"model", s.model.name},
                 {"image", {{"width", img.original_width}, {"height", img.original_height}}},
                 {"detections", video::tracked_json(tracked)},
                 {"timings", std::move(timings)}};
}

Awaitable<Response> detect_ws(Context& ctx, inference::ModelRegistry& reg, access::AccessService* access,
                              usage::Ledger* ledger, const config::Config& cfg) {
  if (!ctx.websocket || !ctx.websocket->requested()) {
    ApiError e(426, "this endpoint speaks WebSocket: connect with a WebSocket client (Upgrade: websocket)",
               "invalid_request_error", "upgrade_required");
    e.headers.emplace_back("Upgrade", "websocket");
    throw e;
  }
  Session s;
  detection::Fields fields;
  for (const auto& [k, v] : ctx.query.items()) fields[k].push_back(v);
  s.model = detection::resolve_model(reg, ctx, detection::first(fields, "model"));
  s.options = detection::parse_options(fields, s.model);
  // The tracker sees detections below the asked confidence too (see
  // video::options_for_confidence); only tracked objects are answered.
  const auto topts =
      video::options_for_confidence(s.options.confidence >= 0 ? s.options.confidence : s.model.default_confidence);
  s.options.confidence = topts.low_threshold;
  ctx.usage.model = s.model.name;
  if (ctx.principal && access) {
    s.key_id = ctx.principal->key_id;
    if (auto rec = access->find_by_id(s.key_id)) s.limits = rec->limits;
  }

  // A browser that passed its key as a subprotocol offered "osprey.v1"
  // too: the handshake must name one of its offers (never the key one).
  std::string protocol;
  for (auto p : str::split(ctx.request[http::Field::sec_websocket_protocol], ','))
    if (str::trim(p) == "osprey.v1") protocol = "osprey.v1";
  http::WebSocket* ws = co_await ctx.websocket->accept(cfg.server.max_upload_bytes, protocol);
  auto st = std::make_shared<Shared>(ctx.executor);
  asio::co_spawn(ctx.executor, read_frames(st, ws), asio::detached);

  video::ByteTracker tracker(topts);
  video::UsageMeter meter(ledger, {s.key_id, "/v1/detect/ws", "WS", s.model.name, "ws-" + ctx.request_id},
                          wall_ms());
  try {
    for (;;) {
      if (!st->notices.empty()) {
        std::string m = std::move(st->notices.front());
        st->notices.pop_front();
        co_await ws->write_text(m);
        continue;
      }
      if (st->pending) {
        std::string bytes = std::move(*st->pending);
        st->pending.reset();
        const auto frame = st->pending_frame;
        const auto arrived = st->pending_at;
        json answer;
        try {
          answer = co_await process(ctx, reg, access, cfg, s, tracker, std::move(bytes), frame, arrived);
          if (!answer.contains("error")) meter.add_images(1, wall_ms());
        } catch (const ApiError& e) {
          answer = error_json(frame, e);
        } catch (const std::exception& e) {
          // Not the client's fault, and no reason to end the connection.
          spdlog::error("detect ws {}: frame {}: {}", ctx.request_id, frame, e.what());
          answer = error_json(frame, server_error("this frame could not be processed"));
        }
        answer["dropped"] = std::move(st->dropped);
        st->dropped.clear();
        std::string text = answer.dump();
        co_await ws->write_text(text);
        continue;
      }
      if (st->reader_done) break;
      co_await wait(*st);
    }
  } catch (const boost::system::system_error&) {
    // The peer is gone: nothing more to send.
  } catch (const std::exception& e) {
    spdlog::error("detect ws {}: {}", ctx.request_id, e.what());
  }
  // The reader coroutine uses `ws`, which lives only as long as this
  // handler: close, then wait for it to finish, whatever ended the loop.
  co_await ws->close(1000, "");
  while (!st->reader_done) co_await wait(*st);
  meter.finish(wall_ms());
  co_return Response{http::Status::switching_protocols, 11};
}

}  // namespace

void add_detect_ws_route(http::Router& router, inference::ModelRegistry& reg, access::AccessService* access,
                         usage::Ledger* ledger, const config::Config& cfg) {
  http::Route r;
  r.method = http::Verb::get;
  r.path = "/v1/detect/ws";
  r.handler = [&reg, access, ledger, &cfg](Context& ctx) -> Awaitable<Response> {
    return detect_ws(ctx, reg, access, ledger, cfg);
  };
  r.summary = "Detect on frames pushed over a WebSocket";
  r.tag = "Video";
  r.description =
      "Upgrade to a WebSocket, send each frame as a binary message (JPEG, PNG or WebP), receive one JSON text "
      "message per processed frame with detections and track ids. Frames that arrive while one is processed are "
      "replaced by the newest; those dropped are listed in the next answer's `dropped`.";
  r.params = {{.name = "model", .description = "Model name (default model if absent)"},
              {.name = "confidence", .description = "Minimum confidence, 0..1", .type = "number"},
              {.name = "iou", .description = "NMS IoU threshold, 0..1", .type = "number"},
              {.name = "classes", .description = "Only these classes: names or ids, comma-separated"}};
  r.responses = {{"101", "Switching Protocols: the WebSocket is open"},
                 {"404", "Unknown model"},
                 {"426", "Not a WebSocket upgrade request"}};
  r.scope = "detect";
  r.websocket = true;
  router.add(std::move(r));
}

}  // namespace osprey::api
