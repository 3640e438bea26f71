#pragma once
// `osprey keys ...`: client API keys from the command line, working on the
// same data_dir/keys.db (and pepper) as the server, also while it runs:
// the server picks changes up within about a second.
//
//   osprey keys create --scopes detect,chat [--models a,b] [--rpm N] [--tpm N]
//                      [--ipm N] [--concurrency N] [--tokens-per-day N]
//                      [--usd-per-month X] [--name LABEL] [--data-dir D]
//                      [--expires-in 30d | --expires-at 2027-01-31T00:00:00Z]
//       prints the new key ALONE on stdout (one line, for scripts:
//       KEY=$(osprey keys create ...)); id and details go to stderr.
//       --expires-in takes s/m/h/d (3600s, 90m, 12h, 30d); --expires-at
//       unix seconds or ISO-8601 UTC. Default: never expires.
//   osprey keys list [--json]            table (or JSON) of every key
//   osprey keys show ID [--json]         one key
//   osprey keys revoke ID                revoke; exit 1 if unknown
//   osprey keys rotate ID [--grace 24h]  new key (new id) with the same
//       settings, printed alone on stdout like create; the old key keeps
//       working for the grace (0 = revoke it now), as stderr says. Exit 1
//       if the key is unknown, revoked, expired or already rotated.
//
// Every run_* returns the process exit code: 0 ok, 1 failure (message on
// `err`), 2 bad arguments.

#include <functional>
#include <iosfwd>
#include <string>

#include "config/config.hpp"

namespace CLI {
class App;
}

namespace osprey::api {

struct KeysCreateArgs {
  std::string name;
  std::string scopes = "detect";  // comma-separated
  std::string models;             // comma-separated; empty = all
  std::int64_t rpm = 0, tpm = 0, ipm = 0, concurrency = 0, tokens_per_day = 0;
  double usd_per_month = 0;
  std::string expires_in;  // duration ("30d"); empty = no expiry
  std::string expires_at;  // unix seconds or ISO-8601 UTC; empty = no expiry
};

// `cfg` supplies data_dir and access.pepper (and bootstrap nothing).
int run_keys_create(const config::Config& cfg, const KeysCreateArgs& args, std::ostream& out, std::ostream& err);
int run_keys_list(const config::Config& cfg, bool json, std::ostream& out, std::ostream& err);
int run_keys_show(const config::Config& cfg, const std::string& id, bool json, std::ostream& out,
                  std::ostream& err);
int run_keys_revoke(const config::Config& cfg, const std::string& id, std::ostream& out, std::ostream& err);
// `grace`: a duration as for --expires-in, "0" to revoke the old key now.
int run_keys_rotate(const config::Config& cfg, const std::string& id, const std::string& grace, std::ostream& out,
                    std::ostream& err);

// Adds the `keys` subcommand tree to `app`. `load_config` is called when a
// keys subcommand runs and returns the resolved config (file, env, .env);
// a --data-dir given to `keys` overrides its data_dir. The subcommand's
// callback stores the exit code in `*exit_code`.
void add_keys_command(CLI::App& app, std::function<config::Config()> load_config, int* exit_code);

}  // namespace osprey::api
