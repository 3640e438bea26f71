#include "http/router.hpp"

#include <spdlog/spdlog.h>

#include <boost/container/small_vector.hpp>

#include <map>
#include <stdexcept>

#include "common/log.hpp"
#include "http/response.hpp"

namespace osprey::http {

// A trie over path segments. Each node keeps literal children, at most one
// parameter child, and the routes that end here by method.
struct Router::Node {
  std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
  std::unique_ptr<Node> param;
  std::string param_name;
  std::map<Verb, std::size_t> methods;  // index into routes_
};

namespace {

// Inline room for typical depths: matching allocates nothing per request.
using Segments = boost::container::small_vector<std::string_view, 8>;

Segments segments(std::string_view path) {
  Segments out;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    if (i >= path.size()) break;
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool is_param(std::string_view seg) { return seg.size() > 2 && seg.front() == '{' && seg.back() == '}'; }

}  // namespace

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;

void Router::add(Route route) {
  if (route.path.empty() || route.path.front() != '/')
    throw std::invalid_argument("route path must start with '/': " + route.path);
  if (!route.handler && !route.sync_handler) throw std::invalid_argument("route without handler: " + route.path);
  if (route.handler && route.sync_handler)
    throw std::invalid_argument("route with both handler and sync_handler: " + route.path);
  if (route.sync_handler)  // the coroutine path (when middleware applies) calls it too
    route.handler = [sync = route.sync_handler](Context& c) -> Awaitable<Response> { co_return sync(c); };
  Node* node = root_.get();
  for (auto seg : segments(route.path)) {
    if (is_param(seg)) {
      std::string name(seg.substr(1, seg.size() - 2));
      if (!node->param) {
        node->param = std::make_unique<Node>();
        node->param_name = name;
      } else if (node->param_name != name) {
        throw std::invalid_argument("conflicting parameter names at " + route.path);
      }
      node = node->param.get();
    } else {
      if (seg.find_first_of("{}") != std::string_view::npos)
        throw std::invalid_argument("malformed path segment in " + route.path);
      auto& child = node->literals[std::string(seg)];
      if (!child) child = std::make_unique<Node>();
      node = child.get();
    }
  }
  if (route.path.find('{') == std::string::npos) exact_.emplace(route.path, node);
  if (node->methods.count(route.method))
    throw std::invalid_argument("duplicate route " + std::string(to_string(route.method)) + " " + route.path);
  node->methods[route.method] = routes_.size();
  routes_.push_back(std::move(route));
}

void Router::use(Middleware mw, RouteFilter applies) {
  layers_.push_back({std::move(mw), applies});
  while (nexts_.size() < layers_.size() + 1) {
    std::size_t i = nexts_.size();
    nexts_.push_back(std::make_unique<Next>([this, i](Context& c) { return run(c, i); }));
  }
}

void Router::hook(Hook h) { hooks_.push_back(std::move(h)); }

Match Router::match(Verb method, std::string_view path) const {
  Match m;
  const Node* found = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  if (auto it = exact_.find(path); it != exact_.end()) {
    found = it->second;
  } else if (!(found = walk(path, params))) {
    return m;
  }
  auto it = found->methods.find(method);
  if (it == found->methods.end() && method == Verb::head) it = found->methods.find(Verb::get);
  if (it == found->methods.end()) {
    for (const auto& [verb, idx] : found->methods) {
      if (!m.allow.empty()) m.allow += ", ";
      m.allow += std::string(to_string(verb));
    }
    return m;
  }
  m.route = &routes_[it->second];
  m.params = std::move(params);
  return m;
}

const Router::Node* Router::walk(std::string_view path, std::vector<std::pair<std::string, std::string>>& params) const {
  auto segs = segments(path);
  // Depth-first with backtracking so that a literal that leads nowhere still
  // lets a parameter at the same depth match.
  const Node* found = nullptr;
  auto descend = [&](auto&& self, const Node* node, std::size_t i) -> bool {
    if (i == segs.size()) {
      if (node->methods.empty()) return false;
      found = node;
      return true;
    }
    if (auto it = node->literals.find(segs[i]); it != node->literals.end())
      if (self(self, it->second.get(), i + 1)) return true;
    if (node->param) {
      params.emplace_back(node->param_name, std::string(segs[i]));
      if (self(self, node->param.get(), i + 1)) return true;
      params.pop_back();
    }
    return false;
  };
  return descend(descend, root_.get(), 0) ? found : nullptr;
}

Awaitable<Response> Router::run(Context& ctx, std::size_t index) const {
  while (index < layers_.size() && layers_[index].applies && !layers_[index].applies(ctx.route)) ++index;
  if (index == layers_.size()) return (*ctx.chain_end)(ctx);
  return layers_[index].mw(ctx, *nexts_[index + 1]);
}

namespace {

Response render_exception(const Context& ctx, std::exception_ptr ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const ApiError& e) {
    return error_response(ctx, e);
  } catch (const std::exception& e) {
    spdlog::error("request {} {} failed: {}", ctx.request_id, std::string(ctx.path), e.what());
    return error_response(ctx, server_error("internal server error (request id " + ctx.request_id + ")"));
  } catch (...) {
    spdlog::error("request {} {} failed with an unknown exception", ctx.request_id, std::string(ctx.path));
    return error_response(ctx, server_error("internal server error (request id " + ctx.request_id + ")"));
  }
}

}  // namespace

Awaitable<Response> Router::dispatch(Context& ctx) const { return dispatch(ctx, match(ctx.request.method(), ctx.path)); }

std::optional<Response> Router::enter(Context& ctx, Match& m) const {
  if (m.route) {
    ctx.route = m.route;
    for (auto& [k, v] : m.params) ctx.params.emplace(std::move(k), std::move(v));
  }
  for (const auto& h : hooks_)
    if (h.before)
      if (auto res = h.before(ctx)) return res;
  return std::nullopt;
}

void Router::leave(Context& ctx, Response& res) const {
  for (auto it = hooks_.rbegin(); it != hooks_.rend(); ++it)
    if (it->after) it->after(ctx, res);
}

bool Router::synchronous(const Match& m) const {
  if (!m.route || !m.route->sync_handler) return false;
  for (const auto& layer : layers_)
    if (!layer.applies || layer.applies(m.route)) return false;
  return true;
}

Response Router::dispatch_sync(Context& ctx, Match m) const {
  Response res;  // returned in place: a message costs a few pointer fixes per move
  try {
    if (auto early = enter(ctx, m))
      res = std::move(*early);
    else
      res = m.route->sync_handler(ctx);
  } catch (...) {
    res = render_exception(ctx, std::current_exception());
  }
  try {
    leave(ctx, res);
  } catch (...) {
    res = render_exception(ctx, std::current_exception());
  }
  return res;
}

Awaitable<Response> Router::dispatch(Context& ctx, Match m) const {
  Handler terminal;
  if (m.route) {
    // Handler exceptions become responses here, inside the chain, so that
    // middleware (the ledger) sees the real status.
    terminal = [route = m.route](Context& c) -> Awaitable<Response> {
      std::exception_ptr ep;
      try {
        co_return co_await route->handler(c);
      } catch (...) {
        ep = std::current_exception();
      }
      co_return render_exception(c, ep);
    };
  } else if (!m.allow.empty()) {
    terminal = [allow = m.allow](Context& c) -> Awaitable<Response> {
      ApiError err(405, "method " + std::string(to_string(c.request.method())) + " not allowed on " +
                            std::string(c.path) + " (allowed: " + allow + ")",
                   "invalid_request_error", "method_not_allowed");
      err.headers.emplace_back("Allow", allow);
      co_return error_response(c, err);
    };
  } else {
    terminal = [](Context& c) -> Awaitable<Response> {
      co_return error_response(c, ApiError(404, "no route for " + std::string(c.path), "invalid_request_error",
                                           "route_not_found"));
    };
  }
  ctx.chain_end = &terminal;
  std::optional<Response> res;
  std::exception_ptr ep;
  try {
    res = enter(ctx, m);
    if (!res) res = co_await run(ctx, 0);
  } catch (...) {
    ep = std::current_exception();
  }
  if (ep) res = render_exception(ctx, ep);
  try {
    leave(ctx, *res);
  } catch (...) {
    res = render_exception(ctx, std::current_exception());
  }
  co_return std::move(*res);
}

}  // namespace osprey::http
