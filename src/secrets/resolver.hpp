#pragma once
// SecretResolver: the one way Osprey reads a secret by name.
//
// For a secret NAME (OPENAI_API_KEY, OSPREY_ADMIN_KEY, OSPREY_MASTER_KEY,
// OSPREY_PEPPER, ...) the first source that has it wins:
//
//   1. real environment NAME
//   2. real environment NAME_FILE   (path of a mounted secret; one trailing
//                                    newline / whitespace is trimmed)
//   3. .env file NAME
//   4. .env file NAME_FILE
//
// A value of the form `enc:...` (see sealed.hpp) is decrypted with the
// master key, itself resolved the same way from OSPREY_MASTER_KEY (format in
// master_key.hpp) unless given explicitly. Every value resolved is passed to
// osprey::log::register_secret() so it never reaches a log line.
//
//   auto r = SecretResolver::from_environment(cfg.env_file);
//   std::optional<std::string> admin = r.resolve("OSPREY_ADMIN_KEY");
//   std::vector<std::string> keys = r.resolve_list("OPENAI_API_KEY");  // "a,b,c"
//
// Errors (unreadable NAME_FILE, enc: without a master key, wrong master key)
// throw SecretError with a message naming the secret and the source, never
// the value.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "secrets/dotenv.hpp"
#include "secrets/master_key.hpp"

namespace osprey::secrets {

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// ::getenv as an EnvLookup (empty values count as unset).
std::optional<std::string> process_env(const std::string& name);

class SecretResolver {
 public:
  SecretResolver(EnvLookup env, DotEnv dotenv);

  // The process environment plus the .env file at `env_file` (may be empty
  // or missing). The master key is resolved lazily, on the first enc: value.
  static SecretResolver from_environment(const std::string& env_file);

  // Overrides the master key (e.g. one already resolved by the config loader).
  void set_master_key(std::string_view text);

  // The raw value (after NAME_FILE and .env lookup, before decrypting) and
  // where it came from, e.g. "environment OPENAI_API_KEY_FILE (/run/secrets/k)".
  struct Raw {
    std::string value;
    std::string source;
  };
  std::optional<Raw> lookup(const std::string& name) const;

  // Resolved and decrypted value; nullopt when no source has it.
  std::optional<std::string> resolve(const std::string& name) const;

  // resolve(name) split on commas (and newlines, for NAME_FILE files with
  // one key per line), each item trimmed and decrypted if enc:.
  std::vector<std::string> resolve_list(const std::string& name) const;

  // Decrypts `value` if it is enc: (naming `what` in errors); registers it.
  std::string reveal(std::string_view value, std::string_view what) const;

  const DotEnv& dotenv() const { return dotenv_; }

 private:
  EnvLookup env_;
  DotEnv dotenv_;
  mutable std::optional<MasterKey> master_;
  mutable bool master_looked_up_ = false;
  const MasterKey& master_key(std::string_view what) const;
};

// The upstream API keys of the gateway: OPENAI_API_KEY (or _FILE / .env;
// comma-separated for several keys) when set, else the config file's
// gateway.api_keys (`file_values`: a TOML array's items or one comma list).
// Each may be enc:. `master_key` non-empty overrides OSPREY_MASTER_KEY.
// Returns an empty list when none is configured (the gateway then answers
// 503 with a message saying how to set one).
std::vector<std::string> resolve_upstream_keys(const SecretResolver& resolver,
                                               const std::vector<std::string>& file_values);
std::vector<std::string> resolve_upstream_keys(const std::vector<std::string>& file_values,
                                               const std::string& env_file, const std::string& master_key);

}  // namespace osprey::secrets
