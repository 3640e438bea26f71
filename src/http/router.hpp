#pragma once
// Router: matches (method, path) against the route table and runs the
// middleware chain around the matched handler.
//
//   Router r;
//   r.use(request_id_middleware());      // outermost first
//   r.use(auth_middleware(), [](const Route* r) { return r && !r->scope.empty(); });
//   r.add(Route{...});
//   Response res = co_await r.dispatch(ctx);  // never throws
//
// Hooks run around every request without wrapping it (request id, CORS,
// access log, metrics): `before` in the order added, `after` in reverse, on
// the final response, also one rendered from an exception. They cost no
// coroutine frame, and a route with a synchronous handler that no middleware
// applies to is answered with no coroutine at all (dispatch_sync):
//
//   r.hook({.before = [](Context& c) -> std::optional<Response> { ...; return {}; },
//           .after = [](Context& c, Response& res) { ... }});
//   r.add({.method = Verb::get, .path = "/healthz", .sync_handler = [](Context& c) { ... }});
//   if (r.synchronous(m)) res = r.dispatch_sync(ctx, std::move(m));
//
// Matching is by path segments: a literal matches itself, `{name}` matches
// any one non-empty segment and is stored in ctx.params. Literals win over
// parameters at each segment. An unknown path gives 404, a known path with
// another method gives 405 with an `Allow` header; both are JSON errors and
// both still pass through the middleware chain (so they are logged and
// counted). HEAD is served by the GET route when no HEAD route exists.
//
// The route table is immutable once serving starts; to change it (reload),
// build a new Router and swap the shared_ptr the server holds.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/route.hpp"

namespace osprey::http {

// Middleware: wraps the rest of the chain. Call `next(ctx)` to continue, or
// return a response without calling it to short-circuit.
using Next = std::function<Awaitable<Response>(Context&)>;
using Middleware = std::function<Awaitable<Response>(Context&, const Next&)>;
// Which requests a middleware wraps, by their matched route (nullptr: no
// route matched, a 404 or 405). Skipping a middleware that has nothing to do
// for a route (auth on a health probe) saves a coroutine frame per request.
using RouteFilter = bool (*)(const Route* route);

struct Hook {
  // May answer the request itself (a CORS preflight): the middleware chain
  // and handler are skipped, the after hooks still run.
  std::function<std::optional<Response>(Context&)> before;
  std::function<void(Context&, Response&)> after;
};

struct Match {
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  std::string allow;  // non-empty when the path matched but the method did not
};

class Router {
 public:
  Router();
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Throws std::invalid_argument on a malformed template or a duplicate.
  void add(Route route);
  // `applies` empty: the middleware wraps every request.
  void use(Middleware mw, RouteFilter applies = nullptr);
  // Hooks run outside every middleware, whenever they were added.
  void hook(Hook h);

  // Finds the route for a request; pure, used by dispatch and by the server
  // to learn the per-route body limit before reading the body.
  Match match(Verb method, std::string_view path) const;

  // Runs middleware + handler. Exceptions are turned into JSON errors here.
  Awaitable<Response> dispatch(Context& ctx) const;
  // The same, for a request the caller has already matched (the server
  // matches once to learn the body limit; this saves matching twice).
  Awaitable<Response> dispatch(Context& ctx, Match m) const;
  // Whether dispatch_sync can answer this match: the route has a
  // sync_handler and no middleware applies to it.
  bool synchronous(const Match& m) const;
  // The same as dispatch, without a coroutine; only when synchronous(m).
  Response dispatch_sync(Context& ctx, Match m) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Node;
  std::unique_ptr<Node> root_;
  // Paths without parameters, spelled as registered: most requests match
  // one with a single hash lookup instead of a walk down the trie.
  struct PathHash {
    using is_transparent = void;  // find() by string_view, without a copy
    std::size_t operator()(std::string_view p) const { return std::hash<std::string_view>()(p); }
  };
  std::unordered_map<std::string, const Node*, PathHash, std::equal_to<>> exact_;
  std::vector<Route> routes_;  // stable: reserved up front, see add()
  struct Layer {
    Middleware mw;
    RouteFilter applies;
  };
  std::vector<Layer> layers_;
  std::vector<Hook> hooks_;
  // nexts_[i] continues the chain at layer i (built by use(); boxed so a
  // running middleware's reference to one stays valid).
  std::vector<std::unique_ptr<Next>> nexts_;
  // Not a coroutine: it only picks the next layer and returns its awaitable.
  Awaitable<Response> run(Context& ctx, std::size_t index) const;
  // The trie node for `path`, filling `params`; nullptr when none matches.
  const Node* walk(std::string_view path, std::vector<std::pair<std::string, std::string>>& params) const;
  // Binds the matched route to ctx; returns a before hook's answer, if any.
  std::optional<Response> enter(Context& ctx, Match& m) const;
  void leave(Context& ctx, Response& res) const;
};

}  // namespace osprey::http
