#include "cli/upstream_setup.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "common/strings.hpp"
#include "secrets/resolver.hpp"

namespace osprey::cli {

namespace {

secrets::SecretResolver resolver_for(const config::Config& c) {
  auto r = secrets::SecretResolver::from_environment(c.env_file);
  if (!c.master_key.empty()) r.set_master_key(c.master_key);
  return r;
}

// Keys in a file: separated by commas or newlines, each trimmed, enc:
// values decrypted.
std::vector<std::string> read_key_file(const config::Config& c, const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(what + ": cannot read key file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  for (auto& ch : text)
    if (ch == '\n' || ch == '\r') ch = ',';
  auto r = resolver_for(c);
  std::vector<std::string> keys;
  for (auto item : str::split(text, ',')) {
    item = str::trim(item);
    if (!item.empty()) keys.push_back(r.reveal(item, what));
  }
  return keys;
}

// The first read happens here, at start: a failure there is logged and the
// upstream starts without keys (the loader is tried again later).
std::shared_ptr<gateway::Gateway> make_gateway(config::GatewayConfig g, gateway::KeyLoader loader) {
  if (loader) {
    try {
      g.api_keys = loader();
    } catch (const std::exception& e) {
      spdlog::warn("upstream {}: {} (it answers 503 until its keys can be read)", g.name, e.what());
      g.api_keys.clear();
    }
  }
  auto gw = std::make_shared<gateway::Gateway>(g, std::move(loader));
  spdlog::info("gateway: upstream {} at {} with {} key(s){}", g.name, g.base_url, g.api_keys.size(),
               g.api_keys.empty() && g.key_required ? " (answers 503 until one is configured)" : "");
  return gw;
}

}  // namespace

std::shared_ptr<gateway::Upstreams> make_upstreams(const config::Config& c) {
  auto ups = std::make_shared<gateway::Upstreams>(std::chrono::milliseconds(c.gateway.cooldown_ms));
  if (c.upstreams.empty()) {
    config::GatewayConfig g = c.gateway;
    g.name = "openai";
    auto loader = [file_values = c.gateway.api_keys, env_file = c.env_file, master = c.master_key] {
      return secrets::resolve_upstream_keys(file_values, env_file, master);
    };
    ups->add(make_gateway(std::move(g), loader), {}, 1);
    return ups;
  }
  for (const auto& u : c.upstreams) {
    config::GatewayConfig g = c.gateway;
    g.name = u.name;
    g.base_url = u.base_url;
    if (!u.ca_file.empty()) g.ca_file = u.ca_file;
    if (u.timeout_ms > 0) g.first_byte_timeout_ms = u.timeout_ms;
    if (u.max_attempts > 0) g.max_attempts = u.max_attempts;
    g.key_required = !u.api_keys.empty() || !u.api_key_env.empty() || !u.api_key_file.empty();
    g.api_keys.clear();
    gateway::KeyLoader loader;
    const std::string what = "upstreams." + u.name;
    if (!u.api_key_file.empty()) {
      loader = [c, path = u.api_key_file, what] { return read_key_file(c, path, what + ".api_key_file"); };
    } else if (!u.api_key_env.empty()) {
      loader = [c, name = u.api_key_env] { return resolver_for(c).resolve_list(name); };
    } else {
      auto r = resolver_for(c);
      for (const auto& k : u.api_keys) g.api_keys.push_back(r.reveal(k, what + ".api_key"));
    }
    ups->add(make_gateway(std::move(g), std::move(loader)), u.models, u.weight, u.priority);
  }
  return ups;
}

}  // namespace osprey::cli
