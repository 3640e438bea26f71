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

std::string fmt_time(std::int64_t unix_s, const char* none = "-") { return unix_s ? access::utc_time(unix_s) : none; }

const char* status(const access::KeyRecord& k, std::int64_t now) {
  if (k.revoked()) return "revoked";
  return k.expired(now) ? "expired" : "active";
}

// --expires-in / --expires-at -> unix seconds (0: never). Whether it is in
// the future is checked by the store, as for every other creation.
std::int64_t expiry(const KeysCreateArgs& a, std::int64_t now) {
  if (!a.expires_in.empty() && !a.expires_at.empty())
    throw bad_request("give --expires-in or --expires-at, not both");
  if (!a.expires_in.empty()) {
    auto secs = access::parse_duration(a.expires_in, "--expires-in");
    if (secs <= 0) throw bad_request("--expires-in must be more than 0 (e.g. 30d)");
    return now + secs;
  }
  if (!a.expires_at.empty()) return access::parse_utc_time(a.expires_at, "--expires-at");
  return 0;
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
      << "expires:    " << fmt_time(k.expires_at, "never") << (k.expired(access::unix_now()) ? " (expired)" : "")
      << "\n"
      << "revoked:    " << fmt_time(k.revoked_at) << "\n";
  if (!k.rotated_from.empty()) out << "replaces:   " << k.rotated_from << " (rotated)\n";
}

template <class Fn>
int guarded(std::ostream& err, Fn fn) {
  try {
    return fn();
  } catch (const ApiError& e) {
    // 400: the arguments; anything else (409: a key that cannot be
    // rotated) is a failure of the command.
    err << "error: " << e.what() << "\n";
    return e.status() == 400 ? 2 : 1;
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
    spec.expires_at = expiry(a, access::unix_now());
    auto store = open_store(cfg);
    auto created = store.create(spec);
    err << "created " << created.record.id << " (" << (a.name.empty() ? "unnamed" : a.name)
        << ") scopes=" << join(created.record.scopes, "-") << " limits: " << limits_text(created.record.limits)
        << " expires: " << fmt_time(created.record.expires_at, "never")
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
    auto now = access::unix_now();
    out << fmt::format("{:<18} {:<20} {:<16} {:<18} {:<8} {:<20} {}\n", "ID", "NAME", "KEY", "SCOPES", "STATUS",
                       "EXPIRES", "LIMITS");
    for (const auto& k : keys)
      out << fmt::format("{:<18} {:<20} {:<16} {:<18} {:<8} {:<20} {}\n", k.id, k.name.substr(0, 20), k.display(),
                         join(k.scopes, "-"), status(k, now), fmt_time(k.expires_at, "never"),
                         limits_text(k.limits));
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

int run_keys_rotate(const config::Config& cfg, const std::string& id, const std::string& grace, std::ostream& out,
                    std::ostream& err) {
  return guarded(err, [&] {
    auto grace_s = access::parse_duration(grace, "--grace");
    auto store = open_store(cfg);
    auto rotated = store.rotate(id, grace_s);
    if (!rotated) {
      err << "error: no active key with id '" << id << "' (unknown or revoked)\n";
      return 1;
    }
    const auto& k = rotated->key.record;
    const auto& old = rotated->previous;
    err << "rotated " << old.id << " -> " << k.id << " (" << (k.name.empty() ? "unnamed" : k.name)
        << ") scopes=" << join(k.scopes, "-") << " limits: " << limits_text(k.limits)
        << " expires: " << fmt_time(k.expires_at, "never") << "\n";
    if (old.revoked())
      err << "The old key " << old.id << " is revoked.\n";
    else
      err << "The old key " << old.id << " stays valid until " << fmt_time(old.expires_at) << ".\n";
    err << "The new key (printed alone on stdout) is shown only once; store it now.\n";
    err.flush();
    out << rotated->key.plaintext << "\n";
    out.flush();
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
  auto* expires_in = create->add_option("--expires-in", args->expires_in,
                                        "Expire after this long: 3600s, 90m, 12h, 30d (default: never)");
  create
      ->add_option("--expires-at", args->expires_at,
                   "Expire at unix seconds or ISO-8601 UTC, e.g. 2027-01-31T00:00:00Z (default: never)")
      ->excludes(expires_in);
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

  auto rotate_id = std::make_shared<std::string>();
  auto rotate_grace = std::make_shared<std::string>("24h");
  auto* rotate = keys->add_subcommand(
      "rotate", "Replace a key with a new one (same settings); prints the new key alone on stdout, once");
  rotate->add_option("id", *rotate_id, "Key id (key_...)")->required();
  rotate
      ->add_option("--grace", *rotate_grace,
                   "How long the old key keeps working: 3600s, 90m, 12h, 30d; 0 revokes it now")
      ->capture_default_str();
  rotate->fallthrough();  // --data-dir after the subcommand goes to `keys`
  rotate->callback([=] { *exit_code = run_keys_rotate(cfg(), *rotate_id, *rotate_grace, std::cout, std::cerr); });
}

}  // namespace osprey::api
