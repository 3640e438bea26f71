#include "video/stream.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "access/limiter.hpp"
#include "common/error.hpp"
#include "inference/model_registry.hpp"
#include "video/event_json.hpp"
#include "vision/annotate.hpp"

namespace osprey::video {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Smoothed rate from the gap between two events (about the last second).
void smooth_rate(std::atomic<double>& rate, Clock::time_point& last, Clock::time_point now) {
  if (last != Clock::time_point{}) {
    double dt = std::chrono::duration<double>(now - last).count();
    if (dt > 0) {
      double inst = 1.0 / dt, old = rate.load(std::memory_order_relaxed);
      double a = std::min(1.0, dt);  // weight ~ share of a one-second window
      rate.store(old == 0 ? inst : old + a * (inst - old), std::memory_order_relaxed);
    }
  }
  last = now;
}

}  // namespace

Stream::Stream(std::string id, StreamSpec spec, StreamDeps deps)
    : id_(std::move(id)),
      spec_(std::move(spec)),
      deps_(deps),
      created_ms_(wall_ms()),
      meter_(deps.ledger, {spec_.key_id, "/v1/streams/{id}", "STREAM", spec_.model, id_}, created_ms_) {
  const auto topts = options_for_confidence(spec_.confidence);
  tracker_ = std::make_unique<ByteTracker>(topts);
  detect_options_ = spec_.options;
  detect_options_.confidence = topts.low_threshold;
  counter_ = std::make_unique<Counter>(spec_.lines, spec_.zones);
}

Stream::~Stream() { stop(); }

void Stream::start(std::function<void(std::exception_ptr)> first_open) {
  first_open_ = std::move(first_open);
  reader_ = std::thread([this] { read_loop(); });
  const int n = std::clamp(spec_.in_flight, 1, kMaxInFlight);
  processors_running_ = n;
  for (int i = 0; i < n; ++i) processors_.emplace_back([this] { process_loop(); });
}

void Stream::stop() {
  {
    // Under the slot's lock, so that a thread between its check of stop_
    // and its wait cannot miss the notification.
    std::lock_guard lock(slot_mu_);
    stop_ = true;
  }
  slot_cv_.notify_all();
  if (reader_.joinable()) reader_.join();
  for (auto& t : processors_)
    if (t.joinable()) t.join();
  {
    std::lock_guard lock(mu_);
    if (state_ != "error" && state_ != "ended") state_ = "stopped";
  }
  events_.close();
  mjpeg_.close();
}

std::string Stream::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

void Stream::set_state(const char* s) {
  std::lock_guard lock(mu_);
  state_ = s;
}

void Stream::set_error(const std::string& kind, const std::string& message) {
  std::lock_guard lock(mu_);
  error_kind_ = kind;
  error_message_ = message;
  error_at_ms_ = wall_ms();
}

bool Stream::pause(milliseconds d) {
  std::unique_lock lock(slot_mu_);
  slot_cv_.wait_for(lock, d, [this] { return stop_.load(); });
  return !stop_.load();
}

