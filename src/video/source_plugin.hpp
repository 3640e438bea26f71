#pragma once
// The C entry points of libosprey_video.so (libav_source.cpp), as
// source.cpp looks them up. FFmpeg's libraries bring some 130 shared
// libraries with them (codecs, libgomp, ...): a server that never opens a
// video stream never maps them. Built with the server, so C++ types cross
// the boundary; exceptions do not (errors come back in a PluginError), and
// the ABI number catches a plugin from another build.

#include <atomic>
#include <string>

#include "video/source.hpp"

#define OSPREY_VIDEO_EXPORT __attribute__((visibility("default")))

namespace osprey::video {

inline constexpr int kVideoPluginAbi = 1;

struct PluginError {
  std::string kind;
  std::string message;
};

struct SourceInfo {
  double fps = 0;
  int width = 0, height = 0;
  std::string codec, format;
  std::int64_t corrupt_packets = 0;
};

}  // namespace osprey::video

extern "C" {
int osprey_video_abi();
void osprey_video_init();  // once, after loading: libav logs errors only
// A source, or null with *err set.
void* osprey_video_open(const std::string* url, const osprey::video::SourceOptions* opts,
                        const std::atomic<bool>* stop, osprey::video::PluginError* err);
// 1: a frame in *out; 0: the end of the stream; -1: *err set.
int osprey_video_read(void* source, osprey::video::Frame* out, osprey::video::PluginError* err);
void osprey_video_describe(const void* source, osprey::video::SourceInfo* info);
void osprey_video_close(void* source);
}
