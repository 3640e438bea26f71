#pragma once
// Context: everything a handler or middleware knows about one request.
//
// The server builds one Context per request, the router fills `params` and
// `route`, middleware fills `auth` and adds `response_headers`, the handler
// reads the request and may fill `usage` (what the ledger records). A
// handler that streams (SSE) uses `stream`; see StreamSink below.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "http/message.hpp"
#include "http/query.hpp"
#include "http/websocket.hpp"

namespace osprey::http {

struct Route;

// Extra response headers. Two fit inline, so a public request (only
// x-request-id) allocates nothing for them; not more, since every open
// stream keeps its Context for minutes.
using HeaderList = boost::container::small_vector<std::pair<std::string, std::string>, 2>;

// A response sent piece by piece (Server-Sent Events). The handler calls
// begin() once with the status and headers, then write() per chunk, then
// end(), which may carry the last chunk: it then leaves in the same write as
// the end of the response. begin() holds the head: it leaves with the first
// write() or end(), one socket write for both, or on its own with flush(),
// which a handler calls before it waits for its first chunk (so the client
// learns at once that its stream is open). Each write completes when the
// bytes are handed to the kernel, so a chunk reaches the client as soon as
// it is written. write(), end() and flush() throw
// boost::system::system_error when the client has gone away.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual Awaitable<void> begin(Response head) = 0;
  virtual Awaitable<void> write(std::string_view chunk) = 0;
  virtual Awaitable<void> end(std::string_view last_chunk) = 0;
  // Sends the head begin() holds, if it is still held; else does nothing.
  virtual Awaitable<void> flush() = 0;
  virtual bool started() const = 0;
};

// Who is calling, filled in by the auth middleware (access/). An empty
// key_id means the route is public or auth is disabled.
struct Principal {
  std::string key_id;
  std::string key_name;
  std::set<std::string> scopes;
  std::vector<std::string> allowed_models;  // empty: all models
  bool has_scope(std::string_view s) const { return scopes.count(std::string(s)) > 0; }
  bool may_use_model(std::string_view m) const {
    if (allowed_models.empty()) return true;
    for (const auto& a : allowed_models)
      if (a == m) return true;
    return false;
  }
};

// What a request consumed; the handler fills it, the usage middleware records
// it in the ledger and feeds it to budgets and metrics.
struct Usage {
  std::string model;
  int images = 0;
  long prompt_tokens = 0;
  long completion_tokens = 0;
  double cost_usd = 0.0;
  bool upstream_called = false;
  std::string upstream;  // the gateway upstream that served it (config name)
};

// Set when the client closed its connection before the response was sent;
// long-running handlers (upstream calls) poll it or register a callback.
class Cancellation {
 public:
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  void cancel() {
    if (cancelled_.exchange(true)) return;
    for (auto& fn : callbacks_)
      if (fn) fn();
  }
  // Callbacks run on the connection's I/O thread, once. The handle lets a
  // callback whose target goes away first unregister itself (forget()).
  std::size_t on_cancel(std::function<void()> fn) {
    callbacks_.push_back(std::move(fn));
    return callbacks_.size() - 1;
  }
  void forget(std::size_t handle) {
    if (handle < callbacks_.size()) callbacks_[handle] = nullptr;
  }
  void clear_callbacks() { callbacks_.clear(); }

 private:
  std::atomic<bool> cancelled_{false};
  std::vector<std::function<void()>> callbacks_;
};

struct Context {
  Request& request;
  std::string_view path;  // target without the query string
  Query query;
  std::map<std::string, std::string, std::less<>> params;  // from the path template
  const Route* route = nullptr;
  std::string request_id;
  std::string remote_address;
  std::chrono::steady_clock::time_point started_at = std::chrono::steady_clock::now();
  boost::asio::any_io_executor executor;  // the connection's I/O executor

  std::optional<Principal> principal;
  Usage usage;
  // Headers every response to this request carries (rate limit headers, ...),
  // also error responses rendered after the handler threw.
  HeaderList response_headers;

  StreamSink* stream = nullptr;
  // Set only on routes with Route::websocket (see http/websocket.hpp).
  WebSocketUpgrade* websocket = nullptr;
  // Router internal: the handler (with its error rendering) that ends the
  // middleware chain for this request.
  const std::function<Awaitable<Response>(Context&)>* chain_end = nullptr;
  std::shared_ptr<Cancellation> cancellation = std::make_shared<Cancellation>();

  std::string_view param(std::string_view name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string_view{} : std::string_view(it->second);
  }
};

}  // namespace osprey::http
