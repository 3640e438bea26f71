#pragma once
// KalmanBox: a constant-velocity Kalman filter over one bounding box, the
// motion model of SORT / ByteTrack.
//
//   KalmanBox kf;
//   kf.initiate(det.box);        // first sighting: zero velocity, wide covariance
//   ...each new frame:
//   kf.predict();                // advance one step; kf.box() is the prediction
//   kf.update(next_det.box);     // fuse the matched detection (skip when unmatched)
//   inference::Box b = kf.box(); // current estimate
//
// State [cx, cy, a, h, vcx, vcy, va, vh] (a = w/h), measurement [cx, cy, a, h].
// One step is one predict() call, whatever time passed between the frames.
// Noise is proportional to the box height (std_weight_position 1/20,
// std_weight_velocity 1/160, as in the ByteTrack code), so a near, large object
// is allowed to move more pixels per step than a far, small one. The aspect
// ratio gets small fixed noise: it barely changes for a rigid object.
//
// Plain fixed-size arrays in double: 8x8 is tiny and this avoids pulling a
// matrix library into the hot loop of every video stream.

#include <array>

#include "inference/detection.hpp"

namespace osprey::video {

class KalmanBox {
 public:
  using Vec8 = std::array<double, 8>;
  using Mat8 = std::array<Vec8, 8>;

  // Starts from `b` with zero velocity.
  void initiate(const inference::Box& b);

  // Advances one step. freeze_size zeroes the aspect/height velocity first;
  // the tracker sets it for lost tracks so that a box shrinking when it was
  // last seen does not collapse to nothing while the object is unseen.
  void predict(bool freeze_size = false);

  // Fuses a measured box into the estimate.
  void update(const inference::Box& b);

  // The current estimate as corners (width and height kept positive).
  inference::Box box() const;

  const Vec8& mean() const { return x_; }
  const Mat8& covariance() const { return p_; }

 private:
  Vec8 x_{};
  Mat8 p_{};
};

}  // namespace osprey::video
