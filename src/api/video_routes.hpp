#pragma once
// Real-time video over HTTP (scope "detect"):
//
//   POST   /v1/streams                 start a server-side stream -> 201 {id, ...}
//   GET    /v1/streams                 the caller's streams (admin: all)
//   GET    /v1/streams/{id}            state, fps, frames, latency, last error
//   DELETE /v1/streams/{id}            stop it
//   GET    /v1/streams/{id}/events     Server-Sent Events: one JSON per processed frame
//   GET    /v1/streams/{id}/mjpeg      annotated multipart/x-mixed-replace (a browser shows it)
//   GET    /v1/detect/ws?model=...     WebSocket: binary image frames in, one JSON per frame out
//
//   api::add_video_routes(router, streams, registry, access, cfg);  // all must outlive the router
//
// POST /v1/streams takes JSON {source, model?, fps?, confidence?, iou?,
// classes?, lines?, zones?, loop?}; it opens the source before answering, so
// a source that cannot be opened gets 422 (404 for a missing file, 403 for
// one outside video.allowed_dirs) and no stream. See video/stream.hpp for
// what a stream does and video_ws_route.cpp for the WebSocket protocol.

#include "config/config.hpp"
#include "http/router.hpp"
#include "inference/model_registry.hpp"

namespace osprey::access {
class AccessService;
}
namespace osprey::usage {
class Ledger;
}
namespace osprey::video {
class StreamService;
}

namespace osprey::api {

void add_video_routes(http::Router& router, video::StreamService& streams, inference::ModelRegistry& registry,
                      access::AccessService* access, usage::Ledger* ledger, const config::Config& cfg);

// The WebSocket route alone (video_ws_route.cpp).
void add_detect_ws_route(http::Router& router, inference::ModelRegistry& registry, access::AccessService* access,
                         usage::Ledger* ledger, const config::Config& cfg);

}  // namespace osprey::api
