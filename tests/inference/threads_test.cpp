// The thread plan: how many inference workers and how many intra-op threads
// a forward gets (inference/threads.hpp).
#include <gtest/gtest.h>

#include <thread>

#include "inference/threads.hpp"

namespace osprey::inference {
namespace {

int cores() { return int(std::max(1u, std::thread::hardware_concurrency())); }

TEST(ThreadPlan, AutoFitsTheCoresAndIsElastic) {
  auto p = plan_threads(0, 0);
  EXPECT_EQ(p.cores, cores());
  EXPECT_EQ(p.workers, cores());
  EXPECT_EQ(p.engine_threads, 1);  // cores / workers
  EXPECT_TRUE(p.elastic);
  p = plan_threads(1, 0);
  EXPECT_EQ(p.workers, 1);
  EXPECT_EQ(p.engine_threads, cores());
  EXPECT_TRUE(p.elastic);
}

TEST(ThreadPlan, ExplicitEngineThreadsAreKept) {
  auto p = plan_threads(2, 3);
  EXPECT_EQ(p.workers, 2);
  EXPECT_EQ(p.engine_threads, 3);
  EXPECT_FALSE(p.elastic);
}

TEST(RunningForward, AForwardAloneGetsEveryCoreOthersShare) {
  {
    RunningForward a;
    EXPECT_EQ(a.share(8), 8);
    {
      RunningForward b;
      EXPECT_EQ(b.share(8), 4);  // started beside a
      RunningForward c;
      EXPECT_EQ(c.share(8), 2);  // 8 / 3
      EXPECT_EQ(a.share(8), 8);  // a keeps what it started with
    }
    RunningForward d;  // b and c have ended
    EXPECT_EQ(d.share(8), 4);
  }
  RunningForward e;
  EXPECT_EQ(e.share(2), 2);
  RunningForward f, g, h;
  EXPECT_EQ(h.share(2), 1);  // never below one thread
}

}  // namespace
}  // namespace osprey::inference
