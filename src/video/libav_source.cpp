// libosprey_video.so: VideoSource's implementation on libavformat,
// libavcodec and libswscale, behind the C entry points of
// video/source_plugin.hpp. See source.hpp for what it guarantees.

#include "video/source_plugin.hpp"
#include "video/source_url.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <deque>
#include <limits>
#include <thread>
#include <vector>

#include "video/libav_handles.hpp"

namespace osprey::video {

namespace {

using SteadyClock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Decoder rejections in a row before we give up: a few damaged packets are
// normal on a lossy link, a hundred means the stream is not what it claims.
constexpr int kMaxConsecutiveCorrupt = 100;

// Demuxers a local file may use: ordinary single-file containers and raw
// elementary streams. Deliberately absent: hls, dash, concat, image2 (file
// name patterns), ffmetadata, tty, and everything else that reads other
// files or is not video.
constexpr const char* kFileFormats =
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts,flv,mjpeg,mpjpeg,h264,hevc,"
    "m4v,mpegvideo,mpeg,asf,ogg,ivf,nut,yuv4mpegpipe,obu";
// Over HTTP also HLS (its segments are fetched with the same protocol
// whitelist, so never from a local file) and the audio-only segment formats
// an HLS rendition may use; their streams are discarded.
constexpr const char* kHttpExtraFormats = ",hls,aac,mp3,ac3,eac3,webvtt";

// Our half of the timeout story. libav polls this while it waits on a socket
// (every 100 ms at most) and between I/O calls, so it enforces both `stop`
// and our deadline even when the peer keeps the connection open but silent,
// which protocol-level timeouts do not always catch (HLS segment fetches, for
// one, do not inherit them).
struct Interrupt {
  const std::atomic<bool>* stop = nullptr;
  SteadyClock::time_point deadline = SteadyClock::time_point::max();
  bool timed_out = false;

  void arm(int timeout_ms) {
    timed_out = false;
    deadline = timeout_ms > 0 ? SteadyClock::now() + std::chrono::milliseconds(timeout_ms)
                              : SteadyClock::time_point::max();
  }
  void disarm() { deadline = SteadyClock::time_point::max(); }
  bool stopped() const { return stop->load(std::memory_order_relaxed); }

  static int callback(void* opaque) {
    auto* self = static_cast<Interrupt*>(opaque);
    if (self->stopped()) return 1;
    if (SteadyClock::now() >= self->deadline) {
      self->timed_out = true;
      return 1;
    }
    return 0;
  }
};

struct Arrival {
  int64_t key = AV_NOPTS_VALUE;  // the packet's pts (or dts), to find it again in the decoded frame
  SystemClock::time_point wall;
  SteadyClock::time_point steady;
};

enum class Phase { open, read };

}  // namespace

struct LibavSource {
  SourceOptions opts;
  Interrupt intr;
  SourceKind kind = SourceKind::file;
  std::string av_url;    // what libav opens
  std::string safe_url;  // what error messages show

  std::unique_ptr<AVFormatContext, FormatCloser> fmt;
  std::unique_ptr<AVCodecContext, CodecCloser> dec;
  std::unique_ptr<AVPacket, PacketFree> pkt{av_packet_alloc()};
  std::unique_ptr<AVFrame, FrameFree> frame{av_frame_alloc()};
  AVStream* stream = nullptr;
  int stream_index = -1;

  double fps = 0;
  int width = 0, height = 0;
  std::string codec_name, format_name;

  // Frame/packet accounting.
  int64_t index = 0;
  int64_t corrupt = 0;
  int consecutive_corrupt = 0;
  bool draining = false;  // the demuxer hit EOF; the decoder is being flushed
  bool ended = false;

  // Looping: the pts of the first frame, where the current pass ends, and
  // what to add to this pass's pts so they continue from the previous one.
  double first_raw_pts = kNaN;
  double pass_end_pts = kNaN;
  double loop_offset = 0;
  int64_t frames_this_pass = 0;

  // Pacing: wall-clock instant at which the frame with pts `pace_pts0` was due.
  bool pace_started = false;
  SteadyClock::time_point pace_wall0;
  double pace_pts0 = 0;

  std::deque<Arrival> arrivals;
  Arrival last_arrival;

