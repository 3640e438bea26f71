#include "config/dotenv.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "common/strings.hpp"
#include "config/config.hpp"

namespace osprey::config {
namespace {

bool valid_key(std::string_view k) {
  if (k.empty() || !(std::isalpha(static_cast<unsigned char>(k[0])) || k[0] == '_')) return false;
  for (char c : k)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

}  // namespace

std::map<std::string, std::string> parse_dotenv(std::string_view text) {
  std::map<std::string, std::string> out;
  int line_no = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto t = str::trim(line);
    if (t.empty() || t.front() == '#') {
      if (end == text.size()) break;
      continue;
    }
    if (t.substr(0, 7) == "export ") t = str::trim(t.substr(7));
    auto eq = t.find('=');
    if (eq == std::string_view::npos)
      throw ConfigError(".env line " + std::to_string(line_no) + ": expected KEY=VALUE");
    auto key = str::trim(t.substr(0, eq));
    if (!valid_key(key)) throw ConfigError(".env line " + std::to_string(line_no) + ": invalid key name");
    auto raw = str::trim(t.substr(eq + 1));
    std::string value;
    if (!raw.empty() && (raw.front() == '"' || raw.front() == '\'')) {
      char q = raw.front();
      std::size_t i = 1;
      bool closed = false;
      for (; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == q) {
          closed = true;
          break;
        }
        if (q == '"' && c == '\\' && i + 1 < raw.size()) {
          char n = raw[++i];
          value.push_back(n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : n);
        } else {
          value.push_back(c);
        }
      }
      if (!closed) throw ConfigError(".env line " + std::to_string(line_no) + ": unterminated quote");
      auto rest = str::trim(raw.substr(i + 1));
      if (!rest.empty() && rest.front() != '#')
        throw ConfigError(".env line " + std::to_string(line_no) + ": text after closing quote");
    } else {
      auto hash = raw.find(" #");
      value = std::string(str::trim(hash == std::string_view::npos ? raw : raw.substr(0, hash)));
    }
    out[std::string(key)] = std::move(value);
    if (end == text.size()) break;
  }
  return out;
}

std::map<std::string, std::string> load_dotenv(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return {};
  if (st.st_mode & (S_IRWXG | S_IRWXO))
    spdlog::warn("{} is readable by group or others (mode {:o}); it holds secrets: chmod 600 {}", path,
                 st.st_mode & 0777, path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot read env file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return parse_dotenv(ss.str());
  } catch (const ConfigError& e) {
    throw ConfigError(path + ": " + e.what());
  }
}

}  // namespace osprey::config
