#pragma once
// The libav objects libosprey_video.so holds, as RAII handles, and libav's
// error text. Part of the plugin only (libav_source.cpp).
//
//   std::unique_ptr<AVPacket, PacketFree> pkt{av_packet_alloc()};
//   Dict options; options.set("rw_timeout", "5000000");
//   int r = av_read_frame(fmt, pkt.get()); if (r < 0) log(av_error_text(r));

#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace osprey::video {

struct FormatCloser {
  void operator()(AVFormatContext* p) const { avformat_close_input(&p); }
};
struct CodecCloser {
  void operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct FrameFree {
  void operator()(AVFrame* p) const { av_frame_free(&p); }
};
struct SwsFree {
  void operator()(SwsContext* p) const { sws_freeContext(p); }
};

struct Dict {
  AVDictionary* d = nullptr;
  Dict() = default;
  Dict(const Dict&) = delete;
  Dict& operator=(const Dict&) = delete;
  ~Dict() { av_dict_free(&d); }
  void set(const char* key, const std::string& value) { av_dict_set(&d, key, value.c_str(), 0); }
};

inline std::string av_error_text(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

}  // namespace osprey::video
