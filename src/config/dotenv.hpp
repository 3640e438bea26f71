#pragma once
// .env files: KEY=VALUE lines as docker-compose and python-dotenv read them.
//
//   auto vars = config::parse_dotenv(text);   // throws ConfigError on a bad line
//
// Supported: blank lines, `# comments`, an optional `export ` prefix,
// unquoted values (trailing ` # comment` stripped), 'single-quoted' (literal)
// and "double-quoted" values (\n, \t, \", \\ escapes). Keys are
// [A-Za-z_][A-Za-z0-9_]*. Later duplicates win. Values in a .env file never
// override the real environment: the loader consults the environment first.

#include <map>
#include <string>
#include <string_view>

namespace osprey::config {

std::map<std::string, std::string> parse_dotenv(std::string_view text);

// Reads and parses `path`; returns an empty map if the file does not exist.
// Logs a warning when the file is readable by group or others, since it
// usually holds secrets.
std::map<std::string, std::string> load_dotenv(const std::string& path);

}  // namespace osprey::config
