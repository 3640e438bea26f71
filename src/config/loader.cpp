#include "config/loader.hpp"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "common/log.hpp"
#include "common/strings.hpp"
#include "secrets/dotenv.hpp"

#include <spdlog/spdlog.h>

namespace osprey::config {
namespace {

// Renders a TOML leaf (or an array of leaves) as the raw text the setting
// parsers take, so that all four layers go through one parser.
std::optional<std::string> node_text(const toml::node& n) {
  if (auto s = n.as_string()) return s->get();
  if (auto i = n.as_integer()) return std::to_string(i->get());
  if (auto f = n.as_floating_point()) {
    std::ostringstream os;
    os << f->get();
    return os.str();
  }
  if (auto b = n.as_boolean()) return b->get() ? "true" : "false";
  if (auto a = n.as_array()) {
    std::string out;
    for (const auto& el : *a) {
      auto t = node_text(el);
      if (!t || el.is_array()) return std::nullopt;
      if (!out.empty()) out += ',';
      out += *t;
    }
    return out;
  }
  return std::nullopt;
}

// Tables whose contents are free-form (owned by other parts of the server).
const std::set<std::string> kOpenTables = {"prices", "models", "upstreams"};

void check_unknown_keys(const toml::table& tbl, const std::string& prefix, const std::set<std::string>& known) {
  for (const auto& [k, node] : tbl) {
    std::string path = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (prefix.empty() && kOpenTables.count(path)) continue;
    if (auto sub = node.as_table()) {
      check_unknown_keys(*sub, path, known);
      continue;
    }
    if (!known.count(path)) throw ConfigError("unknown setting '" + path + "' in config file");
  }
}

std::string read_secret_file(const std::string& path, const std::string& var) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(var + ": cannot read secret file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string v = ss.str();
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
  return v;
}

// [[upstreams]]: an array of tables, each one upstream (config.hpp).
std::vector<UpstreamConfig> read_upstreams(const toml::node& node) {
  auto arr = node.as_array();
  if (!arr) throw ConfigError("invalid value for 'upstreams': expected [[upstreams]] tables");
  std::vector<UpstreamConfig> out;
  std::set<std::string> names;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    auto tbl = arr->get(i)->as_table();
    std::string where = "upstreams[" + std::to_string(i) + "]";
    if (!tbl) throw ConfigError("invalid value for '" + where + "': expected a table");
    UpstreamConfig u;
    auto text = [&](const char* key) -> std::string {
      auto n = tbl->get(key);
      if (!n) return {};
      auto v = n->value<std::string>();
      if (!v) throw ConfigError("invalid value for '" + where + "." + key + "': expected a string");
      return *v;
    };
    auto number = [&](const char* key, long long lo, long long hi, int def) -> int {
      auto n = tbl->get(key);
      if (!n) return def;
      auto v = n->value<long long>();
      if (!v || *v < lo || *v > hi)
        throw ConfigError("invalid value for '" + where + "." + key + "': expected an integer from " + std::to_string(lo) +
                          " to " + std::to_string(hi));
      return static_cast<int>(*v);
    };
    auto strings = [&](const char* key) -> std::vector<std::string> {
      auto n = tbl->get(key);
      if (!n) return {};
      if (n->is_string()) return parse_list(*n->value<std::string>());
      auto a = n->as_array();
      if (!a) throw ConfigError("invalid value for '" + where + "." + key + "': expected a list of strings");
      std::vector<std::string> v;
      for (const auto& el : *a) {
        auto t = el.value<std::string>();
        if (!t || t->empty()) throw ConfigError("invalid value for '" + where + "." + key + "': expected non-empty strings");
        v.push_back(*t);
      }
      return v;
    };
    static const std::set<std::string> known = {"name", "base_url", "api_key", "api_keys", "api_key_env", "api_key_file",
                                                "models", "weight", "priority", "timeout_ms", "max_attempts", "ca_file"};
    for (const auto& [k, v] : *tbl)
      if (!known.count(std::string(k.str())))
        throw ConfigError("unknown setting '" + where + "." + std::string(k.str()) + "' in config file");
    u.name = text("name");
    if (u.name.empty()) throw ConfigError("'" + where + ".name' is required");
    for (char c : u.name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
        throw ConfigError("invalid value for '" + where + ".name': use letters, digits, '-', '_' and '.'");
    if (!names.insert(u.name).second) throw ConfigError("two upstreams are named '" + u.name + "'");
    u.base_url = text("base_url");
    if (u.base_url.empty()) throw ConfigError("'" + where + ".base_url' is required");
    u.api_keys = strings("api_keys");
    if (auto one = text("api_key"); !one.empty()) u.api_keys.push_back(one);
    u.api_key_env = text("api_key_env");
    u.api_key_file = text("api_key_file");
    int sources = !u.api_keys.empty() + !u.api_key_env.empty() + !u.api_key_file.empty();
    if (sources > 1)
      throw ConfigError("'" + where + "': give at most one of api_key(s), api_key_env and api_key_file");
    u.models = strings("models");
    u.weight = number("weight", 1, 1000, 1);
    u.priority = number("priority", 0, 1000, 0);
    u.timeout_ms = number("timeout_ms", 1, 24 * 3600 * 1000, 0);
    u.max_attempts = number("max_attempts", 1, 20, 0);
    u.ca_file = text("ca_file");
    out.push_back(std::move(u));
  }
  return out;
}

}  // namespace

Loader::Loader() = default;
Loader::~Loader() = default;

const std::vector<Setting>& Loader::settings() { return all_settings(); }

void Loader::add_options(CLI::App& app) {
  app_ = &app;
  app.add_option("--config", cli_values_["--config"], "TOML config file (env OSPREY_CONFIG)");
  app.add_option("--env-file", cli_values_["--env-file"], ".env file to load (env OSPREY_ENV_FILE; default .env)");
  for (const auto& s : all_settings()) {
    if (s.flag.empty()) continue;
    std::string help = s.help;
    if (!s.env.empty()) help += " [env " + s.env + "]";
    if (!s.default_text.empty()) help += " (default " + s.default_text + ")";
    auto& slot = cli_values_[s.flag];
    if (s.kind == Kind::boolean) {
      // `--reload`, `--reload=false` and `--reload false` all work.
      app.add_option(s.flag, slot, help)->expected(0, 1)->type_name("[BOOL]");
    } else {
      app.add_option(s.flag, slot, help);
    }
  }
}

std::optional<std::string> Loader::getenv(const std::string& name) const {
  if (env_) {
    auto it = env_->find(name);
    if (it == env_->end()) return std::nullopt;
    return it->second;
  }
  if (const char* v = std::getenv(name.c_str())) return std::string(v);
  return std::nullopt;
}

Config Loader::resolve() const {
  // Flags given on the command line (CLI11 or set_flag).
  std::map<std::string, std::string> flags = flags_;
  if (app_) {
    for (const auto& [flag, value] : cli_values_) {
      auto* opt = app_->get_option_no_throw(flag);
      if (opt && opt->count() > 0) flags[flag] = value.empty() && opt->get_expected_min() == 0 ? "true" : value;
    }
  }

  // .env sits under the real environment.
  std::string env_file = ".env";
  if (auto it = flags.find("--env-file"); it != flags.end()) env_file = it->second;
  else if (auto v = getenv("OSPREY_ENV_FILE")) env_file = *v;
  // One .env reader for the whole process (secrets/dotenv.hpp): bad lines
  // are skipped with a warning that never echoes their text.
  auto dotenv = secrets::DotEnv::load(env_file);
  for (const auto& w : dotenv.warnings) spdlog::warn("{}", w);
  auto lookup = [&](const std::string& name) -> std::optional<std::string> {
    if (auto v = getenv(name)) return v;
    return dotenv.get(name);
  };

  Config cfg;
  cfg.env_file = env_file;
  if (auto it = flags.find("--config"); it != flags.end()) cfg.config_file = it->second;
  else if (auto v = lookup("OSPREY_CONFIG")) cfg.config_file = *v;

  auto apply = [](const Setting& s, Config& c, const std::string& value, const std::string& layer) {
    try {
      s.apply(c, value);
    } catch (const std::invalid_argument& e) {
      throw ConfigError("invalid value for '" + s.key + "' (" + layer + "): " + e.what());
    }
  };

  // Layer 1: the config file.
  if (!cfg.config_file.empty()) {
    toml::table tbl;
    try {
      tbl = toml::parse_file(cfg.config_file);
    } catch (const toml::parse_error& e) {
      std::ostringstream os;
      os << "config file " << cfg.config_file << ": " << e.description() << " at line " << e.source().begin.line
         << ", column " << e.source().begin.column;
      throw ConfigError(os.str());
    }
    std::set<std::string> known;
    for (const auto& s : all_settings()) known.insert(s.key);
    check_unknown_keys(tbl, "", known);
    for (const auto& s : all_settings()) {
      auto node = tbl.at_path(s.key);
      if (!node) continue;
      auto text = node_text(*node.node());
      if (!text) throw ConfigError("invalid value for '" + s.key + "' (config file): wrong type");
      apply(s, cfg, *text, "config file");
    }
    if (auto prices = tbl["prices"].as_table()) {
      for (const auto& [model, node] : *prices) {
        auto entry = node.as_table();
        std::string key = "prices." + std::string(model.str());
        if (!entry) throw ConfigError("invalid value for '" + key + "': expected a table {input = .., output = ..}");
        Config::Price p;
        for (const auto& [field, v] : *entry) {
          auto f = v.value<double>();
          if (!f || *f < 0) throw ConfigError("invalid value for '" + key + "." + std::string(field.str()) + "'");
          if (field.str() == "input") p.input_per_mtok = *f;
          else if (field.str() == "output") p.output_per_mtok = *f;
          else throw ConfigError("unknown setting '" + key + "." + std::string(field.str()) + "'");
        }
        cfg.prices[std::string(model.str())] = p;
      }
    } else if (tbl.contains("prices")) {
      throw ConfigError("invalid value for 'prices': expected a table");
    }
    if (auto up = tbl.get("upstreams")) cfg.upstreams = read_upstreams(*up);
  }

  // Layer 2: environment (then .env), including NAME_FILE for secrets.
  for (const auto& s : all_settings()) {
    if (s.env.empty()) continue;
    std::optional<std::string> v = lookup(s.env);
    if (!v && s.secret) {
      if (auto file = lookup(s.env + "_FILE")) v = read_secret_file(*file, s.env + "_FILE");
    }
    if (!v) continue;
    if (s.secret) log::register_secret(*v);
    apply(s, cfg, *v, "environment " + s.env);
  }

  // Layer 3: command-line flags.
  for (const auto& s : all_settings()) {
    if (s.flag.empty()) continue;
    auto it = flags.find(s.flag);
    if (it == flags.end()) continue;
    apply(s, cfg, it->second, "flag " + s.flag);
  }

  for (const auto& k : cfg.gateway.api_keys) log::register_secret(k);
  return cfg;
}

}  // namespace osprey::config
