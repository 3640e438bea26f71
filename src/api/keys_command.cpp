#include "api/keys_command.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <iostream>

#include "access/key.hpp"
#include "access/key_store.hpp"
#include "access/pepper.hpp"
#include "common/error.hpp"

namespace osprey::api {

namespace {

access::KeyStore open_store(const config::Config& cfg) {
  return access::KeyStore(cfg.data_dir, access::resolve_pepper(cfg.access.pepper, cfg.data_dir));
}

std::string fmt_time(std::int64_t unix_s) {
  if (unix_s == 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string join(const auto& items, const char* empty) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? empty : out;
}

std::string limits_text(const access::Limits& l) {
  std::string out;
  auto add = [&](const char* n, std::int64_t v) {
    if (v) out += fmt::format("{}{}={}", out.empty() ? "" : " ", n, v);
  };
  add("rpm", l.rpm);
  add("tpm", l.tpm);
  add("ipm", l.ipm);
  add("concurrency", l.concurrency);
  add("tokens/day", l.tokens_per_day);
  if (l.usd_per_month > 0) out += fmt::format("{}usd/month={:.2f}", out.empty() ? "" : " ", l.usd_per_month);
  return out.empty() ? "unlimited" : out;
}

void print_key(const access::KeyRecord& k, std::ostream& out) {
  out << "id:         " << k.id << "\n"
      << "name:       " << k.name << "\n"
      << "key:        " << k.display() << "\n"
      << "scopes:     " << join(k.scopes, "-") << "\n"
      << "models:     " << join(k.models, "all") << "\n"
      << "limits:     " << limits_text(k.limits) << "\n"
      << "created:    " << fmt_time(k.created_at) << "\n"
      << "revoked:    " << fmt_time(k.revoked_at) << "\n";
}

template <class Fn>
int guarded(std::ostream& err, Fn fn) {
  try {
    return fn();
  } catch (const ApiError& e) {
    err << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    err << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int run_keys_create(const config::Config& cfg, const KeysCreateArgs& a, std::ostream& out, std::ostream& err) {
  return guarded(err, [&] {
    access::KeySpec spec;
    spec.name = a.name;
    spec.scopes = access::parse_scopes(a.scopes);
    spec.models = access::parse_list(a.models);
    spec.limits = {a.rpm, a.tpm, a.ipm, a.concurrency, a.tokens_per_day, a.usd_per_month};
    auto store = open_store(cfg);
    auto created = store.create(spec);
    err << "created " << created.record.id << " (" << (a.name.empty() ? "unnamed" : a.name)
        << ") scopes=" << join(created.record.scopes, "-") << " limits: " << limits_text(created.record.limits)
        << "\nThe key (printed alone on stdout) is shown only once; store it now.\n";
    err.flush();
    out << created.plaintext << "\n";
    out.flush();
    return 0;
  });
}

int run_keys_list(const config::Config& cfg, bool json, std::ostream& out, std::ostream& err) {
  return guarded(err, [&] {
    auto store = open_store(cfg);
    auto keys = store.list();
    if (json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& k : keys) arr.push_back(k.to_json());
      out << arr.dump(2) << "\n";
      return 0;
    }
    out << fmt::format("{:<18} {:<20} {:<16} {:<18} {:<8} {}\n", "ID", "NAME", "KEY", "SCOPES", "STATUS",
                       "LIMITS");
    for (const auto& k : keys)
      out << fmt::format("{:<18} {:<20} {:<16} {:<18} {:<8} {}\n", k.id, k.name.substr(0, 20), k.display(),
                         join(k.scopes, "-"), k.revoked() ? "revoked" : "active", limits_text(k.limits));
    return 0;
  });
}

int run_keys_show(const config::Config& cfg, const std::string& id, bool json, std::ostream& out,
                  std::ostream& err) {
  return guarded(err, [&] {
    auto store = open_store(cfg);
    auto k = store.get(id);
    if (!k) {
      err << "error: no key with id '" << id << "'\n";
      return 1;
    }
    if (json) out << k->to_json().dump(2) << "\n";
    else print_key(*k, out);
    return 0;
  });
}

int run_keys_revoke(const config::Config& cfg, const std::string& id, std::ostream& out, std::ostream& err) {
  return guarded(err, [&] {
    auto store = open_store(cfg);
    if (!store.revoke(id)) {
      err << "error: no key with id '" << id << "'\n";
      return 1;
    }
    out << "revoked " << id << "\n";
    return 0;
  });
}

void add_keys_command(CLI::App& app, std::function<config::Config()> load_config, int* exit_code) {
  auto* keys = app.add_subcommand("keys", "Manage client API keys (data_dir/keys.db)");
  keys->require_subcommand(1);
  auto data_dir = std::make_shared<std::string>();
  keys->add_option("--data-dir", *data_dir, "Data directory (overrides the config)");
  auto cfg = [load_config, data_dir] {
    auto c = load_config();
    if (!data_dir->empty()) c.data_dir = *data_dir;
    return c;
  };

  auto args = std::make_shared<KeysCreateArgs>();
  auto* create = keys->add_subcommand("create", "Create a key; prints it alone on stdout, once");
  create->add_option("--scopes", args->scopes, "detect,chat,admin (comma-separated)")->capture_default_str();
  create->add_option("--models", args->models, "Allowed models, comma-separated (default: all)");
  create->add_option("--name", args->name, "A label");
  create->add_option("--rpm", args->rpm, "Requests per minute (0 = unlimited)");
  create->add_option("--tpm", args->tpm, "Tokens per minute (0 = unlimited)");
  create->add_option("--ipm", args->ipm, "Images per minute (0 = unlimited)");
  create->add_option("--concurrency", args->concurrency, "Requests in flight (0 = unlimited)");
  create->add_option("--tokens-per-day", args->tokens_per_day, "Token budget per UTC day (0 = unlimited)");
  create->add_option("--usd-per-month", args->usd_per_month, "Cost budget per UTC month (0 = unlimited)");
  create->fallthrough();  // --data-dir after the subcommand goes to `keys`
  create->callback([=] { *exit_code = run_keys_create(cfg(), *args, std::cout, std::cerr); });

  auto list_json = std::make_shared<bool>(false);
  auto* list = keys->add_subcommand("list", "List keys (never the keys themselves)");
  list->add_flag("--json", *list_json, "JSON output");
  list->fallthrough();  // --data-dir after the subcommand goes to `keys`
  list->callback([=] { *exit_code = run_keys_list(cfg(), *list_json, std::cout, std::cerr); });

  auto show_id = std::make_shared<std::string>();
  auto show_json = std::make_shared<bool>(false);
  auto* show = keys->add_subcommand("show", "Show one key");
  show->add_option("id", *show_id, "Key id (key_...)")->required();
  show->add_flag("--json", *show_json, "JSON output");
  show->fallthrough();  // --data-dir after the subcommand goes to `keys`
  show->callback([=] { *exit_code = run_keys_show(cfg(), *show_id, *show_json, std::cout, std::cerr); });

  auto revoke_id = std::make_shared<std::string>();
  auto* revoke = keys->add_subcommand("revoke", "Revoke a key (the server applies it from the next request)");
  revoke->add_option("id", *revoke_id, "Key id (key_...)")->required();
  revoke->fallthrough();  // --data-dir after the subcommand goes to `keys`
  revoke->callback([=] { *exit_code = run_keys_revoke(cfg(), *revoke_id, std::cout, std::cerr); });
}

}  // namespace osprey::api
