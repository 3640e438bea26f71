#include "secrets/resolver.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/log.hpp"
#include "common/strings.hpp"
#include "secrets/sealed.hpp"

namespace osprey::secrets {
namespace {

std::string read_secret_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SecretError(what + ": cannot read file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string v = ss.str();
  // Mounted secrets usually end with a newline (echo > file); trim it and any
  // trailing whitespace, never anything inside.
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r' || v.back() == ' ' || v.back() == '\t')) v.pop_back();
  return v;
}

}  // namespace

std::optional<std::string> process_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

SecretResolver::SecretResolver(EnvLookup env, DotEnv dotenv) : env_(std::move(env)), dotenv_(std::move(dotenv)) {}

SecretResolver SecretResolver::from_environment(const std::string& env_file) {
  return SecretResolver(process_env, DotEnv::load(env_file));
}

void SecretResolver::set_master_key(std::string_view text) {
  master_ = MasterKey::parse(text);
  master_looked_up_ = true;
  log::register_secret(text);
}

std::optional<SecretResolver::Raw> SecretResolver::lookup(const std::string& name) const {
  const std::string file_name = name + "_FILE";
  if (auto v = env_(name)) return Raw{*v, "environment " + name};
  if (auto p = env_(file_name)) return Raw{read_secret_file(*p, "environment " + file_name), "environment " + file_name + " (" + *p + ")"};
  if (auto v = dotenv_.get(name); v && !v->empty()) return Raw{*v, ".env " + name};
  if (auto p = dotenv_.get(file_name); p && !p->empty()) return Raw{read_secret_file(*p, ".env " + file_name), ".env " + file_name + " (" + *p + ")"};
  return std::nullopt;
}

const MasterKey& SecretResolver::master_key(std::string_view what) const {
  if (!master_looked_up_) {
    master_looked_up_ = true;
    if (auto raw = lookup("OSPREY_MASTER_KEY")) {
      log::register_secret(raw->value);
      if (is_sealed(raw->value)) throw SecretError("OSPREY_MASTER_KEY cannot itself be an enc: value");
      master_ = MasterKey::parse(raw->value);
    }
  }
  if (!master_) {
    throw SecretError(std::string(what) +
                      " is an enc: value but no master key is set: set OSPREY_MASTER_KEY or OSPREY_MASTER_KEY_FILE");
  }
  return *master_;
}

std::string SecretResolver::reveal(std::string_view value, std::string_view what) const {
  log::register_secret(value);  // the sealed text too: it is key material to an attacker with the master key
  if (!is_sealed(value)) return std::string(value);
  std::string plain;
  try {
    plain = unseal(value, master_key(what));
  } catch (const SecretError& e) {
    throw SecretError(std::string(what) + ": " + e.what());
  }
  log::register_secret(plain);
  return plain;
}

std::optional<std::string> SecretResolver::resolve(const std::string& name) const {
  auto raw = lookup(name);
  if (!raw) return std::nullopt;
  return reveal(str::trim(raw->value), raw->source);
}

std::vector<std::string> SecretResolver::resolve_list(const std::string& name) const {
  std::vector<std::string> out;
  auto raw = lookup(name);
  if (!raw) return out;
  std::string text = raw->value;
  for (char& c : text)
    if (c == '\n') c = ',';
  for (auto item : str::split(text, ',')) {
    item = str::trim(item);
    if (!item.empty()) out.push_back(reveal(item, raw->source));
  }
  return out;
}

std::vector<std::string> resolve_upstream_keys(const SecretResolver& resolver, const std::vector<std::string>& file_values) {
  auto keys = resolver.resolve_list("OPENAI_API_KEY");
  if (!keys.empty()) return keys;
  for (const auto& v : file_values) {
    for (auto item : str::split(v, ',')) {
      item = str::trim(item);
      if (!item.empty()) keys.push_back(resolver.reveal(item, "config gateway.api_keys"));
    }
  }
  return keys;
}

std::vector<std::string> resolve_upstream_keys(const std::vector<std::string>& file_values, const std::string& env_file,
                                               const std::string& master_key) {
  auto r = SecretResolver::from_environment(env_file);
  if (!master_key.empty()) r.set_master_key(master_key);
  return resolve_upstream_keys(r, file_values);
}

}  // namespace osprey::secrets
