#include "gateway/upstreams.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "metrics/registry.hpp"

namespace osprey::gateway {

namespace {

long long steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

metrics::Counter& served_total(const std::string& upstream, const char* outcome) {
  return metrics::Registry::global().counter("osprey_upstream_served_total",
                                             "Gateway calls by the upstream that took them and how they ended",
                                             {{"upstream", upstream}, {"outcome", outcome}});
}

metrics::Gauge& cooling_gauge(const std::string& upstream) {
  return metrics::Registry::global().gauge("osprey_upstream_cooling", "1 while the upstream cools down after a failure",
                                           {{"upstream", upstream}});
}

}  // namespace

bool model_matches(std::string_view p, std::string_view m) {
  // Iterative glob with one backtrack point: linear enough for short names.
  std::size_t pi = 0, mi = 0, star = std::string_view::npos, mark = 0;
  while (mi < m.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = mi;
    } else if (pi < p.size() && p[pi] == m[mi]) {
      ++pi;
      ++mi;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      mi = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

bool Upstream::serves(std::string_view model) const {
  if (models.empty()) return true;
  return std::any_of(models.begin(), models.end(), [&](const std::string& p) { return model_matches(p, model); });
}

bool Upstream::cooling() const { return cooling_until_ms.load(std::memory_order_relaxed) > steady_ms(); }

std::shared_ptr<Upstreams> Upstreams::single(std::shared_ptr<Gateway> gw) {
  auto ups = std::make_shared<Upstreams>(std::chrono::milliseconds(gw->config().cooldown_ms));
  ups->add(std::move(gw), {}, 1);
  return ups;
}

void Upstreams::add(std::shared_ptr<Gateway> gw, std::vector<std::string> models, int weight, int priority) {
  auto u = std::make_unique<Upstream>();
  u->gateway = std::move(gw);
  u->models = std::move(models);
  u->weight = std::max(1, weight);
  u->priority = priority;
  cooling_gauge(u->name()).set(0);
  list_.push_back(std::move(u));
}

std::vector<Upstream*> Upstreams::route(std::string_view model) {
  std::vector<Upstream*> ready, cooling;
  for (auto& u : list_) {
    if (!u->serves(model)) continue;
    (u->cooling() ? cooling : ready).push_back(u.get());
  }
  std::stable_sort(ready.begin(), ready.end(), [](const Upstream* a, const Upstream* b) { return a->priority < b->priority; });
  // Those sharing the first priority: a weighted draw of the first one; the
  // rest keep their configured order.
  std::size_t group = 0;
  while (group < ready.size() && ready[group]->priority == ready.front()->priority) ++group;
  if (group > 1) {
    // A counter-seeded generator per thread: cheap, and no lock.
    thread_local std::minstd_rand rng(std::random_device{}() ^ draw_.fetch_add(1, std::memory_order_relaxed));
    long total = 0;
    for (std::size_t i = 0; i < group; ++i) total += ready[i]->weight;
    long pick = std::uniform_int_distribution<long>(0, total - 1)(rng);
    std::size_t first = 0;
    while (first + 1 < group && (pick -= ready[first]->weight) >= 0) ++first;
    std::rotate(ready.begin(), ready.begin() + static_cast<long>(first), ready.begin() + static_cast<long>(first) + 1);
  }
  // Cooling ones last, the one that recovers first first.
  std::sort(cooling.begin(), cooling.end(), [](const Upstream* a, const Upstream* b) {
    return a->cooling_until_ms.load() < b->cooling_until_ms.load();
  });
  ready.insert(ready.end(), cooling.begin(), cooling.end());
  return ready;
}

bool Upstreams::worth_falling_back(const ApiError& e) {
  const int s = e.status();
  return s == 429 || s == 401 || s == 403 || (s >= 500 && s <= 599);
}

void Upstreams::cool_down(Upstream& u) {
  if (cooldown_.count() <= 0) return;
  u.cooling_until_ms.store(steady_ms() + cooldown_.count(), std::memory_order_relaxed);
  cooling_gauge(u.name()).set(1);
}

void Upstreams::drop_idle_connections() {
  for (auto& u : list_) u->gateway->drop_idle_connections();
}

http::Awaitable<Upstream*> Upstreams::call(std::string_view model_view, std::shared_ptr<http::Cancellation> cancel,
                                          std::function<http::Awaitable<void>(Gateway&)> attempt) {
  const std::string model(model_view);  // the caller's view may not outlive a suspension
  auto order = route(model);
  if (order.empty())
    throw ApiError(404, "The model `" + model + "` does not exist or no configured upstream serves it",
                   "invalid_request_error", "model_not_found", "model");
  for (std::size_t i = 0;; ++i) {
    Upstream& u = *order[i];
    const bool last = i + 1 == order.size();
    std::optional<ApiError> failed;
    try {
      co_await attempt(*u.gateway);
    } catch (const ApiError& e) {
      if (e.status() == 499 || (cancel && cancel->cancelled())) {
        served_total(u.name(), "cancelled").inc();
        throw;
      }
      if (!worth_falling_back(e)) {
        served_total(u.name(), "client_error").inc();
        throw;
      }
      // Our own 503 for a missing key is this upstream's problem too.
      failed = e;
    }
    if (!failed) {
      if (u.cooling_until_ms.load(std::memory_order_relaxed) != 0) {
        u.cooling_until_ms.store(0, std::memory_order_relaxed);
        cooling_gauge(u.name()).set(0);
      }
      served_total(u.name(), "ok").inc();
      co_return &u;
    }
    served_total(u.name(), "failed").inc();
    cool_down(u);
    if (last) throw *failed;
    metrics::Registry::global()
        .counter("osprey_upstream_fallbacks_total", "Calls moved to another upstream after this one failed",
                 {{"upstream", u.name()}})
        .inc();
    spdlog::warn("upstream {} failed for model {} ({} {}); trying {}", u.name(), model, failed->status(), failed->what(),
                 order[i + 1]->name());
  }
}

}  // namespace osprey::gateway
