#include <gtest/gtest.h>

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include "http/response.hpp"
#include "http/router.hpp"
#include "http/wire.hpp"

using namespace osprey;
using namespace osprey::http;

namespace {

Handler echo(std::string name) {
  return [name](Context& ctx) -> Awaitable<Response> {
    nlohmann::json j = {{"handler", name}};
    for (const auto& [k, v] : ctx.params) j["params"][k] = v;
    co_return json_response(ctx, 200, j);
  };
}

Response run(const Router& r, Verb method, std::string target) {
  boost::asio::io_context ioc;
  Request req{method, target, 11};
  auto path = std::string_view(req.target()).substr(0, req.target().find('?'));
  Context ctx{req, path};
  auto fut = boost::asio::co_spawn(ioc, r.dispatch(ctx), boost::asio::use_future);
  ioc.run();
  return fut.get();
}

nlohmann::json body(const Response& r) { return nlohmann::json::parse(r.body()); }

}  // namespace

TEST(Router, MatchesLiteralsAndParameters) {
  Router r;
  r.add({.method = Verb::get, .path = "/v2/models/{name}", .handler = echo("model")});
  r.add({.method = Verb::get, .path = "/v2/models/{name}/ready", .handler = echo("ready")});
  r.add({.method = Verb::get, .path = "/v2/models/special", .handler = echo("special")});
  auto res = run(r, Verb::get, "/v2/models/yolov8n/ready");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(body(res)["handler"], "ready");
  EXPECT_EQ(body(res)["params"]["name"], "yolov8n");
  EXPECT_EQ(body(run(r, Verb::get, "/v2/models/special"))["handler"], "special");
  // A literal that leads nowhere falls back to the parameter at that depth.
  EXPECT_EQ(body(run(r, Verb::get, "/v2/models/special/ready"))["params"]["name"], "special");
}

TEST(Router, UnknownPathIs404Json) {
  Router r;
  r.add({.method = Verb::get, .path = "/a", .handler = echo("a")});
  auto res = run(r, Verb::get, "/b");
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(body(res)["error"]["code"], "route_not_found");
  EXPECT_EQ(res[Field::content_type], "application/json");
}

TEST(Router, WrongMethodIs405WithAllow) {
  Router r;
  r.add({.method = Verb::get, .path = "/a", .handler = echo("a")});
  r.add({.method = Verb::delete_, .path = "/a", .handler = echo("a")});
  auto res = run(r, Verb::post, "/a");
  EXPECT_EQ(res.result_int(), 405);
  EXPECT_NE(res[Field::allow].find("GET"), std::string::npos);
  EXPECT_NE(res[Field::allow].find("DELETE"), std::string::npos);
  EXPECT_EQ(body(res)["error"]["type"], "invalid_request_error");
}

TEST(Router, HeadFallsBackToGet) {
  Router r;
  r.add({.method = Verb::get, .path = "/a", .handler = echo("a")});
  EXPECT_EQ(run(r, Verb::head, "/a").result_int(), 200);
}

TEST(Router, RejectsDuplicatesAndMalformedTemplates) {
  Router r;
  r.add({.method = Verb::get, .path = "/a/{x}", .handler = echo("a")});
  EXPECT_THROW(r.add({.method = Verb::get, .path = "/a/{x}", .handler = echo("a")}), std::invalid_argument);
  EXPECT_THROW(r.add({.method = Verb::get, .path = "/a/{y}/b", .handler = echo("a")}), std::invalid_argument);
  EXPECT_THROW(r.add({.method = Verb::get, .path = "no-slash", .handler = echo("a")}), std::invalid_argument);
  EXPECT_THROW(r.add({.method = Verb::get, .path = "/a{b", .handler = echo("a")}), std::invalid_argument);
}

