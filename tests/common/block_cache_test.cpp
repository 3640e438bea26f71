// BlockCache: the per-thread cache behind the server's operator new
// (cli/operator_new.cpp). Blocks come back by size class, never smaller
// than asked for, and the cache stays within its bounds.

#include <gtest/gtest.h>

#include <malloc.h>

#include <cstring>
#include <set>
#include <vector>

#include "common/block_cache.hpp"

using osprey::BlockCache;

TEST(BlockCache, ClassesHoldWhatTheyAreAskedFor) {
  for (std::size_t n = 1; n <= BlockCache::kMax; ++n) {
    std::size_t r = BlockCache::rounded(n);
    ASSERT_GE(r, n) << n;
    if (n > 24) ASSERT_LT(r - n, n <= BlockCache::kSmallMax ? BlockCache::kSmallStep : BlockCache::kLargeStep) << n;
    // A size glibc's chunks hold exactly (16 k + 8): no padding beyond the class.
    ASSERT_EQ(r % 16, 8u) << n;
    ASSERT_EQ(BlockCache::class_of(r), BlockCache::class_of(n)) << n;
    // A block of exactly that size is filed back under the same class.
    ASSERT_EQ(BlockCache::class_holding(r), BlockCache::class_of(n)) << n;
  }
  EXPECT_FALSE(BlockCache::cached_size(0));
  EXPECT_FALSE(BlockCache::cached_size(BlockCache::kMax + 1));
}

TEST(BlockCache, FreedBlocksComeBackForTheirClass) {
  BlockCache c;
  EXPECT_EQ(c.take(100), nullptr);
  void* p = std::malloc(BlockCache::rounded(100));
  ASSERT_TRUE(c.give(p, malloc_usable_size(p)));
  EXPECT_GT(c.bytes(), 0u);
  // Same class: the same block, and all of it usable.
  void* q = c.take(97);
  EXPECT_EQ(q, p);
  std::memset(q, 0xab, 97);
  EXPECT_EQ(c.bytes(), 0u);
  EXPECT_EQ(c.take(97), nullptr);
  std::free(q);
}

TEST(BlockCache, BlocksOfAnyOriginAreFiledByWhatTheyHold) {
  BlockCache c;
  // malloc(1000) holds a little more than 1000 bytes: it may serve 1000,
  // and never a request for more than it holds.
  void* p = std::malloc(1000);
  std::size_t usable = malloc_usable_size(p);
  ASSERT_TRUE(c.give(p, usable));
  EXPECT_EQ(c.take(usable + 1), nullptr);
  void* q = nullptr;
  for (std::size_t n = usable; n >= 900 && !q; --n) q = c.take(n);
  EXPECT_EQ(q, p);
  std::free(q);
  // Too big to hold: left to free().
  void* big = std::malloc(64 * 1024);
  EXPECT_FALSE(c.give(big, malloc_usable_size(big)));
  std::free(big);
}

TEST(BlockCache, StaysWithinItsBounds) {
  BlockCache c;
  std::vector<void*> blocks;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < BlockCache::kPerClass + 10; ++i) {
    void* p = std::malloc(BlockCache::rounded(64));
    if (c.give(p, BlockCache::rounded(64))) ++kept;
    else std::free(p);
  }
  EXPECT_EQ(kept, BlockCache::kPerClass);
  // The byte bound, with the largest class.
  std::size_t big_kept = 0;
  for (std::size_t i = 0; i < BlockCache::kPerClass; ++i) {
    void* p = std::malloc(BlockCache::kMax);
    if (c.give(p, BlockCache::kMax)) ++big_kept;
    else std::free(p);
  }
  EXPECT_LE(c.bytes(), BlockCache::kMaxBytes);
  EXPECT_LT(big_kept, BlockCache::kPerClass);
  // Every block comes back once, and only once.
  std::set<void*> seen;
  while (void* p = c.take(64)) EXPECT_TRUE(seen.insert(p).second);
  EXPECT_EQ(seen.size(), BlockCache::kPerClass);
  for (void* p : seen) std::free(p);
  c.drain();
  EXPECT_EQ(c.bytes(), 0u);
  EXPECT_EQ(c.take(BlockCache::kMax), nullptr);
  // Drained (the thread is exiting): nothing more is held.
  void* p = std::malloc(64);
  EXPECT_FALSE(c.give(p, malloc_usable_size(p)));
  std::free(p);
}
