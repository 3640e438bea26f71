#pragma once
// BlockCache: a per-thread cache of freed heap blocks up to 16 KiB, in front
// of malloc. The server's global operator new and delete use it
// (cli/operator_new.cpp).
//
// Why: a request allocates and frees the same few dozen block sizes (Beast's
// header fields, strings, coroutine frames of 1-8 KiB for the session, the
// router, the handler, the gateway's exchange). At 64 requests in flight,
// each size is freed many times over before it is allocated again, and
// glibc's per-thread cache keeps only 7 blocks per size and none past 1 KiB:
// the rest went through malloc's bins, where splitting, merging and
// consolidating them cost 10-15% of the gateway's user time. (Setting
// GLIBC_TUNABLES=glibc.malloc.tcache_count=1000:glibc.malloc.tcache_max=16384
// showed the same gain, but tunables are read only at process start.)
//
//   thread_local BlockCache cache;             // constant-initialised
//   void* p = cache.take(n);                   // a block of >= n bytes, or null
//   if (!p) p = std::malloc(BlockCache::rounded(n));
//   ...
//   if (!cache.give(p, malloc_usable_size(p))) std::free(p);
//   cache.drain();                             // at thread exit: frees all
//
// Blocks are malloc'd, so any thread may free any block with free(), and a
// block freed on another thread simply joins that thread's cache. A block is
// filed under the largest class that fits in what it holds, so a block of
// any origin is safe to file. Free blocks are linked through their first
// bytes, as in glibc's cache. Bounded: kPerClass blocks per class and
// kMaxBytes per thread; past that, blocks go to free().

#include <cstddef>
#include <cstdlib>

namespace osprey {

class BlockCache {
 public:
  // Class sizes are what glibc's chunks hold (16 k + 8 bytes), so a block
  // rounded up to its class takes no more memory than malloc(n) would:
  // classes of 16 B up to 1032 B (glibc's own cache's range), then of 64 B
  // up to 16 KiB + 8. Narrow, because rounding up costs memory in every live
  // block: with 16 B-aligned classes of 256 B past 1 KiB, 10,000 open
  // streams took 12 MiB more.
  static constexpr std::size_t kSmallStep = 16;
  static constexpr std::size_t kSmallMax = 1032;
  static constexpr std::size_t kSmallClasses = (kSmallMax - 8) / kSmallStep;  // 64
  static constexpr std::size_t kLargeStep = 64;
  static constexpr std::size_t kMax = 16 * 1024;  // largest request cached; above: left to malloc
  static constexpr std::size_t kClasses = kSmallClasses + (kMax - kSmallMax + kLargeStep - 1) / kLargeStep + 1;
  static constexpr std::size_t kPerClass = 256;
  static constexpr std::size_t kMaxBytes = 2 * 1024 * 1024;

  // Whether a request of n bytes is served from the cache's classes.
  static constexpr bool cached_size(std::size_t n) { return n > 0 && n <= kMax; }
  // The class of a request of n bytes (cached_size(n)): the smallest that holds it.
  static constexpr std::size_t class_of(std::size_t n) {
    if (n <= 24) return 1;
    if (n <= kSmallMax) return (n - 8 + kSmallStep - 1) / kSmallStep;
    return kSmallClasses + (n - kSmallMax + kLargeStep - 1) / kLargeStep;
  }
  static constexpr std::size_t class_size(std::size_t k) {
    return k <= kSmallClasses ? k * kSmallStep + 8 : kSmallMax + (k - kSmallClasses) * kLargeStep;
  }
  // The largest class that a block holding `usable` bytes can serve (0: none).
  static constexpr std::size_t class_holding(std::size_t usable) {
    if (usable < 24) return 0;
    if (usable <= kSmallMax) return (usable - 8) / kSmallStep;
    std::size_t k = kSmallClasses + (usable - kSmallMax) / kLargeStep;
    return k < kClasses ? k : kClasses - 1;
  }
  // What to malloc for a request of n bytes (cached_size(n)): its class size.
  static constexpr std::size_t rounded(std::size_t n) { return class_size(class_of(n)); }

  // A cached block of at least n bytes, or nullptr (then malloc rounded(n)).
  void* take(std::size_t n) {
    if (!cached_size(n)) return nullptr;
    std::size_t k = class_of(n);
    auto& c = classes_[k];
    Free* f = c.head;
    if (!f) return nullptr;
    c.head = f->next;
    --c.count;
    bytes_ -= class_size(k);
    return f;
  }

  // Files a freed block that holds `usable` bytes; false if it is not kept
  // (too big, class full, thread cache full or drained): free() it.
  bool give(void* p, std::size_t usable) {
    if (dead_) return false;
    // A block much larger than the largest class is not worth holding.
    if (usable >= class_size(kClasses - 1) + kLargeStep) return false;
    std::size_t k = class_holding(usable);
    if (k == 0) return false;
    auto& c = classes_[k];
    std::size_t size = class_size(k);
    if (c.count == kPerClass || bytes_ + size > kMaxBytes) return false;
    auto* f = static_cast<Free*>(p);
    f->next = c.head;
    c.head = f;
    ++c.count;
    bytes_ += size;
    return true;
  }

  // Frees every cached block; later give() passes through (the thread is
  // exiting, and its other thread_locals may still free memory).
  void drain() {
    dead_ = true;
    for (auto& c : classes_) {
      while (c.head) {
        Free* f = c.head;
        c.head = f->next;
        std::free(f);
      }
      c.count = 0;
    }
    bytes_ = 0;
  }

  std::size_t bytes() const { return bytes_; }

 private:
  struct Free {
    Free* next;
  };
  struct Class {
    Free* head = nullptr;
    std::size_t count = 0;
  };
  Class classes_[kClasses];  // class 0 is never used
  std::size_t bytes_ = 0;
  bool dead_ = false;
};

static_assert(BlockCache::class_of(BlockCache::kMax) == BlockCache::kClasses - 1);
static_assert(BlockCache::class_size(BlockCache::kSmallClasses) == BlockCache::kSmallMax);

}  // namespace osprey
