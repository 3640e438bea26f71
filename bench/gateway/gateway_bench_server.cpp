// gateway_bench_server: Osprey's HTTP server with only the gateway routes,
// for bench/gateway/run.sh when the full binary is not available. Same
// server, router, middleware and gateway code as `osprey serve`, minus the
// other areas (auth, ledger, detection).
//
//   OPENAI_BASE_URL=http://127.0.0.1:18090/v1 OPENAI_API_KEY=sk-x  (then:)
//     gateway_bench_server --port 0 --threads 1
// prints "listening on http://127.0.0.1:PORT" on stderr; SIGTERM stops it.

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "api/chat_routes.hpp"
#include "common/log.hpp"
#include "gateway/gateway.hpp"
#include "http/router.hpp"
#include "server/middleware.hpp"
#include "server/server.hpp"

int main(int argc, char** argv) {
  using namespace osprey;
  config::ServerConfig scfg;
  scfg.port = 0;
  scfg.threads = 1;
  scfg.access_log = false;
  // Accepts (and ignores the rest of) an `osprey serve ...` command line, so
  // tests written for the real binary can run against this one too.
  for (int i = 1; i + 1 < argc; ++i) {
    std::string a = argv[i];
    if (a == "--port") scfg.port = std::atoi(argv[i + 1]);
    else if (a == "--threads") scfg.threads = std::atoi(argv[i + 1]);
    else if (a == "--busy-poll-us") scfg.busy_poll_us = std::atoi(argv[i + 1]);
  }
  log::init(std::getenv("OSPREY_LOG_LEVEL") ? std::getenv("OSPREY_LOG_LEVEL") : "info");
  config::GatewayConfig gcfg;
  if (const char* u = std::getenv("OPENAI_BASE_URL")) gcfg.base_url = u;
  if (const char* k = std::getenv("OPENAI_API_KEY")) gcfg.api_keys = {k};
  if (const char* ca = std::getenv("OSPREY_UPSTREAM_CA_FILE")) gcfg.ca_file = ca;
  if (const char* b = std::getenv("OSPREY_UPSTREAM_RETRY_BASE_MS")) gcfg.retry_base_ms = std::atoi(b);
  gcfg.pool_size = 256;

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // threads started below inherit the mask

  gateway::Gateway gw(gcfg);
  auto router = std::make_shared<http::Router>();
  router->hook(server::core_hook(scfg));
  api::add_chat_routes(*router, gw);
  server::Server srv(scfg, router);
  srv.start();
  std::cerr << "listening on http://127.0.0.1:" << srv.port() << std::endl;
  int sig = 0;
  sigwait(&set, &sig);
  srv.shutdown();
  srv.wait();
  gw.drop_idle_connections();  // while the server's io_contexts still exist
  return 0;
}
