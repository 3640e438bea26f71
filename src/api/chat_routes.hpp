#pragma once
// The OpenAI-compatible gateway routes (scope "chat"):
//
//   POST /v1/chat/completions   JSON or SSE (stream: true), relayed as it arrives
//   POST /v1/embeddings
//   GET  /v1/models             the upstream's list, cached
//
//   gateway::Gateway gw(cfg.gateway);
//   api::add_chat_routes(router, gw);      // gw must outlive the router
//
// Bodies are forwarded unchanged, except that `model` is required (400
// without it) and a streaming request gets stream_options.include_usage=true
// upstream so that tokens can be counted; the usage chunk reaches the client
// only if it asked for it. The client's Authorization header is never
// forwarded: the gateway's own key is. ctx.usage gets model and tokens
// (also for a stream cut short), for the ledger. Errors are OpenAI-shaped
// (see gateway/gateway.hpp for the mapping).

#include "gateway/gateway.hpp"
#include "http/router.hpp"

namespace osprey::api {

void add_chat_routes(http::Router& router, gateway::Gateway& gw);

}  // namespace osprey::api
