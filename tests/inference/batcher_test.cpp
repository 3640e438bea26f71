// Batcher without a model: a fake forward that doubles each item and
// records the batch sizes it saw.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "inference/batcher.hpp"

namespace osprey::inference {
namespace {

using namespace std::chrono_literals;

cv::Mat item(float v) {
  cv::Mat m(3, std::vector<int>{1, 2, 3}.data(), CV_32F, cv::Scalar(v));
  return m;
}

struct FakeEngine {
  std::mutex mu;
  std::vector<int> sizes;
  std::chrono::milliseconds cost{30};
  cv::Mat operator()(const cv::Mat& b) {
    {
      std::lock_guard lk(mu);
      sizes.push_back(b.size[0]);
    }
    std::this_thread::sleep_for(cost);
    cv::Mat out = b.clone();
    out *= 2;
    return out;
  }
};

TEST(Batcher, StackAndUnstackRoundTrip) {
  cv::Mat s = stack_blobs({item(1), item(2), item(3)});
  ASSERT_EQ(s.dims, 3);
  EXPECT_EQ(s.size[0], 3);
  for (int i = 0; i < 3; ++i) {
    cv::Mat u = unstack(s, i);
    EXPECT_EQ(u.size[0], 1);
    EXPECT_EQ(u.size[2], 3);
    EXPECT_FLOAT_EQ(u.ptr<float>()[5], float(i + 1));
  }
  EXPECT_THROW(stack_blobs({item(1), cv::Mat(3, std::vector<int>{1, 2, 4}.data(), CV_32F)}), std::invalid_argument);
  EXPECT_THROW(stack_blobs({}), std::invalid_argument);
  EXPECT_THROW(unstack(s, 3), std::invalid_argument);
}

TEST(Batcher, ALoneRequestDoesNotWaitWhenNothingElseIsComing) {
  FakeEngine fe;
  fe.cost = 0ms;
  Batcher b({4, 500ms}, [] { return false; });
  auto t0 = std::chrono::steady_clock::now();
  auto r = b.run(item(3), std::ref(fe));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms);
  EXPECT_EQ(r.batch, 1);
  EXPECT_FLOAT_EQ(r.output.ptr<float>()[0], 6);
}

TEST(Batcher, ALeaderWaitsAtMostTheDelay) {
  FakeEngine fe;
  fe.cost = 0ms;
  Batcher b({4, 50ms}, [] { return true; });  // someone "is coming" but never does
  auto t0 = std::chrono::steady_clock::now();
  auto r = b.run(item(1), std::ref(fe));
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 50ms);
  EXPECT_LT(waited, 1000ms);
  EXPECT_EQ(r.batch, 1);
}

TEST(Batcher, RequestsArrivingTogetherShareAForwardAndGetTheirOwnSlice) {
  FakeEngine fe;
  Batcher b({4, 2000ms}, [] { return true; });
  const int n = 8;
  std::barrier start(n);
  std::vector<float> got(n, -1);
  std::vector<int> batch(n, 0);
  std::vector<std::thread> th;
  for (int i = 0; i < n; ++i) {
    th.emplace_back([&, i] {
      start.arrive_and_wait();
      auto r = b.run(item(float(i)), std::ref(fe));
      got[i] = r.output.ptr<float>()[4];
      batch[i] = r.batch;
      EXPECT_EQ(r.output.size[0], 1);
    });
  }
  for (auto& t : th) t.join();
  for (int i = 0; i < n; ++i) EXPECT_FLOAT_EQ(got[i], 2.0f * i) << i;
  // Eight callers, batches of at most four, and a full batch runs at once
  // (well before the 2 s delay): exactly two forwards of four.
  EXPECT_EQ(fe.sizes, (std::vector<int>{4, 4}));
  for (int i = 0; i < n; ++i) EXPECT_EQ(batch[i], 4);
}

// Two callers meet in one batch whose forward is `forward`; returns the
// messages of the errors they got.
std::vector<std::string> run_pair(Batcher& b, const Batcher::Forward& forward) {
  std::barrier start(2);
  std::mutex mu;
  std::vector<std::string> errors;
  std::vector<std::thread> th;
  for (int i = 0; i < 2; ++i) {
    th.emplace_back([&] {
      start.arrive_and_wait();
      try {
        b.run(item(1), forward);
      } catch (const std::runtime_error& e) {
        std::lock_guard lk(mu);
        errors.push_back(e.what());
      }
    });
  }
  for (auto& t : th) t.join();
  return errors;
}

TEST(Batcher, AFailedForwardFailsEveryMemberAndTheNextBatchRuns) {
  std::atomic<bool> company{true};
  Batcher b({2, 2000ms}, [&] { return company.load(); });
  std::atomic<int> calls{0};
  auto failing = [&](const cv::Mat&) -> cv::Mat {
    ++calls;
    throw std::runtime_error("engine broke");
  };
  EXPECT_EQ(run_pair(b, failing), (std::vector<std::string>{"engine broke", "engine broke"}));
  EXPECT_EQ(calls.load(), 1);
  company = false;
  FakeEngine fe;
  fe.cost = 0ms;
  EXPECT_EQ(b.run(item(2), std::ref(fe)).batch, 1);
}

TEST(Batcher, AForwardReturningTheWrongBatchIsAnError) {
  Batcher b({2, 2000ms}, [] { return true; });
  auto wrong = [](const cv::Mat&) { return item(0); };  // always [1,...]
  EXPECT_EQ(run_pair(b, wrong).size(), 2u);
}

}  // namespace
}  // namespace osprey::inference
