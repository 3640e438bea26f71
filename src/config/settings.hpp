#pragma once
// Setting: one configurable value, declared once with its three names.
//
//   {"server.port", "OSPREY_PORT", "--port", "TCP port (0 picks a free one)",
//    Kind::integer, [](Config& c, const std::string& v) { c.server.port = ...; }}
//
// `apply` parses the raw text (from TOML, env or flag) into the Config and
// throws std::invalid_argument with a short reason when it does not parse;
// the loader adds the key and the layer to the message. A `secret` setting
// is never echoed in errors and also reads NAME_FILE from the environment.

#include <functional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace osprey::config {

enum class Kind { string, integer, number, boolean, list };

struct Setting {
  std::string key;   // TOML path, e.g. "server.port"
  std::string env;   // environment variable, "" if none
  std::string flag;  // command-line flag, "" if none (secrets have none)
  std::string help;
  Kind kind = Kind::string;
  std::function<void(Config&, const std::string&)> apply;
  bool secret = false;
  std::string default_text;  // shown in --help
};

const std::vector<Setting>& all_settings();

// Parsers used by the table (exposed for tests).
long long parse_int(const std::string& v, long long min, long long max);
double parse_number(const std::string& v, double min, double max);
bool parse_bool(const std::string& v);
std::vector<std::string> parse_list(const std::string& v);
std::size_t parse_size(const std::string& v);  // "16k", "1m", "32MiB", plain bytes

}  // namespace osprey::config
