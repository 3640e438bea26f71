#pragma once
// What libosprey_video.so makes of a source URL before libav sees it:
//
//   SourceTarget t = classify_source("file:///srv/video/a.mp4");  // {file, "file:/srv/video/a.mp4"}
//   std::string shown = redact_source_url(url);                    // safe in an error message
//
// classify_source() sorts a source into the three kinds whose protocol and
// demuxer whitelists differ (libav_source.cpp) and rewrites local paths so
// that libav cannot read a colon in a file name as a protocol. It throws
// SourceError: "invalid" (an empty path, a file URL with a remote host or no
// path) or "unsupported" (any other scheme). Part of the plugin only.

#include <string>

namespace osprey::video {

enum class SourceKind { file, http, rtsp };

struct SourceTarget {
  SourceKind kind;
  std::string url;  // what libav opens
};

SourceTarget classify_source(const std::string& url);

// The URL as it may appear in an error message: no user:pass@ and no query
// or fragment (camera URLs often carry tokens there), printable ASCII only,
// bounded length.
std::string redact_source_url(const std::string& url);

}  // namespace osprey::video
