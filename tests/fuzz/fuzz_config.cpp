// libFuzzer target for the config file: whatever a TOML file holds
// ([[upstreams]], [prices], unknown keys, wrong types), the loader either
// builds a Config or throws ConfigError; nothing else escapes and nothing
// crashes. Each input is written to a file and loaded with --config, the
// way `osprey serve` reads it, with an empty environment.
//
//   cmake -DOSPREY_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... && ./fuzz_config -max_total_time=60 seeds/config

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "config/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = [] {
    char tmpl[] = "/tmp/osprey-fuzz-config-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) std::abort();
    close(fd);
    return std::string(tmpl);
  }();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  osprey::config::Loader loader;
  loader.set_environment({{"OSPREY_ENV_FILE", "/nonexistent"}});
  loader.set_flag("--config", path);
  try {
    auto cfg = loader.resolve();
    for (const auto& u : cfg.upstreams)
      if (u.name.empty() || u.base_url.empty() || u.weight < 1) std::abort();  // validated at load
  } catch (const osprey::config::ConfigError&) {
  }
  return 0;
}
