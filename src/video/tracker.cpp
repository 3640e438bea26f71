// ByteTracker: see tracker.hpp for the algorithm. Tracks live in one vector
// with a state field instead of ByteTrack's three lists: fewer copies, and the
// creation order gives deterministic tie-breaking.

#include "video/tracker.hpp"

#include <algorithm>
#include <climits>
#include <cmath>

namespace osprey::video {
namespace {

float iou(const inference::Box& a, const inference::Box& b) {
  float iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  float ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0;
  float inter = iw * ih;
  float area_a = (a.x2 - a.x1) * (a.y2 - a.y1);
  float area_b = (b.x2 - b.x1) * (b.y2 - b.y1);
  float uni = area_a + area_b - inter;
  return uni > 0 ? inter / uni : 0;
}

bool finite(const inference::Detection& d) {
  return std::isfinite(d.confidence) && std::isfinite(d.box.x1) && std::isfinite(d.box.y1) &&
         std::isfinite(d.box.x2) && std::isfinite(d.box.y2);
}

struct Pair {
  float iou;
  size_t t, d;  // indices into the candidate lists
};

// Greedy assignment: take pairs by decreasing IoU while both ends are free.
// Only pairs at or above `min_iou` (and overlapping at all) are considered, so
// the work stays proportional to the overlapping pairs, not tracks x dets.
// Returns (track index, detection index) pairs, in tracks_/dets numbering.
template <typename ClassOk>
std::vector<std::pair<size_t, size_t>> greedy_match(const std::vector<size_t>& tracks,
                                                    const std::vector<inference::Box>& predicted,
                                                    const std::vector<size_t>& det_idx,
                                                    const std::vector<inference::Detection>& dets,
                                                    float min_iou, ClassOk class_ok) {
  std::vector<Pair> pairs;
  for (size_t i = 0; i < tracks.size(); ++i)
    for (size_t j = 0; j < det_idx.size(); ++j) {
      if (!class_ok(tracks[i], det_idx[j])) continue;
      float v = iou(predicted[tracks[i]], dets[det_idx[j]].box);
      if (v > 0 && v >= min_iou) pairs.push_back({v, i, j});
    }
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
    if (a.iou != b.iou) return a.iou > b.iou;
    if (a.t != b.t) return a.t < b.t;
    return a.d < b.d;
  });
  std::vector<char> t_used(tracks.size(), 0), d_used(det_idx.size(), 0);
  std::vector<std::pair<size_t, size_t>> out;
  for (const Pair& p : pairs) {
    if (t_used[p.t] || d_used[p.d]) continue;
    t_used[p.t] = d_used[p.d] = 1;
    out.emplace_back(tracks[p.t], det_idx[p.d]);
  }
  return out;
}

// Drops the entries of `idx` that were used by a match.
void remove_used(std::vector<size_t>& idx, const std::vector<char>& used) {
  idx.erase(std::remove_if(idx.begin(), idx.end(), [&](size_t i) { return used[i] != 0; }),
            idx.end());
}

}  // namespace

TrackerOptions options_for_confidence(float confidence) {
  TrackerOptions o;
  o.high_threshold = confidence;
  o.new_track_threshold = confidence;
  o.low_threshold = std::min(0.1f, confidence);
  return o;
}

ByteTracker::ByteTracker(TrackerOptions opts) : opts_(opts) {
  if (opts_.max_lost_frames < 0) opts_.max_lost_frames = 0;
}

int ByteTracker::next_id() {
  last_id_ = last_id_ == INT_MAX ? 1 : last_id_ + 1;
  return last_id_;
}

void ByteTracker::reset() {
  tracks_.clear();
  frame_ = 0;
}

size_t ByteTracker::active_tracks() const {
  return static_cast<size_t>(std::count_if(tracks_.begin(), tracks_.end(), [&](const Track& t) {
    return t.confirmed && t.state == State::kTracked && t.last_frame == frame_;
  }));
}

