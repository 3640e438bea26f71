#pragma once
// ByteTracker: ByteTrack-style multi-object tracking over per-frame detections.
// It gives each object a stable id across frames from box overlap (IoU) and a
// Kalman motion model alone: no appearance features.
//
//   ByteTracker tracker;                          // TrackerOptions{} defaults
//   for (each processed frame) {
//     auto dets = registry.detect_sync(model, bgr, opts).detections;
//     for (const TrackedObject& o : tracker.update(dets))
//       fmt::print("#{} {} {:.2f}\n", o.track_id, o.label, o.confidence);
//   }
//
// Frame-based: one update() call is one step of the motion model, whatever
// the time between calls. A caller that drops frames (decoding at 30 fps,
// detecting at 5) makes a gap of several source frames one step; that is fine
// as long as the drop rate is steady, because the learnt velocity is then "per
// processed frame". max_lost_frames and age_frames count update() calls too.
//
// Per update (ByteTrack, Zhang et al. 2022):
//  1. Predict every track one step.
//  2. High detections (>= high_threshold) vs confirmed tracks, tracked and
//     lost, by IoU with the predicted boxes (>= match_iou).
//  3. Low detections (>= low_threshold, < high_threshold) vs the tracked tracks
//     still unmatched (>= low_match_iou): an occluded, low-scoring object keeps
//     its track, but a low score never starts one.
//  4. Unconfirmed tracks (started last frame) vs the remaining high detections
//     (>= unconfirmed_match_iou); a matched one is confirmed, the rest dropped.
//  5. Remaining high detections with confidence >= new_track_threshold start
//     unconfirmed tracks (confirmed at once on the tracker's first update, so
//     a stream's first frame is reported fully).
//  6. Unmatched tracked tracks become lost; lost for more than max_lost_frames
//     updates, they are removed.
//
// Matching is greedy by highest IoU (ties: older track, earlier detection)
// rather than Hungarian: with detections already NMS-suppressed the two almost
// always agree, greedy is simpler, O(pairs log pairs) and deterministic.
//
// Track ids are positive and increase; reset() keeps counting, so an id is
// never reused within one ByteTracker (they wrap to 1 only after INT_MAX).
// Non-finite boxes or confidences are ignored. Not thread-safe: one tracker
// per stream, driven by one thread.

#include <cstdint>
#include <string>
#include <vector>

#include "inference/detection.hpp"
#include "video/kalman.hpp"

namespace osprey::video {

struct TrackerOptions {
  float high_threshold = 0.5f;
  float low_threshold = 0.1f;
  float new_track_threshold = 0.6f;
  float match_iou = 0.2f;  // min IoU for the first association
  float low_match_iou = 0.5f;
  float unconfirmed_match_iou = 0.3f;
  int max_lost_frames = 30;
  bool per_class = true;  // only same-class detections continue a track
};

struct TrackedObject {
  int track_id;
  int class_id;
  std::string label;
  float confidence;
  inference::Box box;  // the detection's box, not the filtered estimate
  int age_frames;      // update() calls since the track started (0 when new)
};

// The tracker for a client that asked for detections at `confidence` or
// above: any detection that passes it may start a track (high and new-track
// thresholds = confidence), and detections down to min(0.1, confidence)
// keep a track alive through a dip (occlusion, blur), as ByteTrack intends.
// The detector must then run at low_threshold, not at `confidence`: an
// object already tracked stays reported while its score dips.
TrackerOptions options_for_confidence(float confidence);

class ByteTracker {
 public:
  explicit ByteTracker(TrackerOptions opts = {});

  // One call per processed frame. Returns one object per confirmed track that
  // matched a detection in this frame, in the order of `dets`; detections
  // left out are noise, unconfirmed new tracks, or below the thresholds.
  std::vector<TrackedObject> update(const std::vector<inference::Detection>& dets);

  // Forgets all tracks (e.g. the stream restarted); ids keep increasing.
  void reset();

  // Confirmed tracks matched in the last update.
  size_t active_tracks() const;
  // Everything held: tracked, unconfirmed and lost (bounds memory use).
  size_t total_tracks() const { return tracks_.size(); }

  const TrackerOptions& options() const { return opts_; }

 private:
  enum class State { kTracked, kLost };
  struct Track {
    int id;
    int class_id;
    std::string label;
    KalmanBox kf;
    State state;
    bool confirmed;
    int64_t start_frame;
    int64_t last_frame;  // last update that matched a detection
  };

  int next_id();

  TrackerOptions opts_;
  std::vector<Track> tracks_;  // in creation order, which breaks matching ties
  int64_t frame_ = 0;
  int last_id_ = 0;
};

}  // namespace osprey::video
