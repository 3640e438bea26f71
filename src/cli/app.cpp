#include "cli/app.hpp"

#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include "api/core_routes.hpp"
#include "cli/reload.hpp"
#include "cli/services.hpp"
#include "common/log.hpp"
#include "metrics/registry.hpp"
#include "server/middleware.hpp"
#include "server/server.hpp"

namespace osprey::cli {

namespace fs = std::filesystem;

int run_serve(const config::Loader& loader, const char* allocator) {
  config::Config cfg;
  try {
    cfg = loader.resolve();
  } catch (const config::ConfigError& e) {
    std::cerr << "osprey: configuration error: " << log::redact(e.what()) << "\n";
    return 2;
  }
  try {
    log::init(cfg.log_level, cfg.log_file);
  } catch (const std::exception& e) {
    std::cerr << "osprey: " << e.what() << "\n";
    return 2;
  }
  // --reload: the watcher's starting state is taken now, and the config read
  // once more after it, so that an edit made at any moment during startup is
  // either in the config read below or reported later, never lost.
  std::unique_ptr<Watcher> watcher;
  if (cfg.reload) {
    watcher = std::make_unique<Watcher>(cfg.config_file, cfg.env_file, cfg.inference.models_dir);
    try {
      cfg = loader.resolve();
      log::set_level(cfg.log_level);
    } catch (const config::ConfigError& e) {
      spdlog::critical("configuration error: {}", log::redact(e.what()));
      log::flush();
      return 2;
    }
  }
  std::error_code fs_ec;
  fs::create_directories(cfg.data_dir, fs_ec);
  if (fs_ec) {
    spdlog::error("cannot create data dir {}: {}", cfg.data_dir, fs_ec.message());
    return 2;
  }

  api::ServerState state;
  std::unique_ptr<Services> services;
  try {
    services = std::make_unique<Services>(cfg);
  } catch (const std::exception& e) {
    spdlog::critical("startup failed: {}", log::redact(e.what()));
    log::flush();
    return 1;
  }

  server::Server srv(cfg.server, services->build_router(cfg, state));
  try {
    srv.start();
  } catch (const std::exception& e) {
    spdlog::critical("cannot listen on {}:{}: {}", cfg.server.host, cfg.server.port, e.what());
    log::flush();
    return 1;
  }
  spdlog::info("listening on http://{}:{} ({} I/O threads, {}, allocator {})", cfg.server.host, srv.port(),
               cfg.server.threads > 0 ? cfg.server.threads : server::usable_cores(),
               cfg.server.busy_poll_us > 0 ? fmt::format("adaptive busy polling up to {} us", cfg.server.busy_poll_us)
                                           : std::string("busy polling off"),
               allocator);
  auto& open_conns = metrics::Registry::global().gauge("osprey_open_connections", "Open client connections");
  auto& in_flight = metrics::Registry::global().gauge("osprey_requests_in_flight", "Requests being handled");

  // Slow startup work (loading models) happens after listening so that
  // liveness answers at once; readiness turns 200 when it is done.
  try {
    services->start(cfg);
  } catch (const std::exception& e) {
    spdlog::critical("startup failed: {}", log::redact(e.what()));
    srv.shutdown();
    srv.wait();
    return 1;
  }
  state.ready = true;
  spdlog::info("ready");

  // Reconfiguration: SIGHUP, or --reload watching files. Both go through
  // apply(), which swaps in a new router only if the new config is valid.
  std::mutex reload_mu;
  auto apply = [&](const char* why) {
    std::lock_guard lock(reload_mu);
    config::Config next;
    try {
      next = loader.resolve();
    } catch (const config::ConfigError& e) {
      spdlog::error("reload ({}) rejected, keeping the running configuration: {}", why, log::redact(e.what()));
      return;
    }
    try {
      if (next.log_level != cfg.log_level) log::set_level(next.log_level);
      services->reconfigure(next);
      srv.set_router(services->build_router(next, state));
      cfg = next;
      spdlog::info("reload ({}) applied", why);
    } catch (const std::exception& e) {
      spdlog::error("reload ({}) failed, keeping the running configuration: {}", why, log::redact(e.what()));
    }
  };

  if (watcher) {
    watcher->start([&](Watcher::Change change) {
      if (change.config) apply("config file changed");
      if (change.models) services->sync_models();
    });
    spdlog::info("reload: watching {}{}", cfg.inference.models_dir,
                 cfg.config_file.empty() ? "" : " and " + cfg.config_file);
  }

  boost::asio::io_context sig_ioc;
  boost::asio::signal_set signals(sig_ioc, SIGINT, SIGTERM, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          apply("SIGHUP");
          signals.async_wait(on_signal);
          return;
        }
        spdlog::info("received {}, draining", sig == SIGINT ? "SIGINT" : "SIGTERM");
        state.draining = true;
        if (watcher) watcher->stop();
        srv.shutdown();
        services->begin_drain();
      };
  signals.async_wait(on_signal);
  std::thread sig_thread([&] { sig_ioc.run(); });

  std::thread gauges([&] {
    while (!state.draining) {
      open_conns.set(static_cast<double>(srv.open_connections()));
      in_flight.set(static_cast<double>(srv.in_flight()));
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });

  srv.wait();
  sig_ioc.stop();
  sig_thread.join();
  state.draining = true;
  gauges.join();
  watcher.reset();
  services->stop();
  spdlog::info("stopped");
  log::flush();
  return 0;
}

}  // namespace osprey::cli
