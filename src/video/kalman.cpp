// Kalman filter math, written out for the fixed 8-state / 4-measurement case.
// The measurement matrix H is [I4 0], so H*P*H' is P's top-left 4x4 block and
// P*H' is P's first four columns: no general matrix products are needed there.

#include "video/kalman.hpp"

#include <algorithm>
#include <cmath>

namespace osprey::video {
namespace {

constexpr double kStdPos = 1.0 / 20;
constexpr double kStdVel = 1.0 / 160;
// Boxes under a pixel would make the height-scaled noise vanish and the
// innovation covariance near-singular; a pixel is the measurement floor.
constexpr double kMinSide = 1.0;

std::array<double, 4> measure(const inference::Box& b) {
  double w = std::max(static_cast<double>(b.x2) - b.x1, kMinSide);
  double h = std::max(static_cast<double>(b.y2) - b.y1, kMinSide);
  return {(static_cast<double>(b.x1) + b.x2) / 2, (static_cast<double>(b.y1) + b.y2) / 2, w / h, h};
}

// Height used to scale noise: the estimate may drift negative between updates.
double noise_height(double h) { return std::max(std::fabs(h), kMinSide); }

void symmetrize(KalmanBox::Mat8& p) {
  for (int i = 0; i < 8; ++i)
    for (int j = i + 1; j < 8; ++j) p[i][j] = p[j][i] = (p[i][j] + p[j][i]) / 2;
}

}  // namespace

void KalmanBox::initiate(const inference::Box& b) {
  auto z = measure(b);
  x_ = {z[0], z[1], z[2], z[3], 0, 0, 0, 0};
  double h = z[3];
  // Velocity starts unknown: a wide (10x) spread so the first updates set it.
  const double sd[8] = {2 * kStdPos * h,  2 * kStdPos * h,  1e-2, 2 * kStdPos * h,
                        10 * kStdVel * h, 10 * kStdVel * h, 1e-5, 10 * kStdVel * h};
  p_ = {};
  for (int i = 0; i < 8; ++i) p_[i][i] = sd[i] * sd[i];
}

void KalmanBox::predict(bool freeze_size) {
  if (freeze_size) x_[6] = x_[7] = 0;
  double h = noise_height(x_[3]);
  // x = F x with F = [I I; 0 I].
  for (int i = 0; i < 4; ++i) x_[i] += x_[i + 4];
  // P = F P F'. Rows first (F P), then columns ((F P) F').
  Mat8 fp = p_;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 8; ++j) fp[i][j] += p_[i + 4][j];
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 4; ++j) fp[i][j] += fp[i][j + 4];
  p_ = fp;
  const double sd[8] = {kStdPos * h, kStdPos * h, 1e-2, kStdPos * h,
                        kStdVel * h, kStdVel * h, 1e-5, kStdVel * h};
  for (int i = 0; i < 8; ++i) p_[i][i] += sd[i] * sd[i];
  symmetrize(p_);
}

void KalmanBox::update(const inference::Box& b) {
  auto z = measure(b);
  double h = noise_height(x_[3]);
  const double r[4] = {kStdPos * h, kStdPos * h, 1e-1, kStdPos * h};

  // S = H P H' + R, then its Cholesky factor L (S = L L'). S is symmetric
  // positive definite because R is; the floor only guards rounding.
  double l[4][4] = {};
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j <= i; ++j) {
      double s = p_[i][j] + (i == j ? r[i] * r[i] : 0.0);
      for (int k = 0; k < j; ++k) s -= l[i][k] * l[j][k];
      if (i == j) {
        l[i][i] = std::sqrt(std::max(s, 1e-12));
      } else {
        l[i][j] = s / l[j][j];
      }
    }
  }

  // Kalman gain K = P H' S^-1, row by row: S k_i = (P H')_i (S symmetric).
  double k[8][4];
  for (int i = 0; i < 8; ++i) {
    double y[4];
    for (int a = 0; a < 4; ++a) {  // forward: L y = b
      double s = p_[i][a];
      for (int c = 0; c < a; ++c) s -= l[a][c] * y[c];
      y[a] = s / l[a][a];
    }
    for (int a = 3; a >= 0; --a) {  // back: L' k = y
      double s = y[a];
      for (int c = a + 1; c < 4; ++c) s -= l[c][a] * k[i][c];
      k[i][a] = s / l[a][a];
    }
  }

  double innov[4];
  for (int a = 0; a < 4; ++a) innov[a] = z[a] - x_[a];
  for (int i = 0; i < 8; ++i)
    for (int a = 0; a < 4; ++a) x_[i] += k[i][a] * innov[a];

  // P -= K S K' = K (P H')': reuses P's first columns, saved before writing.
  Mat8 ph = p_;
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) {
      double s = 0;
      for (int a = 0; a < 4; ++a) s += k[i][a] * ph[j][a];
      p_[i][j] -= s;
    }
  symmetrize(p_);
}

inference::Box KalmanBox::box() const {
  double h = std::max(x_[3], 1e-3);
  double w = std::max(x_[2], 1e-6) * h;
  return {static_cast<float>(x_[0] - w / 2), static_cast<float>(x_[1] - h / 2),
          static_cast<float>(x_[0] + w / 2), static_cast<float>(x_[1] + h / 2)};
}

}  // namespace osprey::video
