#pragma once
// The subcommands other than `serve`: `detect` (offline detection), `keys`
// (client API keys) and `secrets` (encrypted config values).

namespace CLI {
class App;
}

namespace osprey::cli {

void add_commands(CLI::App& app);

}  // namespace osprey::cli
