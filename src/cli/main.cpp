// osprey: command-line entry point. Subcommands:
//   serve    run the HTTP server (all settings: osprey serve --help)
//   version  print the version
// Further subcommands (detect, keys, secrets) are added by their areas.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <string>

#include "cli/app.hpp"
#include "cli/commands.hpp"
#include "config/loader.hpp"
#include "inference/threads.hpp"

#ifdef OSPREY_MIMALLOC
#include <mimalloc.h>
#endif

namespace {
// For the startup log (and, with mimalloc, a reference that keeps the
// linker from dropping the library that replaces malloc).
const char* allocator_name() {
#ifdef OSPREY_MIMALLOC
  static const std::string name = "mimalloc " + std::to_string(mi_version() / 100) + "." +
                                  std::to_string(mi_version() % 100 / 10) + "." + std::to_string(mi_version() % 10);
  return name.c_str();
#else
  return "the C library's malloc";
#endif
}
}  // namespace

int main(int argc, char** argv) {
  // Must come first: libgomp reads OMP_WAIT_POLICY when it is loaded.
  osprey::inference::reexec_with_passive_openmp(argv);
  CLI::App app{"Osprey: YOLO detection and an OpenAI-compatible gateway in one server"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");

  osprey::config::Loader loader;
  auto* serve = app.add_subcommand("serve", "Run the HTTP server");
  loader.add_options(*serve);
  serve->callback([&] { std::exit(osprey::cli::run_serve(loader, allocator_name())); });

  app.add_subcommand("version", "Print the version")->callback([] { std::puts("osprey 0.1.0"); });

  osprey::cli::add_commands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "osprey: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