  // Cached scaler and the input it was made for.
  std::unique_ptr<SwsContext, SwsFree> sws;
  int sws_w = 0, sws_h = 0, sws_fmt = -1, sws_dw = 0, sws_dh = 0, sws_cs = -1;
  bool sws_full = false;

  // Closing may talk to the server (RTSP sends TEARDOWN): bound it too. The
  // members are destroyed after this body, `intr` after `fmt`.
  ~LibavSource() { intr.arm(1000); }

  bool is_file() const { return kind == SourceKind::file; }

  [[noreturn]] void fail(int err, Phase phase) const {
    if (intr.stopped()) throw SourceError("stopped", "video source stopped");
    const char* doing = phase == Phase::open ? "opening" : "reading";
    if (intr.timed_out || err == AVERROR(ETIMEDOUT))
      throw SourceError("timeout", std::string("timed out ") + doing + " video source: " + safe_url);
    if (err == AVERROR_EXIT)  // interrupted, but neither by stop nor by our deadline: treat as stop
      throw SourceError("stopped", "video source stopped");
    std::string why = " (" + av_error_text(err) + ")";
    if (err == AVERROR(ENOENT) || err == AVERROR_HTTP_NOT_FOUND)
      throw SourceError("not_found", "video source not found: " + safe_url);
    if (err == AVERROR(ECONNREFUSED) || err == AVERROR(EHOSTUNREACH) || err == AVERROR(ENETUNREACH) ||
        err == AVERROR(EHOSTDOWN) || err == AVERROR(EADDRNOTAVAIL))
      throw SourceError("unreachable", "video source unreachable: " + safe_url + why);
    if (err == AVERROR_HTTP_UNAUTHORIZED || err == AVERROR_HTTP_FORBIDDEN || err == AVERROR_HTTP_BAD_REQUEST ||
        err == AVERROR_HTTP_OTHER_4XX || err == AVERROR_HTTP_SERVER_ERROR)
      throw SourceError("unreachable", "video source refused the request: " + safe_url + why);
    if (err == AVERROR_INVALIDDATA || err == AVERROR_STREAM_NOT_FOUND || err == AVERROR_DEMUXER_NOT_FOUND ||
        (phase == Phase::open && err == AVERROR(EINVAL)))  // EINVAL: a demuxer outside our whitelist
      throw SourceError("invalid", "not a supported video: " + safe_url);
    if (err == AVERROR_DECODER_NOT_FOUND || err == AVERROR_PROTOCOL_NOT_FOUND || err == AVERROR_PATCHWELCOME ||
        err == AVERROR(ENOSYS))
      throw SourceError("unsupported", "unsupported video source: " + safe_url + why);
    // libav reports a failed DNS lookup as a bare EIO, and a connection
    // dropped during the handshake much the same: when opening a network
    // source, that means we could not reach it.
    if (phase == Phase::open && !is_file() &&
        (err == AVERROR(EIO) || err == AVERROR(ECONNRESET) || err == AVERROR_EOF))
      throw SourceError("unreachable", "video source unreachable: " + safe_url + why);
    throw SourceError("io", std::string("error ") + doing + " video source: " + safe_url + why);
  }

  void note_corrupt() {
    ++corrupt;
    if (++consecutive_corrupt >= kMaxConsecutiveCorrupt)
      throw SourceError("invalid", "too many corrupt packets in video source: " + safe_url);
  }

  void open(const std::string& url, const std::atomic<bool>& stop) {
    intr.stop = &stop;
    safe_url = redact_source_url(url);
    SourceTarget target = classify_source(url);
    kind = target.kind;
    av_url = target.url;
    open_input();
  }

  // Opens `av_url` into fmt/stream/dec: at open, and again for each loop.
  void open_input() {
    dec.reset();
    fmt.reset();
    stream = nullptr;
    if (is_file()) {
      // Checked up front because libav's answer for a directory is a vague
      // I/O error at the first read.
      struct stat st {};
      std::string path = av_url.substr(5);
      if (::stat(path.c_str(), &st) != 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR) throw SourceError("not_found", "video source not found: " + safe_url);
        fail(AVERROR(e), Phase::open);
      }
      if (!S_ISREG(st.st_mode)) throw SourceError("invalid", "not a regular file: " + safe_url);
    }