std::vector<TrackedObject> ByteTracker::update(const std::vector<inference::Detection>& dets) {
  ++frame_;

  // 1. Predict. Lost tracks keep moving but stop changing size (ByteTrack).
  std::vector<inference::Box> predicted(tracks_.size());
  for (size_t i = 0; i < tracks_.size(); ++i) {
    tracks_[i].kf.predict(tracks_[i].state != State::kTracked);
    predicted[i] = tracks_[i].kf.box();
  }

  std::vector<size_t> high, low;
  for (size_t i = 0; i < dets.size(); ++i) {
    if (!finite(dets[i])) continue;
    if (dets[i].confidence >= opts_.high_threshold) {
      high.push_back(i);
    } else if (dets[i].confidence >= opts_.low_threshold) {
      low.push_back(i);
    }
  }

  auto class_ok = [&](size_t t, size_t d) {
    return !opts_.per_class || tracks_[t].class_id == dets[d].class_id;
  };
  std::vector<long> det_track(dets.size(), -1);  // detection -> tracks_ index
  std::vector<char> t_matched(tracks_.size(), 0), d_used(dets.size(), 0);
  auto apply = [&](size_t t, size_t d) {
    Track& tr = tracks_[t];
    tr.kf.update(dets[d].box);
    tr.state = State::kTracked;
    tr.last_frame = frame_;
    tr.class_id = dets[d].class_id;  // differs only when !per_class
    tr.label = dets[d].label;
    t_matched[t] = d_used[d] = 1;
    det_track[d] = static_cast<long>(t);
  };

  // 2. High detections vs confirmed tracks, tracked or lost.
  std::vector<size_t> pool;
  for (size_t i = 0; i < tracks_.size(); ++i)
    if (tracks_[i].confirmed) pool.push_back(i);
  for (auto [t, d] : greedy_match(pool, predicted, high, dets, opts_.match_iou, class_ok))
    apply(t, d);
  remove_used(high, d_used);

  // 3. Low detections vs tracked tracks still unmatched. Lost tracks are left
  // out: a weak box near a stale prediction is more likely a false positive.
  std::vector<size_t> remaining;
  for (size_t t : pool)
    if (!t_matched[t] && tracks_[t].state == State::kTracked) remaining.push_back(t);
  for (auto [t, d] : greedy_match(remaining, predicted, low, dets, opts_.low_match_iou, class_ok))
    apply(t, d);

  // 4. Unconfirmed tracks vs remaining high detections.
  std::vector<size_t> unconfirmed;
  for (size_t i = 0; i < tracks_.size(); ++i)
    if (!tracks_[i].confirmed) unconfirmed.push_back(i);
  for (auto [t, d] :
       greedy_match(unconfirmed, predicted, high, dets, opts_.unconfirmed_match_iou, class_ok)) {
    apply(t, d);
    tracks_[t].confirmed = true;
  }
  remove_used(high, d_used);

  // 6 (before 5, so new tracks are not touched). Unmatched tracks: unconfirmed
  // ones were a one-frame blip and go; confirmed ones become lost, and go once
  // lost too long. Marked here, erased after the output is built.
  std::vector<char> drop(tracks_.size(), 0);
  for (size_t i = 0; i < tracks_.size(); ++i) {
    if (t_matched[i]) continue;
    Track& tr = tracks_[i];
    if (!tr.confirmed) {
      drop[i] = 1;
    } else {
      tr.state = State::kLost;
      if (frame_ - tr.last_frame > opts_.max_lost_frames) drop[i] = 1;
    }
  }

  // 5. New tracks from confident leftovers.
  for (size_t d : high) {
    if (dets[d].confidence < opts_.new_track_threshold) continue;
    Track tr{next_id(), dets[d].class_id, dets[d].label, KalmanBox{}, State::kTracked,
             frame_ == 1, frame_, frame_};
    tr.kf.initiate(dets[d].box);
    det_track[d] = static_cast<long>(tracks_.size());
    tracks_.push_back(std::move(tr));
    drop.push_back(0);
  }

  std::vector<TrackedObject> out;
  for (size_t d = 0; d < dets.size(); ++d) {
    if (det_track[d] < 0) continue;
    const Track& tr = tracks_[static_cast<size_t>(det_track[d])];
    if (!tr.confirmed) continue;
    out.push_back({tr.id, dets[d].class_id, dets[d].label, dets[d].confidence, dets[d].box,
                   static_cast<int>(std::min<int64_t>(frame_ - tr.start_frame, INT_MAX))});
  }

  size_t w = 0;
  for (size_t i = 0; i < tracks_.size(); ++i)
    if (!drop[i]) {
      if (w != i) tracks_[w] = std::move(tracks_[i]);
      ++w;
    }
  tracks_.resize(w);
  return out;
}

}  // namespace osprey::video