TEST(Router, ApiErrorsBecomeJsonInTheRightStyle) {
  Router r;
  r.add({.method = Verb::get,
         .path = "/openai",
         .handler = [](Context&) -> Awaitable<Response> {
           throw ApiError(429, "slow down", "rate_limit_error", "rate_limit_exceeded");
           co_return Response{};
         }});
  r.add({.method = Verb::get,
         .path = "/kserve",
         .handler = [](Context&) -> Awaitable<Response> {
           throw ApiError(400, "bad tensor");
           co_return Response{};
         },
         .error_style = ErrorStyle::kserve});
  r.add({.method = Verb::get,
         .path = "/boom",
         .handler = [](Context&) -> Awaitable<Response> {
           throw std::runtime_error("secret internals");
           co_return Response{};
         }});
  auto a = run(r, Verb::get, "/openai");
  EXPECT_EQ(a.result_int(), 429);
  EXPECT_EQ(body(a)["error"]["type"], "rate_limit_error");
  EXPECT_EQ(body(a)["error"]["code"], "rate_limit_exceeded");
  EXPECT_TRUE(body(a)["error"]["param"].is_null());
  auto k = run(r, Verb::get, "/kserve");
  EXPECT_EQ(k.result_int(), 400);
  EXPECT_EQ(body(k)["error"], "bad tensor");
  auto b = run(r, Verb::get, "/boom");
  EXPECT_EQ(b.result_int(), 500);
  EXPECT_EQ(b.body().find("secret internals"), std::string::npos);
}

TEST(Router, MiddlewareWrapsInOrderAndCanShortCircuit) {
  Router r;
  std::vector<std::string> trace;
  r.use([&](Context& ctx, const Next& next) -> Awaitable<Response> {
    trace.push_back("outer-in");
    auto res = co_await next(ctx);
    trace.push_back("outer-out " + std::to_string(res.result_int()));
    co_return res;
  });
  r.use([&](Context& ctx, const Next& next) -> Awaitable<Response> {
    trace.push_back("inner");
    if (ctx.path == "/blocked") co_return error_response(ctx, ApiError(401, "no key"));
    co_return co_await next(ctx);
  });
  r.add({.method = Verb::get, .path = "/ok", .handler = echo("ok")});
  r.add({.method = Verb::get, .path = "/blocked", .handler = echo("blocked")});
  EXPECT_EQ(run(r, Verb::get, "/ok").result_int(), 200);
  EXPECT_EQ(run(r, Verb::get, "/blocked").result_int(), 401);
  EXPECT_EQ(run(r, Verb::get, "/missing").result_int(), 404);  // 404s pass through middleware too
  EXPECT_EQ(trace, (std::vector<std::string>{"outer-in", "inner", "outer-out 200", "outer-in", "inner",
                                             "outer-out 401", "outer-in", "inner", "outer-out 404"}));
}

TEST(Router, FilteredMiddlewareWrapsOnlyTheRoutesItAppliesTo) {
  Router r;
  std::vector<std::string> trace;
  r.use([&](Context& ctx, const Next& next) -> Awaitable<Response> {
    trace.push_back("all");
    co_return co_await next(ctx);
  });
  r.use(
      [&](Context& ctx, const Next& next) -> Awaitable<Response> {
        trace.push_back("scoped");
        co_return co_await next(ctx);
      },
      [](const Route* route) { return route && !route->scope.empty(); });
  r.use([&](Context& ctx, const Next& next) -> Awaitable<Response> {
    trace.push_back("last");
    co_return co_await next(ctx);
  });
  r.add({.method = Verb::get, .path = "/public", .handler = echo("public")});
  r.add({.method = Verb::get, .path = "/private", .handler = echo("private"), .scope = "chat"});
  EXPECT_EQ(run(r, Verb::get, "/public").result_int(), 200);
  EXPECT_EQ(run(r, Verb::get, "/private").result_int(), 200);
  EXPECT_EQ(run(r, Verb::get, "/nowhere").result_int(), 404);
  EXPECT_EQ(trace, (std::vector<std::string>{"all", "last", "all", "scoped", "last", "all", "last"}));
}

TEST(Router, HooksRunOutsideMiddlewareAndSeeTheFinalResponse) {
  Router r;
  std::vector<std::string> trace;
  r.hook({.before = [&](Context&) -> std::optional<Response> {
            trace.push_back("a-before");
            return std::nullopt;
          },
          .after = [&](Context&, Response& res) { trace.push_back("a-after " + std::to_string(res.result_int())); }});
  r.use([&](Context& ctx, const Next& next) -> Awaitable<Response> {
    trace.push_back("mw");
    co_return co_await next(ctx);
  });
  r.hook({.before = [&](Context& ctx) -> std::optional<Response> {
            trace.push_back("b-before");
            if (ctx.path == "/answered") return make_response(ctx, 204, "", "text/plain");
            return std::nullopt;
          },
          .after = [&](Context&, Response& res) {
            trace.push_back("b-after " + std::to_string(res.result_int()));
            res.set("x-hooked", "yes");
          }});
  r.add({.method = Verb::get, .path = "/ok", .handler = echo("ok")});
  r.add({.method = Verb::get, .path = "/throws", .handler = [](Context&) -> Awaitable<Response> {
           throw ApiError(418, "teapot");
           co_return Response{};
         }});
  r.add({.method = Verb::get, .path = "/answered", .handler = echo("never")});

  auto ok = run(r, Verb::get, "/ok");
  EXPECT_EQ(ok["x-hooked"], "yes");
  EXPECT_EQ(run(r, Verb::get, "/throws").result_int(), 418);
  EXPECT_EQ(run(r, Verb::get, "/answered").result_int(), 204);
  EXPECT_EQ(trace, (std::vector<std::string>{"a-before", "b-before", "mw", "b-after 200", "a-after 200",
                                             "a-before", "b-before", "mw", "b-after 418", "a-after 418",
                                             "a-before", "b-before", "b-after 204", "a-after 204"}));
}

