#include "video/stream_service.hpp"

#include <algorithm>
#include <filesystem>
#include <random>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"
#include "common/strings.hpp"

namespace osprey::video {

namespace fs = std::filesystem;

namespace {

std::string new_id() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("str_{:012x}", rng() & 0xffffffffffffULL);
}

// "rtsp://user:secret@cam/x" -> "rtsp://cam/x": what GET shows and logs say.
std::string without_credentials(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return url;
  auto host_start = scheme_end + 3;
  auto path_start = url.find_first_of("/?#", host_start);
  auto at = url.rfind('@', path_start == std::string::npos ? std::string::npos : path_start);
  if (at == std::string::npos || at < host_start) return url;
  return url.substr(0, host_start) + url.substr(at + 1);
}

bool inside(const fs::path& file, const fs::path& dir) {
  auto f = file.begin(), d = dir.begin();
  for (; d != dir.end(); ++d, ++f) {
    if (d->empty()) continue;  // a trailing separator
    if (f == file.end() || *f != *d) return false;
  }
  return true;
}

}  // namespace

StreamService::StreamService(config::VideoConfig cfg, StreamDeps deps) : cfg_(std::move(cfg)), deps_(deps) {
  collector_ = metrics::Registry::global().add_collector([this](metrics::Exposition& x) {
    std::vector<std::shared_ptr<Stream>> all;
    {
      std::lock_guard lock(mu_);
      for (const auto& [_, s] : streams_) all.push_back(s);
    }
    x.family("osprey_streams", "Server-side video streams that exist", "gauge");
    x.sample("osprey_streams", {}, static_cast<double>(all.size()));
    if (all.empty()) return;
    struct F {
      const char* key;
      const char* name;
      const char* help;
      const char* type;
    };
    static const F families[] = {
        {"frames", "osprey_stream_frames_total", "Frames per stream: received from the source, processed, "
                                                 "dropped (a newer frame replaced them), throttled (ipm limit)",
         "counter"},
        {"fps", "osprey_stream_fps", "Frames per second per stream, received and processed (smoothed)", "gauge"},
        {"latency", "osprey_stream_latency_seconds", "Frame received to event published, per stream", "histogram"},
        {"reconnects", "osprey_stream_reconnects_total", "Times a stream's source was reopened", "counter"},
        {"up", "osprey_stream_up", "1 while a stream is running", "gauge"},
    };
    for (const auto& f : families) {
      x.family(f.name, f.help, f.type);
      for (const auto& s : all) s->collect(x, f.key);
    }
  });
}

StreamService::~StreamService() {
  metrics::Registry::global().remove_collector(collector_);
  std::map<std::string, std::shared_ptr<Stream>> all;
  {
    std::lock_guard lock(mu_);
    all.swap(streams_);
  }
  for (auto& [_, s] : all) s->stop();
}

void StreamService::close_viewers() {
  std::lock_guard lock(mu_);
  for (auto& [_, s] : streams_) {
    s->events().close();
    s->mjpeg().close();
  }
}

void StreamService::check_source(const std::string& source, StreamSpec& spec) const {
  if (source.empty()) throw bad_request("source is required: a URL (rtsp, http, https) or a file path", "source");
  if (source.size() > 2048) throw bad_request("source is longer than 2048 characters", "source");
  for (unsigned char c : source)
    if (c < 0x20 || c == 0x7f) throw bad_request("source contains control characters", "source");

  spec.source_options.open_timeout_ms = cfg_.open_timeout_ms;
  spec.source_options.read_timeout_ms = cfg_.read_timeout_ms;
  auto scheme_end = source.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : str::lower(source.substr(0, scheme_end));
  if (scheme.empty() || scheme == "file") {
    std::string path = scheme == "file" ? source.substr(7) : source;
    if (cfg_.allowed_dirs.empty())
      throw ApiError(403, "local video files are disabled on this server (set video.allowed_dirs)",
                     "permission_error", "source_not_allowed", "source");
    std::error_code ec;
    fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
    if (ec) throw bad_request("source is not a valid path", "source");
    bool ok = false;
    for (const auto& d : cfg_.allowed_dirs) {
      auto dir = fs::weakly_canonical(fs::absolute(d, ec), ec);
      if (!ec && inside(p, dir)) ok = true;
    }
    if (!ok)
      throw ApiError(403, "source is outside the folders this server streams from (video.allowed_dirs)",
                     "permission_error", "source_not_allowed", "source");
    if (!fs::is_regular_file(p, ec))
      throw ApiError(404, "source file not found", "invalid_request_error", "source_not_found", "source");
    spec.source = p.string();
    spec.display_source = p.string();
    spec.local_file = true;
    spec.source_options.pace_files = true;
    return;
  }
  if (std::find(cfg_.schemes.begin(), cfg_.schemes.end(), scheme) == cfg_.schemes.end())
    throw bad_request(fmt::format("source scheme '{}' is not allowed (allowed: {})", scheme.substr(0, 16),
                                  fmt::join(cfg_.schemes, ", ")),
                      "source", "unsupported_source");
  if (source.size() <= scheme_end + 3) throw bad_request("source URL has no host", "source");
  spec.source = source;
  spec.display_source = without_credentials(source);
  spec.local_file = false;
  spec.source_options.loop_files = false;
}

std::shared_ptr<Stream> StreamService::add(StreamSpec spec) {
  std::lock_guard lock(mu_);
  if (static_cast<int>(streams_.size()) >= cfg_.max_streams)
    throw ApiError(429, fmt::format("this server runs at most {} streams (video.max_streams); delete one first",
                                    cfg_.max_streams),
                   "rate_limit_error", "too_many_streams");
  std::string id;
  do id = new_id();
  while (streams_.count(id));
  auto s = std::make_shared<Stream>(id, std::move(spec), deps_);
  streams_[id] = s;
  return s;
}

void StreamService::forget(const std::string& id) {
  std::shared_ptr<Stream> s;
  {
    std::lock_guard lock(mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    s = std::move(it->second);
    streams_.erase(it);
  }
}

bool StreamService::visible(const Stream& s, const http::Principal* who) {
  if (!who || who->key_id.empty() || who->has_scope("admin")) return true;
  return s.spec().key_id == who->key_id;
}

std::shared_ptr<Stream> StreamService::get(const std::string& id, const http::Principal* who) const {
  std::lock_guard lock(mu_);
  auto it = streams_.find(id);
  if (it == streams_.end() || !visible(*it->second, who))
    throw not_found(fmt::format("stream '{}' not found", id.substr(0, 64)), "stream_not_found");
  return it->second;
}

std::vector<std::shared_ptr<Stream>> StreamService::list(const http::Principal* who) const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Stream>> out;
  for (const auto& [_, s] : streams_)
    if (visible(*s, who)) out.push_back(s);
  return out;
}

void StreamService::remove(const std::string& id, const http::Principal* who) {
  std::shared_ptr<Stream> s;
  {
    std::lock_guard lock(mu_);
    auto it = streams_.find(id);
    if (it == streams_.end() || !visible(*it->second, who))
      throw not_found(fmt::format("stream '{}' not found", id.substr(0, 64)), "stream_not_found");
    s = std::move(it->second);
    streams_.erase(it);
  }
  s->stop();
}

}  // namespace osprey::video