    Dict options;
    const AVInputFormat* forced = nullptr;
    // Protocol-level timeouts (microseconds) are a backstop behind our own
    // deadline; one value serves connect and reads, so take the larger.
    std::string io_timeout_us = std::to_string(int64_t(std::max(opts.open_timeout_ms, opts.read_timeout_ms)) * 1000);
    switch (kind) {
      case SourceKind::file:
        options.set("protocol_whitelist", "file");
        options.set("format_whitelist", kFileFormats);
        break;
      case SourceKind::http:
        // "crypto" is for AES-128 HLS segments; "file" is never allowed.
        options.set("protocol_whitelist", "http,https,tcp,tls,crypto");
        options.set("format_whitelist", std::string(kFileFormats) + kHttpExtraFormats);
        options.set("rw_timeout", io_timeout_us);
        options.set("timeout", io_timeout_us);
        break;
      case SourceKind::rtsp:
        // TCP interleaving: survives NAT and firewalls and does not lose
        // packets the way RTP over UDP does under load. "asf" is the one
        // sub-demuxer RTSP opens through the format whitelist.
        forced = av_find_input_format("rtsp");
        if (!forced) throw SourceError("unsupported", "RTSP is not supported by this build");
        options.set("protocol_whitelist", "rtsp,rtsps,rtp,srtp,udp,tcp,tls");
        options.set("format_whitelist", "rtsp,asf");
        options.set("rtsp_transport", "tcp");
        options.set("timeout", io_timeout_us);
        break;
    }

    AVFormatContext* raw = avformat_alloc_context();
    if (!raw) throw SourceError("io", "out of memory opening video source");
    raw->interrupt_callback.callback = &Interrupt::callback;
    raw->interrupt_callback.opaque = &intr;
    intr.arm(opts.open_timeout_ms);
    int r = avformat_open_input(&raw, av_url.c_str(), forced, &options.d);  // frees `raw` on failure
    if (r < 0) fail(r, Phase::open);
    fmt.reset(raw);
    format_name = fmt->iformat && fmt->iformat->name ? fmt->iformat->name : "";

    {
      // find_stream_info opens throwaway decoders; keep them single-threaded
      // like ours (see below).
      std::vector<Dict> per_stream(fmt->nb_streams);
      std::vector<AVDictionary*> ptrs(fmt->nb_streams);
      for (unsigned i = 0; i < fmt->nb_streams; ++i) {
        per_stream[i].set("threads", "1");
        ptrs[i] = per_stream[i].d;
      }
      r = avformat_find_stream_info(fmt.get(), ptrs.empty() ? nullptr : ptrs.data());
      for (unsigned i = 0; i < ptrs.size(); ++i) per_stream[i].d = ptrs[i];  // libav may have replaced them
      if (r < 0) fail(r, Phase::open);
    }

    const AVCodec* codec = nullptr;
    stream_index = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (stream_index == AVERROR_DECODER_NOT_FOUND) {
      std::string name = "unknown";
      for (unsigned i = 0; i < fmt->nb_streams; ++i)
        if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
          name = avcodec_get_name(fmt->streams[i]->codecpar->codec_id);
          break;
        }
      throw SourceError("unsupported", "unsupported video codec '" + name + "': " + safe_url);
    }
    if (stream_index < 0) throw SourceError("invalid", "no video stream in: " + safe_url);
    stream = fmt->streams[stream_index];
    // Let the demuxer skip what we would throw away anyway.
    for (unsigned i = 0; i < fmt->nb_streams; ++i)
      if (int(i) != stream_index) fmt->streams[i]->discard = AVDISCARD_ALL;

    const AVCodecParameters* par = stream->codecpar;
    width = par->width;
    height = par->height;
    codec_name = avcodec_get_name(par->codec_id);
    if (width < 0 || height < 0 || int64_t(width) * height > opts.max_pixels)
      throw SourceError("invalid", "video frame size " + std::to_string(width) + "x" + std::to_string(height) +
                                       " is too large: " + safe_url);
    AVRational rate = stream->avg_frame_rate.num > 0 && stream->avg_frame_rate.den > 0 ? stream->avg_frame_rate
                                                                                       : stream->r_frame_rate;
    fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0;
    if (fps > 1000) fps = 0;  // a timebase masquerading as a rate (e.g. 90000 for some RTP streams)

