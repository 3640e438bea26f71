#pragma once
// Batcher: the forwards of one model that arrive together run as one batched
// forward ([N,3,H,W] in, [N,...] out).
//
//   Batcher b({.max_batch = 2, .max_delay = 2ms}, [&] { return others_on_the_way(); });
//   Batcher::Ran r = b.run(blob, [&](const cv::Mat& batch) { return engine.forward(batch); });
//   use(r.output);  // this blob's [1,...] slice; r.batch = how many rode along
//
// Leader and followers, on the callers' own threads (the inference workers):
// the first blob into an empty batch leads. It waits until the batch holds
// max_batch blobs, or max_delay has passed, or `more_coming` says no other
// request of the model is on its way (then waiting cannot pay: a lone
// request at light load runs at once). It then closes the batch, runs it,
// and hands every member its slice of the output; the followers block until
// then. Blobs that arrive while a batch runs form the next one, so a batch
// never waits for the previous one to finish before it fills.
//
// A batch holds at most as many blobs as there are threads calling run()
// at once: the registry caps max_batch by its worker count.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <opencv2/core.hpp>

namespace osprey::inference {

class Batcher {
 public:
  struct Options {
    int max_batch = 2;
    std::chrono::microseconds max_delay{2000};
  };
  // Runs a batch blob [N,...] and returns the output [N,...]; may throw.
  using Forward = std::function<cv::Mat(const cv::Mat& batch)>;

  Batcher(Options opts, std::function<bool()> more_coming);

  struct Ran {
    cv::Mat output;  // [1,...]: this blob's slice
    int batch = 1;   // blobs in the forward it rode in
  };
  // `blob` is a continuous CV_32F [1,...] Mat. Blocks until its batch has
  // run. An exception of the batch's forward is rethrown to every member.
  Ran run(const cv::Mat& blob, const Forward& forward);

  const Options& options() const { return opts_; }

 private:
  struct Batch;
  void lead(std::unique_lock<std::mutex>& lk, Batch& b);

  Options opts_;
  std::function<bool()> more_coming_;
  std::mutex mu_;
  std::condition_variable grew_;       // the open batch got a blob
  std::shared_ptr<Batch> open_;        // accepting blobs; null when none is
};

// Stacks [1,...] blobs of one shape into [N,...] (copies).
cv::Mat stack_blobs(const std::vector<cv::Mat>& blobs);
// Item i of an [N,...] Mat as its own [1,...] Mat (copies).
cv::Mat unstack(const cv::Mat& batch, int i);

}  // namespace osprey::inference
