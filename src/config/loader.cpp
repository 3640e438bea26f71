#include "config/loader.hpp"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

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
const std::set<std::string> kOpenTables = {"prices", "models"};

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
