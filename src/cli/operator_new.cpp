// The server's global operator new and delete: malloc, with a per-thread
// cache of blocks up to 16 KiB in front (common/block_cache.hpp says why).
// Linked into the osprey executable only. Left out under AddressSanitizer,
// whose own operator new checks every allocation.

#if !defined(__SANITIZE_ADDRESS__)

#include <malloc.h>

#include <cstdlib>
#include <new>

#include "common/block_cache.hpp"

namespace {

// Constant-initialised (no guard on each use); drained by Drain's destructor
// at thread exit.
thread_local osprey::BlockCache cache;

struct Drain {
  ~Drain() { cache.drain(); }
};

void* allocate(std::size_t n) {
  if (osprey::BlockCache::cached_size(n)) {
    if (void* p = cache.take(n)) return p;
    // The first block this thread allocates for the cache: arrange for the
    // cache to be freed when the thread exits.
    thread_local Drain drain;
    (void)drain;
    n = osprey::BlockCache::rounded(n);
  }
  for (;;) {
    if (void* p = std::malloc(n ? n : 1)) return p;
    auto handler = std::get_new_handler();
    if (!handler) throw std::bad_alloc();
    handler();
  }
}

void release(void* p) {
  if (p && !cache.give(p, malloc_usable_size(p))) std::free(p);
}

void release(void* p, std::size_t n) {
  if (!p) return;
  // Allocated as rounded(n): a block of at least that size. (A larger one
  // is better filed by its usable size than not cached at all.)
  if (!osprey::BlockCache::cached_size(n) || !cache.give(p, osprey::BlockCache::rounded(n))) std::free(p);
}

}  // namespace

void* operator new(std::size_t n) { return allocate(n); }
void* operator new[](std::size_t n) { return allocate(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t n) noexcept { release(p, n); }
void operator delete[](void* p, std::size_t n) noexcept { release(p, n); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }

#endif  // !__SANITIZE_ADDRESS__
