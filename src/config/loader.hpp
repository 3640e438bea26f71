#pragma once
// Loader: builds a Config from defaults, a TOML file, the environment (with
// a .env file underneath it) and command-line flags, in that order of
// precedence (later wins).
//
//   CLI::App app;
//   auto* serve = app.add_subcommand("serve");
//   config::Loader loader;
//   loader.add_options(*serve);          // --host, --port, ... with help text
//   CLI11_PARSE(app, argc, argv);
//   config::Config cfg = loader.resolve(); // throws ConfigError naming the key
//
// resolve() reads the process environment through `getenv` unless an
// environment map was supplied with set_environment() (tests).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/settings.hpp"

namespace CLI {
class App;
}

namespace osprey::config {


class Loader {
 public:
  Loader();
  ~Loader();

  // Adds one flag per setting to `app`, and --config / --env-file.
  void add_options(CLI::App& app);

  // For tests: use this map instead of the process environment.
  void set_environment(std::map<std::string, std::string> env) { env_ = std::move(env); }
  // For tests and programmatic use: set a flag value as if given on the command line.
  void set_flag(const std::string& flag, const std::string& value) { flags_[flag] = value; }

  Config resolve() const;

  // The settings table, for documentation (`osprey config --list`).
  static const std::vector<Setting>& settings();

 private:
  std::optional<std::string> getenv(const std::string& name) const;
  std::optional<std::map<std::string, std::string>> env_;
  std::map<std::string, std::string> flags_;  // flag -> raw value (set_flag / CLI11)
  // CLI11 writes parsed flag values here; resolve() reads the ones given.
  std::map<std::string, std::string> cli_values_;
  CLI::App* app_ = nullptr;
};

}  // namespace osprey::config
