#include "access/pepper.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/log.hpp"
#include "common/strings.hpp"

namespace osprey::access {

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return std::string(str::trim(ss.str()));
}

void write_all(int fd, const std::string& data, const std::string& path) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) throw std::runtime_error("cannot fsync " + path + ": " + std::strerror(errno));
}

}  // namespace

std::string resolve_pepper(const std::string& configured, const std::string& data_dir) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  if (!configured.empty()) {
    log::register_secret(configured);
    return configured;
  }
  std::filesystem::create_directories(data_dir);
  auto path = (std::filesystem::path(data_dir) / "pepper").string();
  if (!std::filesystem::exists(path)) {
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    // Write a private temp file, then link() it into place: link fails if
    // another process won the race, and then we read theirs. Readers never
    // see a half-written file.
    auto tmp = path + ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + tmp + ": " + std::strerror(errno));
    try {
      write_all(fd, std::string(hex) + "\n", tmp);
    } catch (...) {
      ::close(fd);
      ::unlink(tmp.c_str());
      throw;
    }
    ::close(fd);
    if (::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
      int e = errno;
      ::unlink(tmp.c_str());
      throw std::runtime_error("cannot create " + path + ": " + std::strerror(e));
    }
    ::unlink(tmp.c_str());
    spdlog::info("access: generated a new key pepper in {}", path);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077))
    spdlog::warn("access: {} is readable by other users (mode {:o}); run chmod 600 on it", path,
                 st.st_mode & 0777);
  auto pepper = read_all(path);
  if (pepper.size() < 32) throw std::runtime_error(path + " is too short to be a pepper; refusing to use it");
  log::register_secret(pepper);
  return pepper;
}

std::string hash_key(std::string_view pepper, std::string_view key) {
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(pepper.data()), pepper.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_final(&st, out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

bool hashes_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace osprey::access
