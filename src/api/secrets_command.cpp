#include "api/secrets_command.hpp"

#include <iostream>
#include <iterator>

#include "secrets/resolver.hpp"
#include "secrets/sealed.hpp"

namespace osprey::api {

int run_secrets_keygen(std::ostream& out, std::ostream& err) {
  try {
    out << secrets::MasterKey::generate() << "\n";
    return 0;
  } catch (const std::exception& e) {
    err << "error: " << e.what() << "\n";
    return 1;
  }
}

int run_secrets_encrypt(const std::optional<std::string>& value, const std::string& env_file,
                        const std::string& master_key, std::istream& in, std::ostream& out, std::ostream& err) {
  try {
    auto resolver = secrets::SecretResolver::from_environment(env_file);
    std::string key_text = master_key;
    if (key_text.empty()) {
      auto raw = resolver.lookup("OSPREY_MASTER_KEY");
      if (!raw) {
        err << "error: no master key: set OSPREY_MASTER_KEY or OSPREY_MASTER_KEY_FILE "
               "(create one with `osprey secrets keygen`)\n";
        return 1;
      }
      key_text = raw->value;
    }
    auto key = secrets::MasterKey::parse(key_text);
    std::string plain;
    if (value) {
      plain = *value;
    } else {
      plain.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      while (!plain.empty() && (plain.back() == '\n' || plain.back() == '\r')) plain.pop_back();
    }
    if (plain.empty()) {
      err << "error: nothing to encrypt (give --value or pipe the secret on stdin)\n";
      return 1;
    }
    if (secrets::is_sealed(plain)) {
      err << "error: the value is already an enc: value\n";
      return 1;
    }
    out << secrets::seal(plain, key) << "\n";
    if (key.derived_from_passphrase) err << "note: the master key is a passphrase (derived with BLAKE2b); a generated key is stronger\n";
    return 0;
  } catch (const std::exception& e) {
    err << "error: " << e.what() << "\n";
    return 1;
  }
}

int run_secrets_command(const std::vector<std::string>& args, const std::string& env_file, std::istream& in,
                        std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << "usage: osprey secrets keygen | osprey secrets encrypt [--value V]\n";
    return 1;
  }
  if (args[0] == "keygen" && args.size() == 1) return run_secrets_keygen(out, err);
  if (args[0] == "encrypt") {
    std::optional<std::string> value;
    if (args.size() == 3 && args[1] == "--value") value = args[2];
    else if (args.size() != 1) {
      err << "usage: osprey secrets encrypt [--value V]\n";
      return 1;
    }
    return run_secrets_encrypt(value, env_file, {}, in, out, err);
  }
  err << "unknown secrets command '" << args[0] << "' (expected keygen or encrypt)\n";
  return 1;
}

}  // namespace osprey::api
