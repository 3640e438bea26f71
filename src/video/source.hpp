#pragma once
// VideoSource: frames out of a video file or a network stream (HTTP(S),
// RTSP), decoded by libavformat/libavcodec into 8-bit BGR cv::Mats. FFmpeg
// lives in the plugin libosprey_video.so (source_plugin.hpp), loaded by the
// first open(); without it open() throws SourceError "unsupported".
//
//   std::atomic<bool> stop{false};
//   SourceOptions opt;
//   opt.read_timeout_ms = 3000;
//   auto src = VideoSource::open("rtsp://cam.local/stream1", opt, stop);
//   Frame f;
//   while (src->read(f)) {            // blocks until the next frame
//     detect(f.bgr);                  // f.index, f.pts_seconds, f.received
//   }                                 // false: the stream ended cleanly
//   // open() and read() throw SourceError; e.kind() says why ("timeout", ...)
//
// What it guarantees:
//  - Every blocking call (connect, probe, read) returns within the configured
//    timeout, or promptly once `stop` is set (kind "stopped"): libav polls our
//    interrupt callback, which enforces our own deadline too, so a server that
//    accepts and then never sends cannot hang the thread. The one exception is
//    the DNS lookup, which libav does with a blocking getaddrinfo().
//  - Only the protocols a scheme needs are allowed (a local file may only read
//    "file"; an http(s) source can never reach a local file, even through an
//    HLS playlist), and local files may only be ordinary video containers, so
//    a playlist-like demuxer (hls, concat, image2 patterns) cannot pull in
//    other files.
//  - Error messages are short and safe to show to API clients: credentials and
//    the query string of the URL are never included.
//  - A local file is read at its native rate by default (pace_files), so that
//    it behaves like a camera; loop_files starts it over at its end.
//
// Threading: one VideoSource is used by one thread. `stop` may be set from any
// thread; it must outlive the VideoSource. Decoding is single-threaded on
// purpose (see source.cpp).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include <opencv2/core.hpp>

namespace osprey::video {

struct SourceOptions {
  int open_timeout_ms = 5000;                // connect + probe
  int read_timeout_ms = 5000;                // no packet for this long -> "timeout"
  bool pace_files = true;                    // read local files at their native frame rate (like ffmpeg -re)
  bool loop_files = false;                   // start a local file over at its end
  int max_side = 1920;                       // larger frames are scaled down (aspect kept) when converted
  std::int64_t max_pixels = 4096LL * 4096;   // a larger declared/decoded frame size is refused ("invalid")
};

struct Frame {
  cv::Mat bgr;                               // 8-bit BGR, owned by the Frame
  std::int64_t index = 0;                    // 0,1,2,... frames returned since open (continues across loops)
  // Presentation time in the source's clock, continued across loops. A file
  // without timestamps (raw H.264) gets position/fps; a live stream without
  // them (e.g. MJPEG over HTTP) gets NaN.
  double pts_seconds = 0;
  // When the frame's packet arrived (before decode); for a paced file, when
  // the frame fell due.
  std::chrono::system_clock::time_point received;
  std::chrono::steady_clock::time_point received_steady;  // the same instant, on the steady clock
};

// kind(): "not_found", "unreachable", "timeout", "invalid" (not a video, no
// video stream, corrupt, too large), "unsupported" (codec/protocol), "io",
// "stopped". what() is safe to show to API clients.
class SourceError : public std::runtime_error {
 public:
  SourceError(std::string kind, const std::string& message)
      : std::runtime_error(message), kind_(std::move(kind)) {}
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
};

class VideoSource {
 public:
  // Opens `url`: a file path, file://, http://, https:// or rtsp(s)://. The
  // caller has already checked the scheme and the allowed folders. Throws
  // SourceError. Setting `stop` makes a blocking open/read return promptly
  // with kind "stopped".
  static std::unique_ptr<VideoSource> open(const std::string& url, const SourceOptions& opts,
                                           const std::atomic<bool>& stop);
  ~VideoSource();
  VideoSource(const VideoSource&) = delete;
  VideoSource& operator=(const VideoSource&) = delete;

  // The next decoded frame. Returns false at the end of the stream (a file
  // without loop_files, or a live stream that ended cleanly). Throws
  // SourceError on failure, timeout or stop. Packets that the decoder rejects
  // are skipped and counted; 100 in a row are fatal ("invalid").
  bool read(Frame& out);

  double fps() const;                        // declared/average frame rate, 0 if unknown
  int width() const;                         // the stream's declared size (before any scaling)
  int height() const;
  std::string codec() const;                 // e.g. "h264", "mjpeg"
  std::string format() const;                // the demuxer, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "rtsp"
  std::int64_t corrupt_packets() const;

 private:
  struct Impl;
  explicit VideoSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};


}  // namespace osprey::video
