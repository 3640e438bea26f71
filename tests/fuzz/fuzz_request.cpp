// Fuzzes the request path: HTTP parsing with the server's limits, route
// matching, query decoding, and dispatch through the core middleware to the
// core routes, on arbitrary bytes.

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>

#include <cstdint>
#include <memory>

#include "api/core_routes.hpp"
#include "common/error.hpp"
#include "config/config.hpp"
#include "http/response.hpp"
#include "http/router.hpp"
#include "http/wire.hpp"
#include "server/middleware.hpp"

namespace {

struct Fixture {
  osprey::api::ServerState state;
  osprey::http::Router router;
  Fixture() {
    state.ready = true;
    osprey::config::ServerConfig cfg;
    cfg.access_log = false;
    cfg.cors_origins = {"*"};
    router.hook(osprey::server::core_hook(cfg));
    router.add({.method = osprey::http::Verb::post,
                .path = "/echo/{name}/json",
                .handler = [](osprey::http::Context& ctx) -> osprey::http::Awaitable<osprey::http::Response> {
                  auto j = osprey::http::parse_json_body(ctx);
                  co_return osprey::http::json_response(ctx, 200, j);
                }});
    osprey::api::add_core_routes(router, state);
  }
};

boost::asio::awaitable<void> dispatch_into(const osprey::http::Router& r, osprey::http::Context& ctx,
                                          osprey::http::Response& out) {
  out = co_await r.dispatch(ctx);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fx;
  namespace bhttp = boost::beast::http;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  boost::beast::error_code ec;
  parser.eager(true);
  parser.put(boost::asio::buffer(data, size), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_header_done()) return 0;
  auto& req = parser.get();
  std::string_view target = req.target();
  auto q = target.find('?');
  osprey::http::Context ctx{req, target.substr(0, q)};
  try {
    ctx.query = osprey::http::Query::parse(q == std::string_view::npos ? std::string_view{} : target.substr(q + 1));
  } catch (const osprey::ApiError&) {
    return 0;
  }
  boost::asio::io_context ioc;
  osprey::http::Response res;
  boost::asio::co_spawn(ioc, dispatch_into(fx.router, ctx, res), boost::asio::detached);
  ioc.run();
  // Every answer is a well-formed status with a JSON or asset body.
  if (res.result_int() < 100 || res.result_int() > 599) __builtin_trap();
  // The server answers synchronous routes without a coroutine: the same request
  // must get the same status that way, and a head that frames the body.
  auto m = fx.router.match(req.method(), ctx.path);
  if (fx.router.synchronous(m)) {
    osprey::http::Context sctx{req, ctx.path};
    sctx.query = ctx.query;
    auto sres = fx.router.dispatch_sync(sctx, std::move(m));
    if (sres.result_int() != res.result_int()) __builtin_trap();
    std::string head;
    osprey::http::write_head(sres, head);
    if (head.find("\r\n\r\n") != head.size() - 4) __builtin_trap();
  }
  return 0;
}
