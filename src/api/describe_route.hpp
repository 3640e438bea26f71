#pragma once
// POST /v1/vision/describe: see and ask. One image and a question; Osprey
// runs a detection model on the image and asks a chat model about the scene
// with the detections as structured context (and the image itself when the
// chat model takes images: gateway.vision_models, or "send_image").
//
//   api::add_describe_route(router, upstreams, registry, cfg);
//
// Request: JSON {"image": base64 or data: URL, "question", "model" (the chat
// model), "detector"? (detection model; the default one), "confidence"?,
// "send_image"?, "max_tokens"?, "stream"?} or the same as multipart fields
// with an `image` file part.
//
// Answer: {"object": "vision.description", "model", "answer", "detections"
// (the /v1/detect JSON), "usage", "upstream"}; with stream: true, SSE: an
// `event: detections` first, then the chat.completion.chunk events as the
// upstream sends them, then `data: [DONE]`.
//
// Needs the "chat" and the "detect" scopes. One ledger record holds the
// image and the tokens (model: the chat model); the image counts against
// images-per-minute limits and the tokens against token budgets.

#include <memory>

#include "config/config.hpp"
#include "gateway/upstreams.hpp"
#include "http/router.hpp"
#include "inference/model_registry.hpp"

namespace osprey::api {

void add_describe_route(http::Router& router, std::shared_ptr<gateway::Upstreams> upstreams,
                        inference::ModelRegistry& registry, const config::Config& cfg);

}  // namespace osprey::api
