#pragma once
// UsageMeter: the usage ledger's view of a long-lived video connection (a
// server-side stream, a WebSocket): one record per UTC minute in which it
// processed frames, instead of one per frame.
//
//   UsageMeter meter(ledger, {.key_id = k, .route = "/v1/streams/{id}", .method = "STREAM",
//                             .model = m, .id_prefix = stream_id});
//   meter.add_images(1, now_ms);   // per processed frame; writes the previous minute's record when the minute turns
//   meter.finish(now_ms);          // at the end: the last (partial) minute
//
// A record's images are the frames processed in that minute and latency_ms
// the stream time it covers. Not thread-safe: one owner thread. Writing
// never blocks (journal append, Ledger::record's callback form); a failure
// is logged, since the frames are already processed.

#include <cstdint>
#include <string>

namespace osprey::usage {
class Ledger;
}

namespace osprey::video {

class UsageMeter {
 public:
  struct Labels {
    std::string key_id;
    std::string route;
    std::string method;
    std::string model;
    std::string id_prefix;  // record ids are "<prefix>-1", "<prefix>-2", ...
  };
  UsageMeter(usage::Ledger* ledger, Labels labels, std::int64_t started_ms);

  void add_images(std::int64_t n, std::int64_t now_ms);
  void finish(std::int64_t now_ms);
  std::int64_t records() const { return records_; }

 private:
  void write(std::int64_t now_ms);
  usage::Ledger* ledger_;
  Labels labels_;
  std::int64_t minute_;
  std::int64_t since_ms_;
  std::int64_t images_ = 0;
  std::int64_t records_ = 0;
  bool finished_ = false;
};

}  // namespace osprey::video
