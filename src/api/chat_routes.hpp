#pragma once
// The OpenAI-compatible gateway routes (scope "chat"):
//
//   POST /v1/chat/completions   JSON or SSE (stream: true), relayed as it arrives
//   POST /v1/responses          the Responses API, JSON or typed SSE events (responses_routes.cpp)
//   POST /v1/embeddings
//   GET  /v1/models             what the upstreams serve (their lists, cached)
//
//   api::add_chat_routes(router, upstreams);  // shared: held by the routes
//   api::add_chat_routes(router, gw);         // one upstream; gw must outlive the router
//
// A request goes to the upstreams that serve its model, falling back from
// one to the next (gateway/upstreams.hpp); X-Osprey-Upstream and
// ctx.usage.upstream (the ledger) name the one that answered.
//
// Bodies are forwarded unchanged, except that `model` is required (400
// without it) and a streaming request gets stream_options.include_usage=true
// upstream so that tokens can be counted; the usage chunk reaches the client
// only if it asked for it. The client's Authorization header is never
// forwarded: the gateway's own key is. ctx.usage gets model and tokens
// (also for a stream cut short), for the ledger. Errors are OpenAI-shaped
// (see gateway/gateway.hpp for the mapping).

#include <memory>

#include "gateway/gateway.hpp"
#include "gateway/upstreams.hpp"
#include "http/router.hpp"

namespace osprey::api {

void add_chat_routes(http::Router& router, std::shared_ptr<gateway::Upstreams> upstreams);
void add_chat_routes(http::Router& router, gateway::Gateway& gw);
// Added by add_chat_routes.
void add_responses_route(http::Router& router, std::shared_ptr<gateway::Upstreams> upstreams);

}  // namespace osprey::api
