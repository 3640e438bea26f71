#pragma once
// Stream: one server-side video stream. A reader thread pulls and decodes
// frames from the source (video/source.hpp) into a one-frame slot; a
// processing thread takes the newest frame from the slot, runs detection on
// the registry's workers, tracks objects (video/tracker.hpp), counts line
// crossings and zones (video/counting.hpp) and publishes one JSON event per
// processed frame, plus an annotated JPEG when someone watches the MJPEG
// view.
//
//   auto s = std::make_shared<Stream>(id, spec, deps);
//   s->start([](std::exception_ptr first_open) { ... });  // told once: opened, or why not
//   auto sub = s->events().subscribe(ctx.executor);       // see feed.hpp
//   s->to_json();                                         // GET /v1/streams/{id}
//   s->stop();                                            // joins its threads
//
// Latency stays bounded: when the model is slower than the source, a frame
// that waits in the slot is replaced by the next one (counted as dropped),
// so the frame processed is always the newest. With in_flight N, N
// processing threads each take the newest frame and detect at once (on
// different inference workers); their results are tracked and published in
// frame order, so events never go back in time. A stream's latency is
// measured from the moment its frame's packet arrived to the moment its
// event is published.
//
// Failures: the first open reports to start()'s callback (the API answers
// 422 and forgets the stream). After that, a source that fails or ends is
// reopened with exponential backoff (0.5 s doubling to 30 s) while the
// stream shows state "reconnecting" and the last error; a local file that
// ends (without loop) moves to "ended". States: starting, running,
// reconnecting, throttled (the key's images-per-minute limit is spent:
// frames are skipped until the minute turns), ended, error, stopped.
//
// Usage: every processed frame is one image against the key's ipm limit
// (Limiter::take_images) and the ledger gets one record per stream per
// minute: images = frames processed, latency_ms = the stream time covered,
// method "STREAM", route /v1/streams/{id}.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "access/key.hpp"
#include "inference/detection.hpp"
#include "metrics/registry.hpp"
#include "video/counting.hpp"
#include "video/feed.hpp"
#include "video/source.hpp"
#include "video/tracker.hpp"
#include "video/usage_meter.hpp"

namespace osprey::access {
class Limiter;
}
namespace osprey::inference {
class ModelRegistry;
}
namespace osprey::usage {
class Ledger;
}

namespace osprey::video {

inline constexpr int kMaxInFlight = 4;

struct StreamSpec {
  std::string source;          // URL or local path, as validated by StreamService
  std::string display_source;  // the same without credentials
  bool local_file = false;     // a path, not a URL: it ends rather than reconnects
  std::string model;
  double max_fps = 0;  // processed frames per second at most; 0 = as many as the model keeps up with
  int in_flight = 1;   // frames in detection at once (1..kMaxInFlight); the API picks a default per model
  inference::DetectOptions options;  // as the client asked
  float confidence = 0.25f;          // the confidence in effect (the request's, else the model's default)
  std::vector<Line> lines;
  std::vector<Zone> zones;
  SourceOptions source_options;
  std::string key_id;  // owner; "" when auth is off
  access::Limits limits;
};

struct StreamDeps {
  inference::ModelRegistry* registry = nullptr;
  access::Limiter* limiter = nullptr;  // null: no limits
  usage::Ledger* ledger = nullptr;     // null: nothing recorded
  // Whether the owner's key is still valid: a stream whose key is revoked
  // stops within seconds (state "error", kind key_revoked). Null: always.
  std::function<bool(const std::string& key_id)> key_active;
};

class Stream {
 public:
  Stream(std::string id, StreamSpec spec, StreamDeps deps);
  ~Stream();  // stop()s
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Starts both threads. `first_open` is called once, from the reader
  // thread: with nullptr when the source opened, else with the
  // SourceError (after which the stream is in state "error" and stopped).
  void start(std::function<void(std::exception_ptr)> first_open);
  // Idempotent; joins the threads (at most a read timeout slice and one
  // forward). Closes the feeds and writes the last ledger record.
  void stop();

  const std::string& id() const { return id_; }
  const StreamSpec& spec() const { return spec_; }
  std::string state() const;
  nlohmann::json to_json() const;
  Feed& events() { return events_; }
  Feed& mjpeg() { return mjpeg_; }

  // Per-stream series for /metrics (StreamService's collector).
  void collect(metrics::Exposition& x, const std::string& family) const;

 private:
  void read_loop();
  void process_loop();
  // The next frame to detect, with its place in the publishing order, or
  // false when this processing thread should end. One thread at a time.
  bool next_frame(Frame& out, std::uint64_t& seq);
  bool take_frame(Frame& out);
  void end_source();  // the reader is done for good
  // Calls start()'s callback once (reader thread); later calls do nothing.
  void report_first_open(std::exception_ptr e);
  // Tracks and publishes frame `seq` once every earlier one has been.
  void publish_in_order(std::uint64_t seq, Frame& f, const inference::DetectResult* res, std::exception_ptr err);
  void publish(Frame& f, const inference::DetectResult& res);
  void set_state(const char* s);
  void set_error(const std::string& kind, const std::string& message);
  // Sleeps up to `d`, waking early on stop; false when stopping.
  bool pause(std::chrono::milliseconds d);

  const std::string id_;
  const StreamSpec spec_;
  const StreamDeps deps_;
  const std::int64_t created_ms_;

  std::atomic<bool> stop_{false};
  std::atomic<bool> opened_{false};  // the source opened at least once
  std::thread reader_;
  std::vector<std::thread> processors_;
  std::function<void(std::exception_ptr)> first_open_;

  // The slot: the newest decoded frame not yet taken by the processor.
  std::mutex slot_mu_;
  std::condition_variable slot_cv_;
  std::optional<Frame> slot_;
  bool source_done_ = false;  // reader ended for good: the processor stops when the slot is empty

  Feed events_{32};
  Feed mjpeg_{1};

  mutable std::mutex mu_;  // what GET shows
  std::string state_ = "starting";
  std::string error_kind_, error_message_;
  std::int64_t error_at_ms_ = 0;
  int width_ = 0, height_ = 0;
  double source_fps_ = 0;
  std::string codec_;
  std::deque<double> recent_latency_ms_;  // the last 256, for p50/p99
  nlohmann::json counts_;

  std::atomic<std::uint64_t> received_{0}, processed_{0}, dropped_{0}, throttled_{0}, reconnects_{0};
  std::atomic<double> fps_in_{0}, fps_processed_{0};  // exponentially smoothed
  metrics::Histogram latency_{{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5}};

  // Taking frames (next_frame), one processing thread at a time.
  std::mutex take_mu_;
  std::uint64_t next_seq_ = 0;
  std::chrono::steady_clock::time_point next_due_{}, key_checked_{};

  // Publishing in frame order.
  std::mutex order_mu_;
  std::condition_variable order_cv_;
  std::uint64_t published_seq_ = 0;  // the next seq to publish
  std::chrono::steady_clock::time_point last_published_{};
  std::atomic<int> processors_running_{0};

  // Under order_mu_ (one publisher at a time).
  std::unique_ptr<ByteTracker> tracker_;
  inference::DetectOptions detect_options_;  // spec_.options at the tracker's low threshold
  std::unique_ptr<Counter> counter_;
  UsageMeter meter_;
};

}  // namespace osprey::video