    dec.reset(avcodec_alloc_context3(codec));
    if (!dec || !pkt || !frame) throw SourceError("io", "out of memory opening video source");
    r = avcodec_parameters_to_context(dec.get(), par);
    if (r < 0) fail(r, Phase::open);
    dec->pkt_timebase = stream->time_base;
    // One thread: the server runs many sources and its own worker pools, so
    // per-decoder threads would oversubscribe the cores, and frame threading
    // also delays every frame by one frame per thread, which a live source
    // should not pay.
    dec->thread_count = 1;
    // The decoder refuses frames beyond this itself, so a stream cannot
    // switch to a huge size mid-way (such packets count as corrupt).
    dec->max_pixels = opts.max_pixels;
    r = avcodec_open2(dec.get(), codec, nullptr);
    if (r < 0) {
      if (r == AVERROR_INVALIDDATA) fail(r, Phase::open);
      throw SourceError("unsupported", "cannot decode video codec '" + codec_name + "': " + safe_url);
    }
    intr.disarm();
  }

  // Reads the next packet of our stream into `pkt`. Returns 0, or AVERROR_EOF
  // at the end of the stream; throws on anything else.
  int read_packet() {
    // Armed once for the whole call, not per packet: a stream that sends only
    // audio for read_timeout_ms has stopped sending video.
    intr.arm(opts.read_timeout_ms);
    for (;;) {
      int r = av_read_frame(fmt.get(), pkt.get());
      if (r >= 0) {
        if (pkt->stream_index != stream_index) {
          av_packet_unref(pkt.get());
          continue;
        }
        intr.disarm();
        Arrival a;
        a.key = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
        a.wall = SystemClock::now();
        a.steady = SteadyClock::now();
        arrivals.push_back(a);
        if (arrivals.size() > 64) arrivals.pop_front();
        last_arrival = a;
        return 0;
      }
      if (r == AVERROR_EOF) {
        intr.disarm();
        return r;
      }
      if (intr.stopped() || intr.timed_out) fail(r, Phase::read);
      if (r == AVERROR(EAGAIN)) {  // only from non-blocking demuxers; wait a little, within our deadline
        if (Interrupt::callback(&intr)) fail(AVERROR_EXIT, Phase::read);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      if (r == AVERROR_INVALIDDATA) {  // a damaged packet in the container: skip it like a decoder rejection
        note_corrupt();
        continue;
      }
      // A damaged local file may end in an I/O error rather than a clean EOF.
      if (is_file() && fmt->pb && avio_feof(fmt->pb)) {
        intr.disarm();
        return AVERROR_EOF;
      }
      fail(r, Phase::read);
    }
  }

  // Starts a file over for loop_files. False if looping does not apply.
  bool restart() {
    if (!is_file() || !opts.loop_files || frames_this_pass == 0) return false;  // 0 frames: would spin forever
    double pass_len = 0;
    if (!std::isnan(pass_end_pts) && !std::isnan(first_raw_pts)) pass_len = pass_end_pts - first_raw_pts;
    else if (fps > 0) pass_len = double(frames_this_pass) / fps;
    // Reopened rather than seeked: seeking to the start is unreliable in
    // some containers (MPEG-TS lands after the first keyframe, raw streams
    // have no timestamps), and a local open costs a few milliseconds.
    open_input();
    loop_offset += pass_len;
    pass_end_pts = kNaN;
    frames_this_pass = 0;
    draining = false;
    arrivals.clear();
    return true;
  }

  cv::Mat to_bgr(const AVFrame* f) {
    // The deprecated "J" formats are plain YUV at full range; swscale wants
    // them said that way (and warns otherwise).
    int pix = f->format;
    bool full = f->color_range == AVCOL_RANGE_JPEG;
    switch (pix) {
      case AV_PIX_FMT_YUVJ420P: pix = AV_PIX_FMT_YUV420P; full = true; break;
      case AV_PIX_FMT_YUVJ422P: pix = AV_PIX_FMT_YUV422P; full = true; break;
      case AV_PIX_FMT_YUVJ444P: pix = AV_PIX_FMT_YUV444P; full = true; break;
      case AV_PIX_FMT_YUVJ440P: pix = AV_PIX_FMT_YUV440P; full = true; break;
      case AV_PIX_FMT_YUVJ411P: pix = AV_PIX_FMT_YUV411P; full = true; break;
      default: break;
    }
    int cs = f->colorspace;  // AVColorSpace values coincide with SWS_CS_* where those exist
    if (cs != SWS_CS_ITU709 && cs != SWS_CS_FCC && cs != SWS_CS_ITU601 && cs != 6 && cs != SWS_CS_SMPTE240M &&
        cs != SWS_CS_BT2020)
      cs = SWS_CS_DEFAULT;

    int dw = f->width, dh = f->height;
    int longer = std::max(dw, dh);
    if (opts.max_side > 0 && longer > opts.max_side) {
      double s = double(opts.max_side) / longer;
      dw = std::max(1, int(std::lround(dw * s)));
      dh = std::max(1, int(std::lround(dh * s)));
    }
    if (!sws || sws_w != f->width || sws_h != f->height || sws_fmt != pix || sws_dw != dw || sws_dh != dh ||
        sws_cs != cs || sws_full != full) {
      // Area averaging when shrinking (no aliasing), bilinear otherwise.
      int flags = (dw < f->width || dh < f->height) ? SWS_AREA : SWS_BILINEAR;
      sws.reset(sws_getContext(f->width, f->height, AVPixelFormat(pix), dw, dh, AV_PIX_FMT_BGR24, flags, nullptr,
                               nullptr, nullptr));
      if (!sws) {
        const char* name = av_get_pix_fmt_name(AVPixelFormat(pix));
        throw SourceError("unsupported", std::string("unsupported pixel format '") + (name ? name : "?") +
                                             "': " + safe_url);
      }
      // Fails (harmlessly) for RGB input, where there is nothing to set.
      sws_setColorspaceDetails(sws.get(), sws_getCoefficients(cs), full ? 1 : 0, sws_getCoefficients(SWS_CS_DEFAULT),
                               1, 0, 1 << 16, 1 << 16);
      sws_w = f->width; sws_h = f->height; sws_fmt = pix; sws_dw = dw; sws_dh = dh; sws_cs = cs; sws_full = full;
    }
    cv::Mat bgr(dh, dw, CV_8UC3);
    uint8_t* dst[4] = {bgr.data, nullptr, nullptr, nullptr};
    int dst_stride[4] = {int(bgr.step[0]), 0, 0, 0};
    sws_scale(sws.get(), f->data, f->linesize, 0, f->height, dst, dst_stride);
    return bgr;
  }

  // Sleeps until the frame at `t` seconds is due, like ffmpeg -re.
  void pace(double t) {
    if (std::isnan(t)) return;
    auto now = SteadyClock::now();
    if (!pace_started) {
      pace_started = true;
      pace_wall0 = now;
      pace_pts0 = t;
      return;
    }
    auto due = pace_wall0 + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(t - pace_pts0));
    // Start over from this frame when far behind (the consumer paused: a
    // camera would not deliver a burst of old frames either) or far ahead (a
    // jump in the timestamps must not park the thread).
    if (now - due > std::chrono::seconds(1) || due - now > std::chrono::seconds(10)) {
      pace_wall0 = now;
      pace_pts0 = t;
      return;
    }
    // Small slices so that `stop` is honoured promptly.
    while (now < due) {
      if (intr.stopped()) throw SourceError("stopped", "video source stopped");
      std::this_thread::sleep_for(std::min<SteadyClock::duration>(due - now, std::chrono::milliseconds(20)));
      now = SteadyClock::now();
    }
  }

  void emit(AVFrame* f, Frame& out) {
    double tb = av_q2d(stream->time_base);
    double raw = f->best_effort_timestamp != AV_NOPTS_VALUE ? double(f->best_effort_timestamp) * tb : kNaN;
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(57, 30, 100)
    int64_t dur_ts = f->duration;
#else
    int64_t dur_ts = f->pkt_duration;
#endif
    double dur = dur_ts > 0 ? double(dur_ts) * tb : (fps > 0 ? 1.0 / fps : 0);
    // A file without timestamps (a raw H.264 stream) still has a frame
    // rate, and a position in it is what a timestamp would say.
    if (std::isnan(raw) && is_file() && fps > 0) raw = double(frames_this_pass) / fps;
    if (!std::isnan(raw)) {
      if (std::isnan(first_raw_pts)) first_raw_pts = raw;
      if (std::isnan(pass_end_pts) || raw + dur > pass_end_pts) pass_end_pts = raw + dur;
    }

    // Which packet this frame came from: by timestamp when there is one,
    // else the latest (right for every decoder without reordering).
    Arrival arrival = last_arrival;
    int64_t key = f->pts != AV_NOPTS_VALUE ? f->pts : f->pkt_dts;
    if (key != AV_NOPTS_VALUE) {
      auto it = std::find_if(arrivals.begin(), arrivals.end(), [&](const Arrival& a) { return a.key == key; });
      if (it != arrivals.end()) {
        arrival = *it;
        arrivals.erase(arrivals.begin(), it + 1);
      }
    }

    out.bgr = to_bgr(f);
    out.index = index++;
    out.pts_seconds = std::isnan(raw) ? kNaN : raw + loop_offset;
    ++frames_this_pass;
    consecutive_corrupt = 0;
    av_frame_unref(f);

    if (is_file() && opts.pace_files) {
      pace(!std::isnan(out.pts_seconds) ? out.pts_seconds : (fps > 0 ? double(out.index) / fps : kNaN));
      // A paced file "receives" each frame when it falls due, as a camera would.
      arrival.wall = SystemClock::now();
      arrival.steady = SteadyClock::now();
    }
    out.received = arrival.wall;
    out.received_steady = arrival.steady;
  }

  bool read(Frame& out) {
    if (intr.stopped()) throw SourceError("stopped", "video source stopped");
    if (ended) return false;
    for (;;) {
      int r = avcodec_receive_frame(dec.get(), frame.get());
      if (r == 0) {
        if (frame->width <= 0 || frame->height <= 0) {
          av_frame_unref(frame.get());
          note_corrupt();
          continue;
        }
        emit(frame.get(), out);
        return true;
      }
      if (r == AVERROR_EOF || (r == AVERROR(EAGAIN) && draining)) {
        if (restart()) continue;
        ended = true;
        return false;
      }
      if (r != AVERROR(EAGAIN)) {  // a decode error surfaced here rather than at send
        note_corrupt();
        continue;
      }
      if (read_packet() == AVERROR_EOF) {
        avcodec_send_packet(dec.get(), nullptr);  // start draining the frames the decoder holds back
        draining = true;
        continue;
      }
      r = avcodec_send_packet(dec.get(), pkt.get());
      av_packet_unref(pkt.get());
      if (r < 0 && r != AVERROR(EAGAIN)) note_corrupt();
    }
  }
};

}  // namespace osprey::video

