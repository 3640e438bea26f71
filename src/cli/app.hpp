#pragma once
// The `osprey serve` process: builds every service from the Config, wires the
// routes and middleware into a Router, runs the Server until SIGTERM/SIGINT,
// and applies config/model changes on SIGHUP or, with --reload, when the
// config file or the model repository changes.

#include "config/loader.hpp"

namespace osprey::cli {

// Returns the process exit code.
int run_serve(const config::Loader& loader);

}  // namespace osprey::cli