void Stream::read_loop() {
  milliseconds backoff(500);
  bool opened_once = false;
  std::mt19937 rng(std::random_device{}());
  std::exception_ptr failure;
  while (!stop_) {
    bool ended = false;
    try {
      auto src = VideoSource::open(spec_.source, spec_.source_options, stop_);
      {
        std::lock_guard lock(mu_);
        width_ = src->width();
        height_ = src->height();
        source_fps_ = src->fps();
        codec_ = src->codec();
        state_ = "running";
      }
      if (!opened_once) {
        opened_once = true;
        opened_ = true;
        report_first_open(nullptr);
      }
      backoff = milliseconds(500);
      Clock::time_point last{};
      Frame f;
      while (!stop_ && src->read(f)) {
        ++received_;
        smooth_rate(fps_in_, last, Clock::now());
        std::lock_guard lock(slot_mu_);
        if (slot_) ++dropped_;  // the processor never got to it: the newer frame replaces it
        slot_ = std::move(f);
        slot_cv_.notify_one();
        f = Frame{};
      }
      ended = !stop_;
      if (ended && spec_.local_file && !spec_.source_options.loop_files) {
        // A local file played to its end: done, not broken.
        end_source();
        set_state("ended");
        return;
      }
      if (ended) set_error("ended", "the source ended; reopening");
    } catch (const SourceError& e) {
      if (e.kind() == "stopped" || stop_) break;
      failure = std::current_exception();
    } catch (const std::exception& e) {
      if (stop_) break;
      failure = std::make_exception_ptr(SourceError("io", e.what()));
    }
    if (failure) {
      std::string kind, message;
      try {
        std::rethrow_exception(failure);
      } catch (const SourceError& e) {
        kind = e.kind();
        message = e.what();
      }
      set_error(kind, message);
      if (!opened_once) {
        // The API reports this one to the client and drops the stream.
        set_state("error");
        end_source();
        report_first_open(failure);
        return;
      }
      spdlog::warn("stream {}: {} ({}); reconnecting in {} ms", id_, message, kind, backoff.count());
      failure = nullptr;
    }
    if (stop_) break;
    set_state("reconnecting");
    ++reconnects_;
    // Full jitter on top of half the backoff: replicas watching one camera
    // do not all knock at the same instant.
    auto jitter = std::uniform_int_distribution<long>(0, backoff.count() / 2)(rng);
    if (!pause(backoff / 2 + milliseconds(jitter))) break;
    backoff = std::min(backoff * 2, milliseconds(30'000));
  }
  // Stopped before the source ever opened: the caller of start() still
  // waits for its answer.
  report_first_open(std::make_exception_ptr(SourceError("stopped", "the stream was stopped before its source opened")));
  end_source();
}

void Stream::end_source() {
  std::lock_guard lock(slot_mu_);
  source_done_ = true;
  slot_cv_.notify_all();
}

void Stream::report_first_open(std::exception_ptr e) {
  if (!first_open_) return;
  auto fn = std::move(first_open_);
  first_open_ = nullptr;
  fn(e);
}

bool Stream::take_frame(Frame& out) {
  std::unique_lock lock(slot_mu_);
  slot_cv_.wait(lock, [this] { return stop_ || slot_.has_value() || source_done_; });
  if (stop_ || !slot_) return false;
  out = std::move(*slot_);
  slot_.reset();
  return true;
}

bool Stream::next_frame(Frame& f, std::uint64_t& seq) {
  std::lock_guard take(take_mu_);
  for (;;) {
    if (deps_.key_active && !spec_.key_id.empty() && Clock::now() - key_checked_ > std::chrono::seconds(5)) {
      key_checked_ = Clock::now();
      if (!deps_.key_active(spec_.key_id)) {
        set_error("key_revoked", "the API key that created this stream was revoked");
        set_state("error");
        std::lock_guard lock(slot_mu_);
        stop_ = true;  // the reader ends too
        slot_cv_.notify_all();
        return false;
      }
    }
    if (spec_.max_fps > 0 && next_due_ != Clock::time_point{}) {
      auto wait = std::chrono::duration_cast<milliseconds>(next_due_ - Clock::now());
      if (wait.count() > 0 && !pause(wait)) return false;
    }
    if (!take_frame(f)) {
      std::lock_guard lock(slot_mu_);
      if (source_done_ || stop_) return false;
      continue;
    }
    if (spec_.max_fps > 0) next_due_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                          std::chrono::duration<double>(1.0 / spec_.max_fps));
    // The key's images-per-minute limit holds for stream frames as for uploads.
    if (deps_.limiter && !spec_.key_id.empty() && (spec_.limits.ipm > 0 || spec_.limits.usd_per_month > 0)) {
      access::Admission a;
      try {
        a = deps_.limiter->take_images(spec_.key_id, spec_.limits, 1, wall_ms());
      } catch (const std::exception& e) {
        set_error("limiter_unavailable", e.what());
        ++throttled_;
        if (!pause(milliseconds(1000))) return false;
        continue;
      }
      if (!a.allowed) {
        ++throttled_;
        set_state("throttled");
        auto secs = access::retry_after_seconds(a.denied_by, wall_ms());
        // Sleep in short slices: stop() and the turn of the minute both end it.
        if (!pause(milliseconds(std::min<std::int64_t>(secs * 1000, 1000)))) return false;
        continue;
      }
      if (state() == "throttled") set_state("running");
    }
    seq = next_seq_++;
    return true;
  }
}

void Stream::process_loop() {
  Frame f;
  std::uint64_t seq = 0;
  while (next_frame(f, seq)) {
    // Detection runs beside the other processing threads' (each on its own
    // inference worker); only the publishing is in order.
    std::optional<inference::DetectResult> res;
    std::exception_ptr err;
    try {
      res = deps_.registry->detect_sync(spec_.model, f.bgr, detect_options_);
    } catch (...) {
      err = std::current_exception();
    }
    publish_in_order(seq, f, res ? &*res : nullptr, err);
    if (err) {
      try {
        std::rethrow_exception(err);
      } catch (const ApiError& e) {
        // The model was unloaded or its queue is full: wait before the next frame.
        if ((e.status() == 404 || e.status() == 503) && !pause(milliseconds(500))) break;
      } catch (...) {
      }
    }
  }
  // The last processing thread out ends the stream's outputs.
  if (processors_running_.fetch_sub(1) != 1) return;
  if (opened_) meter_.finish(wall_ms());  // a stream that never opened was never one
  // Subscribers hear the end now, not when the stream is deleted.
  events_.close();
  mjpeg_.close();
}

void Stream::publish_in_order(std::uint64_t seq, Frame& f, const inference::DetectResult* res,
                              std::exception_ptr err) {
  std::unique_lock lock(order_mu_);
  // Every earlier frame's thread publishes (or records its error) without
  // waiting for anything else, so this wait ends.
  order_cv_.wait(lock, [&] { return published_seq_ == seq; });
  try {
    if (err) std::rethrow_exception(err);
    publish(f, *res);
  } catch (const ApiError& e) {
    set_error(e.code().empty() ? "model_error" : e.code(), e.what());
  } catch (const std::exception& e) {
    set_error("processing_error", e.what());
    spdlog::error("stream {}: frame {}: {}", id_, f.index, e.what());
  }
  smooth_rate(fps_processed_, last_published_, Clock::now());
  ++published_seq_;
  order_cv_.notify_all();
}

void Stream::publish(Frame& f, const inference::DetectResult& res) {
  auto tracked = tracker_->update(res.detections);
  counter_->update(tracked);

  // The picture first: the event then says what the picture shows, and its
  // latency includes the encoding.
  if (mjpeg_.subscribers() > 0) {
    std::vector<vision::Annotation> boxes;
    for (const auto& o : tracked)
      boxes.push_back({o.box.x1, o.box.y1, o.box.x2, o.box.y2, fmt::format("{} #{}", o.label, o.track_id),
                       o.confidence, o.class_id});
    mjpeg_.publish(std::make_shared<const std::string>(vision::encode_jpeg(vision::annotate(f.bgr, boxes), 80)));
  }
  const auto now = Clock::now();
  const double latency_ms = std::chrono::duration<double, std::milli>(now - f.received_steady).count();
  nlohmann::json ev = {
      {"stream", id_},
      {"frame", f.index},
      {"pts", std::isfinite(f.pts_seconds) ? nlohmann::json(round_to(f.pts_seconds, 1e-3)) : nlohmann::json()},
      {"received_at_ms",
       std::chrono::duration_cast<milliseconds>(f.received.time_since_epoch()).count()},
      {"width", f.bgr.cols},
      {"height", f.bgr.rows},
      {"detections", tracked_json(tracked)},
      {"dropped", dropped_.load()},
      {"timings", timings_json(res.timings, latency_ms)}};
  if (!counter_->empty()) {
    auto counts = counter_->to_json();
    ev["counts"] = counts;
    std::lock_guard lock(mu_);
    counts_ = std::move(counts);
  }
  ++processed_;  // before the event: a client that saw N events reads at least N processed
  events_.publish(std::make_shared<const std::string>(ev.dump()));
  meter_.add_images(1, wall_ms());
  latency_.observe(latency_ms / 1000.0);
  std::lock_guard lock(mu_);
  recent_latency_ms_.push_back(latency_ms);
  if (recent_latency_ms_.size() > 256) recent_latency_ms_.pop_front();
  if (state_ == "starting" || state_ == "reconnecting") state_ = "running";
}

nlohmann::json Stream::to_json() const {
  std::lock_guard lock(mu_);
  std::vector<double> lat(recent_latency_ms_.begin(), recent_latency_ms_.end());
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    if (lat.empty()) return 0.0;
    return round_to(lat[std::min(lat.size() - 1, static_cast<std::size_t>(p * static_cast<double>(lat.size())))],
                    0.01);
  };
  nlohmann::json j = {
      {"id", id_},
      {"source", spec_.display_source},
      {"model", spec_.model},
      {"state", state_},
      {"created_at", created_ms_ / 1000},
      {"video", {{"width", width_}, {"height", height_}, {"fps", round_to(source_fps_, 0.01)}, {"codec", codec_}}},
      {"fps", {{"in", round_to(fps_in_.load(), 0.01)}, {"processed", round_to(fps_processed_.load(), 0.01)}}},
      {"frames",
       {{"received", received_.load()},
        {"processed", processed_.load()},
        {"dropped", dropped_.load()},
        {"throttled", throttled_.load()}}},
      {"latency_ms", {{"p50", pct(0.5)}, {"p99", pct(0.99)}, {"window", lat.size()}}},
      {"reconnects", reconnects_.load()},
      {"subscribers", {{"events", events_.subscribers()}, {"mjpeg", mjpeg_.subscribers()}}},
      {"max_fps", spec_.max_fps},
      {"in_flight", spec_.in_flight},
  };
  if (!error_kind_.empty())
    j["last_error"] = {{"kind", error_kind_}, {"message", error_message_}, {"at", error_at_ms_ / 1000}};
  else
    j["last_error"] = nullptr;
  if (!counts_.is_null()) j["counts"] = counts_;
  return j;
}

