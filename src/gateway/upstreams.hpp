#pragma once
// Upstreams: the OpenAI-compatible servers the gateway routes to, chosen by
// model name, with fallback and cooldown. Each upstream is a Gateway (its
// own keys, pool and retries).
//
//   Upstreams ups(cooldown);
//   ups.add(gateway, {"gpt-4o*", "gpt-4.1*"}, /*weight=*/1, /*priority=*/0);
//   ups.add(ollama, {"llama3*", "qwen*"}, 1, 0);
//   const Upstream& served_by = co_await ups.call(model, cancel, [&](Gateway& gw) -> Awaitable<void> {
//     reply = co_await gw.request_json(Verb::post, "/chat/completions", body, cancel);
//   });
//
// Routing: the upstreams whose `models` match the name (glob patterns, '*'
// for any run of characters; an empty list matches every model) are tried
// in turn: lower `priority` first (a backup has a higher number), and
// within the first priority the first one is drawn by weight (so two
// upstreams serving one model share its load). Upstreams cooling down come
// last, so a model whose every upstream failed recently is still tried.
//
// Fallback: when a call fails with a status worth trying elsewhere (429,
// any 5xx, unreachable, timeout, and 401/403 from the upstream: its key is
// wrong, another upstream's may not be) after that upstream's own retries,
// the upstream cools down for `cooldown` and the next one is tried. Client
// errors (400, 404, ...) and a client gone (499) are answered at once. The
// caller makes sure nothing was sent to its client before it throws (a
// stream that began is never moved to another upstream).
//
// No upstream serves the model: ApiError 404 model_not_found, as OpenAI
// answers for an unknown model.
//
// Metrics: osprey_upstream_served_total{upstream,outcome},
// osprey_upstream_fallbacks_total{upstream} (the one that failed) and
// osprey_upstream_cooling{upstream} (1 while it cools down).

#include <utility>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/gateway.hpp"

namespace osprey::gateway {

// '*' matches any run of characters (none included); everything else itself.
bool model_matches(std::string_view pattern, std::string_view model);

struct Upstream {
  std::shared_ptr<Gateway> gateway;
  std::vector<std::string> models;  // patterns; empty: every model
  int weight = 1;
  int priority = 0;  // lower is tried first
  std::atomic<long long> cooling_until_ms{0};  // steady clock

  const std::string& name() const { return gateway->name(); }
  bool serves(std::string_view model) const;
  bool cooling() const;
};

class Upstreams {
 public:
  explicit Upstreams(std::chrono::milliseconds cooldown) : cooldown_(cooldown) {}
  // One upstream serving every model (the single-upstream configuration).
  static std::shared_ptr<Upstreams> single(std::shared_ptr<Gateway> gw);

  void add(std::shared_ptr<Gateway> gw, std::vector<std::string> models, int weight, int priority = 0);

  const std::vector<std::unique_ptr<Upstream>>& all() const { return list_; }
  // The upstreams to try for `model`, in order (empty: none serves it).
  std::vector<Upstream*> route(std::string_view model);

  // Runs `attempt` on the upstreams serving `model` until one succeeds
  // (see above); returns that one. Throws the last upstream's ApiError.
  http::Awaitable<Upstream*> call(std::string_view model, std::shared_ptr<http::Cancellation> cancel,
                                  std::function<http::Awaitable<void>(Gateway&)> attempt);

  // Whether an error from one upstream is worth trying on the next.
  static bool worth_falling_back(const ApiError& e);
  void cool_down(Upstream& u);

  // Closes every upstream's idle pooled connections (Gateway::drop_idle_connections).
  void drop_idle_connections();

 private:
  std::chrono::milliseconds cooldown_;
  std::vector<std::unique_ptr<Upstream>> list_;
  std::atomic<unsigned> draw_{0};
};

}  // namespace osprey::gateway
