// What auth + limits + the usage ledger cost per request, in process.
//
//   build-*/bench/access/osprey_bench_access [--benchmark_filter=...]
//
// Each benchmark dispatches batches of requests through http::Router on one
// io_context (like one I/O thread of the server), with `concurrency`
// requests in flight at once, and reports requests/s (items_per_second):
//
//   Bare            router + handler only
//   AuthLimits      + auth (HMAC-SHA-256 lookup) + local rate limiter
//   Full            + usage ledger (every response waits for its commit)
//   Full/NORMAL     the same with synchronous=NORMAL instead of FULL
//
// With the ledger, throughput is bounded by commits (fsync) per second times
// the batch size, so it grows with concurrency: that is group commit.

#include <benchmark/benchmark.h>

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <filesystem>
#include <random>

#include "access/access_service.hpp"
#include "access/middleware.hpp"
#include "http/response.hpp"
#include "usage/ledger.hpp"

using namespace osprey;

namespace {

enum class Mode { bare, auth_limits, full, full_normal };

struct Fixture {
  std::string dir;
  config::Config cfg;
  std::unique_ptr<usage::Ledger> ledger;
  std::unique_ptr<access::AccessService> svc;
  http::Router router;
  std::string key;

  explicit Fixture(Mode mode) {
    std::random_device rd;
    dir = (std::filesystem::temp_directory_path() / ("osprey-bench-" + std::to_string(rd()))).string();
    cfg.data_dir = dir;
    cfg.access.bootstrap_admin_key = key = "bench-admin-key-0123456789abcdef";
    usage::Ledger::Options lo;
    lo.synchronous_full = mode != Mode::full_normal;
    ledger = std::make_unique<usage::Ledger>(dir, lo);
    svc = std::make_unique<access::AccessService>(cfg, ledger.get());
    // A key with generous limits so the limiter runs but never refuses.
    access::KeySpec spec;
    spec.scopes = {"detect"};
    spec.limits.rpm = 1'000'000'000;
    spec.limits.ipm = 1'000'000'000;
    spec.limits.concurrency = 100'000;
    boost::asio::io_context ioc;
    auto created = boost::asio::co_spawn(ioc, svc->create_key(spec), boost::asio::use_future);
    ioc.run();
    key = created.get().plaintext;
    if (mode == Mode::auth_limits) {
      router.use(access::auth_middleware(*svc));
      router.use(access::limits_middleware(*svc));
    } else if (mode != Mode::bare) {
      access::install_access_middleware(router, *svc, *ledger);
    }
    router.add({.method = http::Verb::post,
                .path = "/v1/detect",
                .handler = [](http::Context& ctx) -> http::Awaitable<http::Response> {
                  ctx.usage.model = "yolov8n";
                  ctx.usage.images = 1;
                  co_return http::json_response(ctx, 200, {{"ok", true}});
                },
                .scope = "detect"});
  }
  ~Fixture() {
    svc.reset();
    ledger.reset();
    std::filesystem::remove_all(dir);
  }
};

http::Awaitable<void> worker(Fixture& f, int n) {
  for (int i = 0; i < n; ++i) {
    http::Request req{http::Verb::post, "/v1/detect", 11};
    req.set(http::Field::authorization, "Bearer " + f.key);
    http::Context ctx{req, "/v1/detect"};
    ctx.request_id = "bench";
    auto res = co_await f.router.dispatch(ctx);
    if (res.result_int() != 200) throw std::runtime_error("unexpected status " + std::to_string(res.result_int()));
  }
}

void run(benchmark::State& state, Mode mode) {
  Fixture f(mode);
  const int concurrency = static_cast<int>(state.range(0));
  const int per_worker = mode == Mode::bare || mode == Mode::auth_limits ? 2000 / concurrency + 1 : 4;
  boost::asio::io_context ioc;
  std::int64_t total = 0;
  for (auto _ : state) {
    for (int c = 0; c < concurrency; ++c) boost::asio::co_spawn(ioc, worker(f, per_worker), boost::asio::detached);
    ioc.run();
    ioc.restart();
    total += static_cast<std::int64_t>(concurrency) * per_worker;
  }
  state.SetItemsProcessed(total);
  if (mode == Mode::full || mode == Mode::full_normal)
    state.counters["records_per_commit"] =
        static_cast<double>(f.ledger->committed()) / std::max<std::uint64_t>(1, f.ledger->batches());
}

}  // namespace

BENCHMARK_CAPTURE(run, Bare, Mode::bare)->Arg(1)->Arg(64)->UseRealTime();
BENCHMARK_CAPTURE(run, AuthLimits, Mode::auth_limits)->Arg(1)->Arg(64)->UseRealTime();
BENCHMARK_CAPTURE(run, Full, Mode::full)->Arg(1)->Arg(16)->Arg(64)->Arg(256)->UseRealTime();
BENCHMARK_CAPTURE(run, FullNormal, Mode::full_normal)->Arg(1)->Arg(64)->Arg(256)->UseRealTime();

BENCHMARK_MAIN();
