#include "cli/commands.hpp"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>

#include "api/detect_command.hpp"
#include "api/keys_command.hpp"
#include "api/secrets_command.hpp"
#include "common/log.hpp"
#include "config/loader.hpp"

namespace osprey::cli {

namespace {

// Config for offline commands: the same layers as `serve` (file, env, .env),
// with the few flags these commands take. Exits 2 on a bad config.
config::Config resolve_or_exit(const config::Loader& loader) {
  try {
    return loader.resolve();
  } catch (const config::ConfigError& e) {
    std::cerr << "osprey: configuration error: " << log::redact(e.what()) << "\n";
    std::exit(2);
  }
}

}  // namespace

void add_commands(CLI::App& app) {
  // detect: the serving pipeline, offline.
  struct DetectArgs {
    std::string image, model, out, models_dir, config;
  };
  auto d = std::make_shared<DetectArgs>();
  auto* detect = app.add_subcommand("detect", "Detect objects in an image file (same pipeline as POST /v1/detect)");
  detect->add_option("image", d->image, "image file (JPEG, PNG, BMP, WebP)")->required();
  detect->add_option("--model", d->model, "model name (default: the repository's default model)");
  detect->add_option("--out", d->out, "write the annotated image here (.jpg or .png)");
  detect->add_option("--models", d->models_dir, "model repository (env OSPREY_MODELS)");
  detect->add_option("--config", d->config, "TOML config file");
  detect->callback([d] {
    config::Loader loader;
    if (!d->models_dir.empty()) loader.set_flag("--models", d->models_dir);
    if (!d->config.empty()) loader.set_flag("--config", d->config);
    auto cfg = resolve_or_exit(loader);
    log::init("warn");
    std::exit(api::run_detect_command(d->image, d->model, d->out, cfg));
  });

  // keys: client API keys in the data dir's store.
  static int keys_exit = 0;
  api::add_keys_command(app, [] { return resolve_or_exit(config::Loader()); }, &keys_exit);
  // The keys subcommands store their exit code; the parent's final callback
  // runs after them and ends the process with it.
  app.get_subcommand("keys")->final_callback([] { std::exit(keys_exit); });

  // secrets: encrypted config values.
  auto* secrets = app.add_subcommand("secrets", "Encrypt config values (enc:...) and make master keys");
  secrets->add_subcommand("keygen", "Print a new random master key (for OSPREY_MASTER_KEY)")->callback([] {
    std::exit(api::run_secrets_keygen(std::cout, std::cerr));
  });
  auto* enc = secrets->add_subcommand("encrypt", "Encrypt a value (from --value or stdin) with the master key");
  auto* value_opt = enc->add_option("--value", "the plaintext (default: read from stdin, safer)");
  enc->callback([value_opt] {
    config::Loader loader;
    auto cfg = resolve_or_exit(loader);
    std::optional<std::string> v;
    if (value_opt->count()) v = value_opt->as<std::string>();
    std::exit(api::run_secrets_encrypt(v, cfg.env_file, cfg.master_key, std::cin, std::cout, std::cerr));
  });
  secrets->require_subcommand(1);
}

}  // namespace osprey::cli