void Stream::collect(metrics::Exposition& x, const std::string& family) const {
  const metrics::Labels l{{"stream", id_}, {"model", spec_.model}};
  if (family == "frames") {
    x.sample("osprey_stream_frames_total", {{"stream", id_}, {"model", spec_.model}, {"outcome", "received"}},
             static_cast<double>(received_.load()));
    x.sample("osprey_stream_frames_total", {{"stream", id_}, {"model", spec_.model}, {"outcome", "processed"}},
             static_cast<double>(processed_.load()));
    x.sample("osprey_stream_frames_total", {{"stream", id_}, {"model", spec_.model}, {"outcome", "dropped"}},
             static_cast<double>(dropped_.load()));
    x.sample("osprey_stream_frames_total", {{"stream", id_}, {"model", spec_.model}, {"outcome", "throttled"}},
             static_cast<double>(throttled_.load()));
  } else if (family == "fps") {
    x.sample("osprey_stream_fps", {{"stream", id_}, {"model", spec_.model}, {"direction", "in"}}, fps_in_.load());
    x.sample("osprey_stream_fps", {{"stream", id_}, {"model", spec_.model}, {"direction", "processed"}},
             fps_processed_.load());
  } else if (family == "latency") {
    x.histogram("osprey_stream_latency_seconds", l, latency_);
  } else if (family == "reconnects") {
    x.sample("osprey_stream_reconnects_total", l, static_cast<double>(reconnects_.load()));
  } else if (family == "up") {
    x.sample("osprey_stream_up", l, state() == "running" ? 1.0 : 0.0);
  }
}

}  // namespace osprey::video
