#include "common/plugin.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace osprey::plugin {

Module open(const std::string& file_name, const char* env_var, const char* build_path) {
  std::vector<std::string> candidates;
  if (const char* p = env_var ? std::getenv(env_var) : nullptr; p && *p) candidates.emplace_back(p);
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back((exe.parent_path() / file_name).string());
    candidates.push_back((exe.parent_path().parent_path() / "lib" / "osprey" / file_name).string());
  }
  if (build_path && *build_path) candidates.emplace_back(build_path);

  Module m;
  std::string tried;
  for (const auto& path : candidates) {
    if (!std::filesystem::exists(path, ec)) {
      tried += (tried.empty() ? "" : ", ") + path;
      continue;
    }
    m.handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!m.handle) {
      const char* why = dlerror();
      m.error = "cannot load " + path + ": " + (why ? why : "unknown error");
      return m;
    }
    m.path = path;
    return m;
  }
  m.error = file_name + " not found (looked at: " + tried + ")" +
            (env_var ? std::string("; set ") + env_var + " to its path" : std::string());
  return m;
}

void* raw_symbol(const Module& m, const char* name) { return m.handle ? dlsym(m.handle, name) : nullptr; }

}  // namespace osprey::plugin
