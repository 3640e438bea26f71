#include "inference/batcher.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <stdexcept>

namespace osprey::inference {

struct Batcher::Batch {
  std::vector<cv::Mat> blobs;
  std::vector<cv::Mat> outputs;
  std::exception_ptr error;
  bool closed = false, done = false;
  std::condition_variable ran;
};

Batcher::Batcher(Options opts, std::function<bool()> more_coming)
    : opts_(opts), more_coming_(std::move(more_coming)) {
  opts_.max_batch = std::max(1, opts_.max_batch);
}

Batcher::Ran Batcher::run(const cv::Mat& blob, const Forward& forward) {
  std::unique_lock lk(mu_);
  std::shared_ptr<Batch> b = open_;
  const bool leader = !b;
  if (leader) b = open_ = std::make_shared<Batch>();
  const int index = int(b->blobs.size());
  b->blobs.push_back(blob);
  if (int(b->blobs.size()) >= opts_.max_batch) {
    open_.reset();  // full: the next blob starts a new batch
    b->closed = true;
  }
  if (leader) {
    lead(lk, *b);
    lk.unlock();
    try {
      cv::Mat out = forward(b->blobs.size() == 1 ? b->blobs[0] : stack_blobs(b->blobs));
      if (out.dims < 1 || out.size[0] != int(b->blobs.size())) {
        throw std::runtime_error("batched forward returned a batch of another size");
      }
      b->outputs.resize(b->blobs.size());
      if (b->blobs.size() == 1) b->outputs[0] = out;
      else for (int i = 0; i < int(b->blobs.size()); ++i) b->outputs[i] = unstack(out, i);
    } catch (...) {
      b->error = std::current_exception();
    }
    lk.lock();
    b->done = true;
    b->ran.notify_all();
  } else {
    grew_.notify_all();
    b->ran.wait(lk, [&] { return b->done; });
  }
  if (b->error) std::rethrow_exception(b->error);
  return Ran{b->outputs[index], int(b->blobs.size())};
}

// Under the lock; returns with the batch closed.
void Batcher::lead(std::unique_lock<std::mutex>& lk, Batch& b) {
  const auto deadline = std::chrono::steady_clock::now() + opts_.max_delay;
  // more_coming_ reads counters that change without telling us, so the wait
  // looks again every 200 us: small beside a forward (tens of ms).
  constexpr auto kLook = std::chrono::microseconds(200);
  while (!b.closed) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline || !more_coming_()) break;
    grew_.wait_until(lk, std::min(deadline, now + kLook));
  }
  if (!b.closed) {
    b.closed = true;
    open_.reset();
  }
}

cv::Mat stack_blobs(const std::vector<cv::Mat>& blobs) {
  if (blobs.empty()) throw std::invalid_argument("stack_blobs: no blobs");
  const cv::Mat& first = blobs[0];
  std::vector<int> shape(first.size.p, first.size.p + first.dims);
  if (shape.empty() || shape[0] != 1) throw std::invalid_argument("stack_blobs: blobs must be [1,...]");
  shape[0] = int(blobs.size());
  cv::Mat out(int(shape.size()), shape.data(), first.type());
  const size_t bytes = first.total() * first.elemSize();
  for (size_t i = 0; i < blobs.size(); ++i) {
    const cv::Mat& b = blobs[i];
    if (b.type() != first.type() || b.total() != first.total() || !b.isContinuous() || b.dims != first.dims) {
      throw std::invalid_argument("stack_blobs: blobs differ in shape or type");
    }
    std::memcpy(out.data + i * bytes, b.data, bytes);
  }
  return out;
}

cv::Mat unstack(const cv::Mat& batch, int i) {
  if (batch.dims < 1 || i < 0 || i >= batch.size[0] || !batch.isContinuous()) {
    throw std::invalid_argument("unstack: index out of range");
  }
  std::vector<int> shape(batch.size.p, batch.size.p + batch.dims);
  shape[0] = 1;
  cv::Mat out(int(shape.size()), shape.data(), batch.type());
  const size_t bytes = out.total() * out.elemSize();
  std::memcpy(out.data, batch.data + size_t(i) * bytes, bytes);
  return out;
}

}  // namespace osprey::inference