TEST(Router, SyncRoutesAreAnsweredWithoutACoroutineUnlessMiddlewareApplies) {
  Router r;
  int after = 0;
  r.hook({.after = [&](Context&, Response&) { ++after; }});
  r.use(
      [&](Context& ctx, const Next& next) -> Awaitable<Response> {
        auto res = co_await next(ctx);
        res.set("x-scoped", "1");
        co_return res;
      },
      [](const Route* route) { return route && !route->scope.empty(); });
  r.add({.method = Verb::get, .path = "/probe/{n}", .sync_handler = [](Context& ctx) {
           return make_response(ctx, 200, "n=" + std::string(ctx.param("n")), "text/plain");
         }});
  r.add({.method = Verb::get, .path = "/private", .sync_handler = [](Context& ctx) {
           return make_response(ctx, 200, "private", "text/plain");
         }, .scope = "chat"});
  r.add({.method = Verb::get, .path = "/broken", .sync_handler = [](Context&) -> Response {
           throw std::runtime_error("secret internals");
         }});
  r.add({.method = Verb::get, .path = "/async", .handler = echo("async")});

  EXPECT_TRUE(r.synchronous(r.match(Verb::get, "/probe/7")));
  EXPECT_FALSE(r.synchronous(r.match(Verb::get, "/private")));  // the middleware wraps it
  EXPECT_FALSE(r.synchronous(r.match(Verb::get, "/async")));
  EXPECT_FALSE(r.synchronous(r.match(Verb::get, "/nowhere")));

  Request req{Verb::get, "/probe/7", 11};
  Context ctx{req, "/probe/7"};
  auto res = r.dispatch_sync(ctx, r.match(Verb::get, "/probe/7"));
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "n=7");
  EXPECT_EQ(after, 1);

  Request breq{Verb::get, "/broken", 11};
  Context bctx{breq, "/broken"};
  auto broken = r.dispatch_sync(bctx, r.match(Verb::get, "/broken"));
  EXPECT_EQ(broken.result_int(), 500);
  EXPECT_EQ(broken.body().find("secret internals"), std::string::npos);
  EXPECT_EQ(after, 2);

  // Through the coroutine path the same handlers answer the same way.
  auto priv = run(r, Verb::get, "/private");
  EXPECT_EQ(priv.body(), "private");
  EXPECT_EQ(priv["x-scoped"], "1");
  EXPECT_EQ(run(r, Verb::get, "/probe/9").body(), "n=9");
  EXPECT_EQ(after, 4);

  EXPECT_THROW(r.add({.method = Verb::get, .path = "/both", .handler = echo("x"),
                      .sync_handler = [](Context& c) { return make_response(c, 200, "", "text/plain"); }}),
               std::invalid_argument);
}

