#pragma once
// The `osprey serve` process: builds every service from the Config, wires the
// routes and middleware into a Router, runs the Server until SIGTERM/SIGINT,
// and applies config/model changes on SIGHUP or, with --reload, when the
// config file or the model repository changes.

#include "config/loader.hpp"

namespace osprey::cli {

// Returns the process exit code. `allocator` names the process's malloc, for
// the startup log.
int run_serve(const config::Loader& loader, const char* allocator = "the C library's malloc");

}  // namespace osprey::cli