// The entry points: every exception stops here (a C++ exception crossing
// into the server would need type info shared across the two modules).
using osprey::video::LibavSource;
using osprey::video::SourceError;

namespace {

template <class F>
bool guarded(osprey::video::PluginError* err, F f) {
  try {
    f();
    return true;
  } catch (const SourceError& e) {
    err->kind = e.kind();
    err->message = e.what();
  } catch (const std::bad_alloc&) {
    err->kind = "io";
    err->message = "out of memory while reading the video source";
  } catch (const std::exception& e) {
    err->kind = "io";
    err->message = e.what();
  }
  return false;
}

}  // namespace

extern "C" {

OSPREY_VIDEO_EXPORT int osprey_video_abi() { return osprey::video::kVideoPluginAbi; }

OSPREY_VIDEO_EXPORT void osprey_video_init() { av_log_set_level(AV_LOG_ERROR); }

OSPREY_VIDEO_EXPORT void* osprey_video_open(const std::string* url, const osprey::video::SourceOptions* opts,
                                            const std::atomic<bool>* stop, osprey::video::PluginError* err) {
  LibavSource* out = nullptr;
  guarded(err, [&] {
    auto s = std::make_unique<LibavSource>();
    s->opts = *opts;
    s->open(*url, *stop);
    out = s.release();
  });
  return out;
}

OSPREY_VIDEO_EXPORT int osprey_video_read(void* source, osprey::video::Frame* out, osprey::video::PluginError* err) {
  bool got = false;
  if (!guarded(err, [&] { got = static_cast<LibavSource*>(source)->read(*out); })) return -1;
  return got ? 1 : 0;
}

OSPREY_VIDEO_EXPORT void osprey_video_describe(const void* source, osprey::video::SourceInfo* info) {
  const auto* s = static_cast<const LibavSource*>(source);
  info->fps = s->fps;
  info->width = s->width;
  info->height = s->height;
  info->codec = s->codec_name;
  info->format = s->format_name;
  info->corrupt_packets = s->corrupt;
}

OSPREY_VIDEO_EXPORT void osprey_video_close(void* source) { delete static_cast<LibavSource*>(source); }

}  // extern "C"
