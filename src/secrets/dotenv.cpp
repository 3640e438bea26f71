#include "secrets/dotenv.hpp"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "common/strings.hpp"

namespace osprey::secrets {
namespace {

bool valid_key(std::string_view k) {
  if (k.empty()) return false;
  for (std::size_t i = 0; i < k.size(); ++i) {
    char c = k[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && ((c >= '0' && c <= '9') || c == '.'));
    if (!ok) return false;
  }
  return true;
}

// Parses the value part (everything after '='); nullopt when a quote is not closed.
std::optional<std::string> parse_value(std::string_view v) {
  v = str::trim(v);
  if (v.empty()) return std::string();
  if (v.front() == '\'') {
    auto end = v.find('\'', 1);
    if (end == std::string_view::npos) return std::nullopt;
    return std::string(v.substr(1, end - 1));
  }
  if (v.front() == '"') {
    std::string out;
    for (std::size_t i = 1; i < v.size(); ++i) {
      char c = v[i];
      if (c == '"') return out;
      if (c == '\\' && i + 1 < v.size()) {
        char n = v[++i];
        switch (n) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          default: out += n; break;  // \" \\ and anything else: the character itself
        }
        continue;
      }
      out += c;
    }
    return std::nullopt;
  }
  // Unquoted: a '#' preceded by whitespace starts a comment ("a#b" keeps its '#').
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i] == '#' && (v[i - 1] == ' ' || v[i - 1] == '\t')) {
      v = v.substr(0, i);
      break;
    }
  }
  return std::string(str::trim(v));
}

}  // namespace

DotEnv DotEnv::parse(std::string_view text, std::string_view origin) {
  DotEnv env;
  env.loaded = true;
  std::size_t lineno = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++lineno;
    line = str::trim(line);  // also drops a CR of CRLF files
    if (line.empty() || line.front() == '#') continue;
    if (line.substr(0, 7) == "export ") line = str::trim(line.substr(7));
    auto eq = line.find('=');
    std::string_view key = eq == std::string_view::npos ? line : str::trim(line.substr(0, eq));
    if (eq == std::string_view::npos || !valid_key(key)) {
      env.warnings.push_back(std::string(origin) + ":" + std::to_string(lineno) + ": not a KEY=VALUE line, skipped");
      continue;
    }
    auto value = parse_value(line.substr(eq + 1));
    if (!value) {
      env.warnings.push_back(std::string(origin) + ":" + std::to_string(lineno) + ": unterminated quote, skipped");
      continue;
    }
    env.values[std::string(key)] = std::move(*value);
  }
  return env;
}

DotEnv DotEnv::load(const std::string& path) {
  DotEnv env;
  if (path.empty()) return env;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return env;  // no .env is the normal case
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    env.warnings.push_back(path + ": cannot be read, ignored");
    spdlog::warn("{}", env.warnings.back());
    return env;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  env = parse(ss.str(), path);
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    env.warnings.insert(env.warnings.begin(), path + " is accessible by group/others (mode " + mode +
                                                  "); it holds secrets: run `chmod 600 " + path + "`");
  }
  for (const auto& w : env.warnings) spdlog::warn("{}", w);
  return env;
}

}  // namespace osprey::secrets
