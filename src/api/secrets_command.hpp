#pragma once
// `osprey secrets ...`: tools for the operator, wired as CLI11 subcommands
// by src/cli.
//
//   osprey secrets keygen
//       prints a new random master key (base64 of 32 bytes); store it as
//       OSPREY_MASTER_KEY or in the file named by OSPREY_MASTER_KEY_FILE.
//   osprey secrets encrypt [--value V]
//       seals V (or, without --value, stdin minus its trailing newline, so
//       the secret stays out of shell history and `ps`) with the master key
//       and prints `enc:...`, usable as OPENAI_API_KEY, in .env or in the
//       config file.
//
// Both return a process exit code: 0 ok, 1 failure (message on `err`).

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace osprey::api {

int run_secrets_keygen(std::ostream& out, std::ostream& err);

// `master_key` non-empty overrides OSPREY_MASTER_KEY(_FILE) (e.g. the
// config's resolved master_key); `env_file` is Config::env_file.
int run_secrets_encrypt(const std::optional<std::string>& value, const std::string& env_file,
                        const std::string& master_key, std::istream& in, std::ostream& out, std::ostream& err);

// Dispatcher for args {"keygen"} or {"encrypt", ["--value", V]}.
int run_secrets_command(const std::vector<std::string>& args, const std::string& env_file, std::istream& in,
                        std::ostream& out, std::ostream& err);

}  // namespace osprey::api
