#include "access/key_generation.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace osprey::access {

namespace {
constexpr std::size_t kMapBytes = 4096;  // one page; the counter uses 8 bytes
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free,
              "a counter shared between processes must be lock-free");
}  // namespace

KeyGeneration::KeyGeneration(const std::string& data_dir) {
  auto path = (std::filesystem::path(data_dir) / "keys.gen").string();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    spdlog::warn("access: cannot open {} ({}); key changes from other processes are seen within a second",
                 path, std::strerror(errno));
    return;
  }
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  // Growing the file never clears a counter another process already uses:
  // ftruncate only adds zeros past the end.
  if (ok && st.st_size < static_cast<off_t>(kMapBytes)) ok = ::ftruncate(fd, kMapBytes) == 0;
  if (ok) {
    void* p = ::mmap(nullptr, kMapBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) {
      map_ = p;
      word_ = static_cast<std::uint64_t*>(p);
    }
  }
  if (!word_)
    spdlog::warn("access: cannot map {} ({}); key changes from other processes are seen within a second", path,
                 ok ? std::strerror(errno) : "not a regular file");
  ::close(fd);  // the mapping stays valid
}

KeyGeneration::~KeyGeneration() {
  if (map_) ::munmap(map_, kMapBytes);
}

std::uint64_t KeyGeneration::current() const {
  if (!word_) return 0;
  return std::atomic_ref<std::uint64_t>(*word_).load(std::memory_order_acquire);
}

void KeyGeneration::bump() {
  if (word_) std::atomic_ref<std::uint64_t>(*word_).fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace osprey::access
