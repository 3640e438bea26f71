#pragma once
// Counter: line-crossing and zone-occupancy counts per class label, fed with
// ByteTracker's output frame by frame.
//
//   auto lines = parse_lines(body["lines"]);   // throws bad_request(..., "lines")
//   auto zones = parse_zones(body["zones"]);   // throws bad_request(..., "zones")
//   Counter counter(lines, zones);
//   for (each processed frame) counter.update(tracker.update(dets));
//   response["counts"] = counter.to_json();
//   // {"lines": {"door": {"in": {"dog": 2}, "out": {"person": 1}}},
//   //  "zones": {"yard": {"current": {"dog": 1}, "entered": {"dog": 3}}}}
//
// An object is where it stands: its reference point is the bottom-centre of
// its box. Coordinates are pixels of the source frame.
//
// Lines: a track counts when its reference point moves across the segment
// (not merely the infinite line through it) between two updates it appears
// in. Direction is relative to the line drawn from point 1 to point 2, as
// seen on screen (y grows downwards): "in" = from the left side to the right
// side, "out" = right to left. A line drawn left-to-right therefore counts
// objects moving down the picture as "in". Each crossing counts once; a point
// exactly on the line is on the left side, so touching it without passing
// does not count. Counted under the label the track has at that update.
//
// Zones: "current" = tracked objects whose reference point is inside the
// polygon in the latest update (objects the tracker lost this frame are not
// counted); "entered" = distinct track ids seen inside since the start,
// including ones first seen already inside. Inside = ray casting.
//
// Memory is bounded: a track's state is dropped after `forget_after` updates
// without it. Keep that above the tracker's max_lost_frames, otherwise a
// track coming back after a long occlusion counts as entering a zone again
// and its crossing during the gap is missed.

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "video/tracker.hpp"

namespace osprey::video {

struct Line {
  std::string name;
  float x1, y1, x2, y2;
};

struct Zone {
  std::string name;
  std::vector<std::pair<float, float>> points;  // polygon, >= 3 points
};

// Parse request JSON of the form [{"name": "door", "points": [[x1,y1],[x2,y2]]}].
// Lines take exactly 2 distinct points, zones 3..64; at most 16 of each;
// names 1..64 bytes of printable UTF-8, unique; coordinates finite numbers
// with |v| <= 1e6. Anything else throws bad_request(msg, "lines"/"zones").
// An empty array is valid (no lines / zones). Never crashes on any JSON.
std::vector<Line> parse_lines(const nlohmann::json& j);
std::vector<Zone> parse_zones(const nlohmann::json& j);

class Counter {
 public:
  static constexpr int kDefaultForgetAfter = 120;

  Counter(std::vector<Line> lines, std::vector<Zone> zones,
          int forget_after = kDefaultForgetAfter);

  // One call per processed frame, with that frame's tracker output.
  void update(const std::vector<TrackedObject>& objects);

  nlohmann::json to_json() const;

  // No lines and no zones: the caller can skip counting altogether.
  bool empty() const { return lines_.empty() && zones_.empty(); }

  // Drops a track's state now (e.g. the caller knows it ended).
  void forget(int track_id) { tracks_.erase(track_id); }

  // Tracks whose state is held (for tests and memory checks).
  size_t tracked_count() const { return tracks_.size(); }

 private:
  using PerLabel = std::map<std::string, int64_t>;
  struct TrackState {
    double x, y;                 // last reference point
    int64_t last_seen;           // update number
    std::vector<char> entered;   // per zone: already counted in "entered"
  };

  std::vector<Line> lines_;
  std::vector<Zone> zones_;
  int forget_after_;
  int64_t frame_ = 0;
  std::unordered_map<int, TrackState> tracks_;
  std::vector<PerLabel> line_in_, line_out_;
  std::vector<PerLabel> zone_current_, zone_entered_;
};

}  // namespace osprey::video
