#include "cli/commands.hpp"

#include <CLI/CLI.hpp>

namespace osprey::cli {

void add_commands(CLI::App& app) {
  (void)app;
}

}  // namespace osprey::cli
