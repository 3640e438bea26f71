#pragma once
// The gateway's upstreams built from the config: the [[upstreams]] entries,
// or the single `gateway.*` one (named "openai", serving every model).
//
//   std::shared_ptr<gateway::Upstreams> ups = cli::make_upstreams(cfg);
//
// Each upstream gets a key loader that reads its keys again from their
// source (gateway.key_refresh_ms): OPENAI_API_KEY / NAME / NAME_FILE / .env
// (resolved afresh each time, so an edited .env or a replaced mounted
// secret counts), or its api_key_file. A source that cannot be read at
// start leaves the upstream keyless (503 upstream_not_configured) until it
// can; literal keys in the config file change only with the config (reload).

#include <memory>

#include "config/config.hpp"
#include "gateway/upstreams.hpp"

namespace osprey::cli {

std::shared_ptr<gateway::Upstreams> make_upstreams(const config::Config& cfg);

}  // namespace osprey::cli
