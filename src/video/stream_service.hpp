#pragma once
// StreamService: the server's video streams, by id, and the rules for
// which sources may be opened.
//
//   video::StreamService streams(cfg.video, deps);
//   auto spec = ...;                                   // model, options (api/stream_routes.cpp)
//   streams.check_source(body_source, spec);           // fills source fields or throws 400/403
//   auto s = streams.add(std::move(spec));             // 429 when video.max_streams are running
//   s->start(...);                                     // see stream.hpp
//   streams.get(id, principal); streams.list(principal); streams.remove(id, principal);
//
// Sources: rtsp(s)://, http(s):// (MJPEG, HLS, progressive files) when the
// scheme is in video.schemes, and local files only inside one of
// video.allowed_dirs (resolved through symlinks and "..", so a link cannot
// point out of them). With no allowed_dirs, local files are refused.
//
// Ownership: a stream belongs to the key that created it; only that key
// and admin keys see it (others get 404, as if it did not exist).
//
// Metrics: a collector renders each live stream's series at scrape time
// (osprey_stream_frames_total{stream,model,outcome}, osprey_stream_fps,
// osprey_stream_latency_seconds, osprey_stream_reconnects_total,
// osprey_stream_up) and osprey_streams (count): a deleted stream's series
// go with it.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "http/context.hpp"
#include "video/stream.hpp"

namespace osprey::video {

class StreamService {
 public:
  StreamService(config::VideoConfig cfg, StreamDeps deps);
  ~StreamService();  // stops every stream
  StreamService(const StreamService&) = delete;
  StreamService& operator=(const StreamService&) = delete;

  // Validates `source` and sets spec.source, display_source, local_file
  // and source_options. Throws ApiError 400 (malformed, unknown scheme),
  // 403 (a file outside video.allowed_dirs, or local files disabled).
  void check_source(const std::string& source, StreamSpec& spec) const;

  // Registers a stream (not started). Throws ApiError 429 when
  // video.max_streams streams exist.
  std::shared_ptr<Stream> add(StreamSpec spec);
  // Forgets a stream whose first open failed (no stop needed: it stopped).
  void forget(const std::string& id);

  // 404 unless the stream exists and `who` may see it.
  std::shared_ptr<Stream> get(const std::string& id, const http::Principal* who) const;
  std::vector<std::shared_ptr<Stream>> list(const http::Principal* who) const;
  // Removes and stops the stream (BLOCKS for up to a read slice and a
  // forward: call from the CPU pool). 404 as get().
  void remove(const std::string& id, const http::Principal* who);

  // Ends every stream's SSE and MJPEG viewers (they get their `end`) while
  // the streams keep running: the server is draining.
  void close_viewers();

  const config::VideoConfig& config() const { return cfg_; }

 private:
  static bool visible(const Stream& s, const http::Principal* who);
  config::VideoConfig cfg_;
  StreamDeps deps_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Stream>> streams_;
  std::uint64_t collector_ = 0;
};

}  // namespace osprey::video