TEST(Wire, HeadHasStatusLineFieldsAndBlankLine) {
  Response res{Status::ok, 11};
  res.set(Field::content_type, "application/json");
  res.set("x-request-id", "abc");
  res.body() = "{}";
  res.prepare_payload();
  std::string head;
  write_head(res, head);
  EXPECT_EQ(head, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-request-id: abc\r\nContent-Length: 2\r\n\r\n");
  std::string framing;
  auto parts = body_view(res, framing);
  ASSERT_EQ(parts.count, 1u);
  EXPECT_EQ(parts.part[0], "{}");

  Response closing{Status::too_many_requests, 10};
  closing.keep_alive(false);
  write_head(closing, head);
  EXPECT_EQ(head, "HTTP/1.0 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(body_view(closing, framing).count, 0u);
}

TEST(Wire, LengthComesFromTheBodyUnlessSetOrBodyless) {
  Response res{Status::ok, 11};
  res.body() = "hello";
  std::string head, framing;
  write_head(res, head);
  EXPECT_EQ(head, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
  // HEAD: the server clears the body and keeps the length it would have had.
  res.content_length(42);
  res.body().clear();
  write_head(res, head);
  EXPECT_EQ(head, "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n");

  Response empty{Status::no_content, 11};
  empty.body() = "ignored";
  write_head(empty, head);
  EXPECT_EQ(head, "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(body_view(empty, framing).count, 0u);
}

TEST(Wire, FramingFieldsGoInPlaceOfALength) {
  // A streamed response's head: its framing written by the caller, last.
  Response res{Status::ok, 11};
  res.set(Field::content_type, "text/event-stream");
  res.body() = "not sent with the head";
  std::string head;
  write_head(res, head, "Transfer-Encoding: chunked\r\nConnection: close\r\n");
  EXPECT_EQ(head,
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n");
}

TEST(Wire, ChunkedBodyIsFramedAsOneChunkAndTheLastChunk) {
  Response res{Status::ok, 11};
  res.chunked(true);
  res.body() = "hello, world!!!!!";  // 17 bytes: 0x11
  std::string head, framing;
  write_head(res, head);
  EXPECT_NE(head.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  auto parts = body_view(res, framing);
  std::string wire;
  for (std::size_t i = 0; i < parts.count; ++i) wire += parts.part[i];
  EXPECT_EQ(wire, "11\r\nhello, world!!!!!\r\n0\r\n\r\n");

  res.body().clear();
  parts = body_view(res, framing);
  ASSERT_EQ(parts.count, 1u);
  EXPECT_EQ(parts.part[0], "0\r\n\r\n");
}

TEST(Response, JsonBodiesNeedAJsonContentTypeOrNone) {
  auto status = [](std::string content_type, std::string body = "{}") {
    Request req{Verb::post, "/x", 11};
    if (!content_type.empty()) req.set(Field::content_type, content_type);
    req.body() = body;
    Context ctx{req, "/x"};
    try {
      check_json_body(ctx);
      return 200;
    } catch (const ApiError& e) {
      return static_cast<int>(e.status());
    }
  };
  EXPECT_EQ(status(""), 200);  // no Content-Type at all: taken as JSON
  EXPECT_EQ(status("application/json"), 200);
  EXPECT_EQ(status("Application/JSON; charset=utf-8"), 200);
  EXPECT_EQ(status("  application/json  ;charset=utf-8"), 200);
  EXPECT_EQ(status("application/vnd.api+json"), 200);  // structured syntax suffix (RFC 6839)
  EXPECT_EQ(status("application/problem+JSON; q=1"), 200);
  EXPECT_EQ(status("text/plain"), 415);
  EXPECT_EQ(status("application/jsonx"), 415);
  EXPECT_EQ(status("application/json+xml"), 415);
  EXPECT_EQ(status("+json"), 415);
  EXPECT_EQ(status("multipart/form-data; boundary=x"), 415);
  EXPECT_EQ(status("application/json", ""), 400);  // empty body
}

TEST(Message, FieldQuestionsAgreeWithBeast) {
  for (unsigned version : {10u, 11u})
    for (const char* connection : {"", "close", "keep-alive", "Keep-Alive, Upgrade", "upgrade"})
      for (const char* te : {"", "chunked", "gzip, chunked", "gzip"})
        for (bool length : {false, true}) {
          Response res{Status::ok, version};
          Request req{Verb::post, "/", version};
          if (*connection) {
            res.set("connection", connection);  // by name, any case: Beast files it under Field::connection
            req.set(Field::connection, connection);
          }
          if (*te) {
            res.set(Field::transfer_encoding, te);
            req.set("Transfer-Encoding", te);
          }
          if (length) {
            res.set("Content-length", "3");
            req.set(Field::content_length, "3");
          }
          SCOPED_TRACE(std::to_string(version) + " '" + connection + "' '" + te + "' " + std::to_string(length));
          EXPECT_EQ(keep_alive(res), res.keep_alive());
          EXPECT_EQ(keep_alive(req), req.keep_alive());
          EXPECT_EQ(chunked(res), res.chunked());
          EXPECT_EQ(chunked(req), req.chunked());
          EXPECT_EQ(has_field(res, Field::content_length), res.has_content_length());
          EXPECT_EQ(has_field(req, Field::content_length), req.has_content_length());
        }
}
