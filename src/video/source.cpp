// VideoSource: the server's side of libosprey_video.so, loaded the first
// time a stream opens (source_plugin.hpp says why).

#include "video/source.hpp"

#include <spdlog/spdlog.h>

#include <mutex>

#include "common/plugin.hpp"
#include "video/source_plugin.hpp"

namespace osprey::video {

namespace {

struct Plugin {
  std::string error;
  decltype(&osprey_video_open) open = nullptr;
  decltype(&osprey_video_read) read = nullptr;
  decltype(&osprey_video_describe) describe = nullptr;
  decltype(&osprey_video_close) close = nullptr;
};

const Plugin& plugin() {
  static std::once_flag once;
  static Plugin p;
  std::call_once(once, [] {
    auto m = plugin::open("libosprey_video.so", "OSPREY_VIDEO_PLUGIN", OSPREY_VIDEO_PLUGIN_BUILD_PATH);
    if (!m.handle) {
      p.error = "video support unavailable: " + m.error;
      spdlog::error("video: {}", p.error);
      return;
    }
    auto abi = plugin::symbol<decltype(&osprey_video_abi)>(m, "osprey_video_abi");
    auto init = plugin::symbol<decltype(&osprey_video_init)>(m, "osprey_video_init");
    p.open = plugin::symbol<decltype(p.open)>(m, "osprey_video_open");
    p.read = plugin::symbol<decltype(p.read)>(m, "osprey_video_read");
    p.describe = plugin::symbol<decltype(p.describe)>(m, "osprey_video_describe");
    p.close = plugin::symbol<decltype(p.close)>(m, "osprey_video_close");
    if (!abi || !init || !p.open || !p.read || !p.describe || !p.close || abi() != kVideoPluginAbi) {
      p.error = "video plugin " + m.path + " is from another build (ABI mismatch); rebuild it";
      p.open = nullptr;
      spdlog::error("video: {}", p.error);
      return;
    }
    init();
    spdlog::info("video: FFmpeg plugin loaded from {}", m.path);
  });
  return p;
}

}  // namespace

struct VideoSource::Impl {
  void* handle = nullptr;
  SourceInfo info;
  ~Impl() {
    if (handle) plugin().close(handle);
  }
};

VideoSource::VideoSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VideoSource::~VideoSource() = default;

std::unique_ptr<VideoSource> VideoSource::open(const std::string& url, const SourceOptions& opts,
                                               const std::atomic<bool>& stop) {
  const auto& p = plugin();
  if (!p.open) throw SourceError("unsupported", p.error);
  PluginError err;
  auto impl = std::make_unique<Impl>();
  impl->handle = p.open(&url, &opts, &stop, &err);
  if (!impl->handle) throw SourceError(err.kind, err.message);
  p.describe(impl->handle, &impl->info);
  return std::unique_ptr<VideoSource>(new VideoSource(std::move(impl)));
}

bool VideoSource::read(Frame& out) {
  PluginError err;
  int r = plugin().read(impl_->handle, &out, &err);
  if (r < 0) throw SourceError(err.kind, err.message);
  return r == 1;
}

double VideoSource::fps() const { return impl_->info.fps; }
int VideoSource::width() const { return impl_->info.width; }
int VideoSource::height() const { return impl_->info.height; }
std::string VideoSource::codec() const { return impl_->info.codec; }
std::string VideoSource::format() const { return impl_->info.format; }
std::int64_t VideoSource::corrupt_packets() const {
  SourceInfo now;
  plugin().describe(impl_->handle, &now);
  return now.corrupt_packets;
}

}  // namespace osprey::video
