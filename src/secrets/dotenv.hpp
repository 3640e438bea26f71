#pragma once
// DotEnv: reads a `.env` file of KEY=VALUE lines, the format most tools
// (docker compose, python-dotenv, node dotenv) agree on:
//
//   # comment                      blank lines and comments are skipped
//   OPENAI_API_KEY=sk-abc           unquoted: trimmed, " #..." starts a comment
//   export NAME="two\nlines"        `export ` prefix allowed; "..." knows \n \t \" and \\ escapes
//   RAW='kept # as is'              '...' is literal
//
//   DotEnv env = DotEnv::load(".env");   // missing file -> empty, no error
//   if (auto v = env.get("OPENAI_API_KEY")) ...
//
// A file readable by group or others holds secrets anyone on the box can
// read: load() logs a warning (and records it in `warnings`) but still uses
// it. Malformed lines are skipped with a warning naming the line number,
// never the line's text (it may be a secret).

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace osprey::secrets {

struct DotEnv {
  std::map<std::string, std::string, std::less<>> values;
  std::vector<std::string> warnings;
  bool loaded = false;  // the file existed and was read

  static DotEnv parse(std::string_view text, std::string_view origin = ".env");
  static DotEnv load(const std::string& path);

  std::optional<std::string> get(std::string_view key) const {
    auto it = values.find(key);
    if (it == values.end()) return std::nullopt;
    return it->second;
  }
};

}  // namespace osprey::secrets
