#include "video/tracker.hpp"

#include <cmath>
#include <set>

#include <gtest/gtest.h>

#include "video/kalman.hpp"

namespace osprey::video {
namespace {

using inference::Box;
using inference::Detection;

Detection det(float cx, float cy, float w = 40, float h = 80, float conf = 0.9f, int cls = 0,
              std::string label = "person") {
  return {cls, std::move(label), conf, Box{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2}};
}

// The track id reported for the detection nearest (cx, cy), or -1.
int id_near(const std::vector<TrackedObject>& out, float cx, float cy) {
  for (const auto& o : out) {
    float ox = (o.box.x1 + o.box.x2) / 2, oy = (o.box.y1 + o.box.y2) / 2;
    if (std::fabs(ox - cx) < 1 && std::fabs(oy - cy) < 1) return o.track_id;
  }
  return -1;
}

TEST(KalmanBox, InitiateReturnsTheBox) {
  KalmanBox kf;
  kf.initiate({10, 20, 50, 100});
  Box b = kf.box();
  EXPECT_NEAR(b.x1, 10, 1e-3);
  EXPECT_NEAR(b.y1, 20, 1e-3);
  EXPECT_NEAR(b.x2, 50, 1e-3);
  EXPECT_NEAR(b.y2, 100, 1e-3);
}

TEST(KalmanBox, PredictsForwardAfterSteadyMotion) {
  KalmanBox kf;
  kf.initiate({0, 0, 40, 80});
  for (int i = 1; i <= 20; ++i) {
    kf.predict();
    kf.update({i * 5.0f, i * 2.0f, i * 5.0f + 40, i * 2.0f + 80});
  }
  Box before = kf.box();
  EXPECT_NEAR(kf.mean()[4], 5.0, 0.5);  // learnt vx
  EXPECT_NEAR(kf.mean()[5], 2.0, 0.5);  // learnt vy
  kf.predict();
  Box after = kf.box();
  EXPECT_GT(after.x1, before.x1 + 4);
  EXPECT_GT(after.y1, before.y1 + 1);
  EXPECT_NEAR(after.x2 - after.x1, 40, 1);
  EXPECT_NEAR(after.y2 - after.y1, 80, 1);
}

TEST(KalmanBox, UpdatePullsTowardMeasurementAndShrinksUncertainty) {
  KalmanBox kf;
  kf.initiate({0, 0, 40, 80});
  kf.predict();
  double var_before = kf.covariance()[0][0];
  kf.update({10, 0, 50, 80});
  double cx = kf.mean()[0];
  EXPECT_GT(cx, 20);  // moved from 20 toward 30
  EXPECT_LT(cx, 30.01);
  EXPECT_LT(kf.covariance()[0][0], var_before);
  for (int i = 0; i < 8; ++i) EXPECT_GT(kf.covariance()[i][i], 0);
}

TEST(KalmanBox, DegenerateBoxStaysFinite) {
  KalmanBox kf;
  kf.initiate({5, 5, 5, 5});
  for (int i = 0; i < 10; ++i) {
    kf.predict();
    kf.update({5, 5, 5, 5});
  }
  Box b = kf.box();
  EXPECT_TRUE(std::isfinite(b.x1) && std::isfinite(b.y1) && std::isfinite(b.x2) &&
              std::isfinite(b.y2));
  EXPECT_GT(b.x2, b.x1);
  EXPECT_GT(b.y2, b.y1);
}

TEST(ByteTracker, ConstantVelocityKeepsOneIdFor50Frames) {
  ByteTracker t;
  int id = -1;
  for (int f = 0; f < 50; ++f) {
    auto out = t.update({det(100 + f * 8.0f, 200 + f * 3.0f)});
    ASSERT_EQ(out.size(), 1u) << "frame " << f;
    if (f == 0) id = out[0].track_id;
    EXPECT_EQ(out[0].track_id, id) << "frame " << f;
    EXPECT_EQ(out[0].age_frames, f);
  }
  EXPECT_GT(id, 0);
  EXPECT_EQ(t.active_tracks(), 1u);
}

TEST(ByteTracker, OutputFollowsInputOrderAndCarriesDetection) {
  ByteTracker t;
  std::vector<Detection> dets = {det(100, 100, 40, 80, 0.7f, 1, "dog"), det(400, 100)};
  auto out = t.update(dets);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].label, "dog");
  EXPECT_EQ(out[0].class_id, 1);
  EXPECT_FLOAT_EQ(out[0].confidence, 0.7f);
  EXPECT_FLOAT_EQ(out[0].box.x1, dets[0].box.x1);
  EXPECT_EQ(out[1].label, "person");
  EXPECT_NE(out[0].track_id, out[1].track_id);
  std::swap(dets[0], dets[1]);
  out = t.update(dets);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].label, "person");
  EXPECT_EQ(out[1].label, "dog");
}

TEST(ByteTracker, CrossingObjectsOfDifferentClassesKeepIds) {
  ByteTracker t;
  int person = -1, dog = -1;
  for (int f = 0; f <= 40; ++f) {
    float px = 100 + f * 10.0f, dx = 500 - f * 10.0f;  // meet at f = 20
    auto out = t.update({det(px, 200, 40, 80, 0.9f, 0, "person"),
                         det(dx, 205, 40, 80, 0.9f, 16, "dog")});
    ASSERT_EQ(out.size(), 2u) << "frame " << f;
    if (f == 0) {
      person = out[0].track_id;
      dog = out[1].track_id;
    }
    EXPECT_EQ(out[0].track_id, person) << "frame " << f;
    EXPECT_EQ(out[1].track_id, dog) << "frame " << f;
  }
}

TEST(ByteTracker, SameClassMovingApartKeepIds) {
  ByteTracker t;
  int left = -1, right = -1;
  for (int f = 0; f < 30; ++f) {
    float lx = 300 - f * 6.0f, rx = 330 + f * 6.0f;  // start overlapping heavily
    auto out = t.update({det(lx, 200), det(rx, 200)});
    ASSERT_EQ(out.size(), 2u) << "frame " << f;
    if (f == 0) {
      left = id_near(out, lx, 200);
      right = id_near(out, rx, 200);
    }
    EXPECT_EQ(id_near(out, lx, 200), left) << "frame " << f;
    EXPECT_EQ(id_near(out, rx, 200), right) << "frame " << f;
  }
  EXPECT_NE(left, right);
}

TEST(ByteTracker, SameClassPassingWithOffsetKeepIds) {
  // Two people walking past each other on parallel paths, partly overlapping.
  ByteTracker t;
  int a = -1, b = -1;
  for (int f = 0; f <= 40; ++f) {
    float ax = 100 + f * 10.0f, bx = 500 - f * 10.0f;
    auto out = t.update({det(ax, 200), det(bx, 250)});
    ASSERT_EQ(out.size(), 2u) << "frame " << f;
    if (f == 0) {
      a = out[0].track_id;
      b = out[1].track_id;
    }
    EXPECT_EQ(out[0].track_id, a) << "frame " << f;
    EXPECT_EQ(out[1].track_id, b) << "frame " << f;
  }
}

TEST(ByteTracker, ReappearingNearPredictionKeepsId) {
  ByteTracker t;
  int id = -1;
  float x = 100;
  for (int f = 0; f < 20; ++f, x += 6) {
    auto out = t.update({det(x, 200)});
    ASSERT_EQ(out.size(), 1u);
    id = out[0].track_id;
  }
  for (int f = 0; f < 10; ++f, x += 6) {
    EXPECT_TRUE(t.update({}).empty());
    EXPECT_EQ(t.active_tracks(), 0u);
    EXPECT_EQ(t.total_tracks(), 1u);  // held as lost
  }
  // 60 px further on: without the motion model the IoU with the last seen
  // box would be 0 (boxes are 40 px wide).
  auto out = t.update({det(x, 200)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].track_id, id);
  EXPECT_EQ(out[0].age_frames, 30);
}

TEST(ByteTracker, LostForExactlyMaxFramesStillMatches) {
  TrackerOptions o;
  o.max_lost_frames = 5;
  ByteTracker t(o);
  int id = t.update({det(100, 100)})[0].track_id;
  for (int f = 0; f < 5; ++f) t.update({});
  auto out = t.update({det(100, 100)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].track_id, id);
}

TEST(ByteTracker, LostTooLongGetsNewId) {
  ByteTracker t;  // max_lost_frames = 30
  int id = -1;
  for (int f = 0; f < 5; ++f) id = t.update({det(100, 100)})[0].track_id;
  for (int f = 0; f < 31; ++f) t.update({});
  EXPECT_EQ(t.total_tracks(), 0u);
  // Not the first frame any more: the new track needs a second sighting.
  EXPECT_TRUE(t.update({det(100, 100)}).empty());
  auto out = t.update({det(100, 100)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_GT(out[0].track_id, id);
  EXPECT_EQ(out[0].age_frames, 1);
}

TEST(ByteTracker, LowConfidenceContinuesButNeverStarts) {
  ByteTracker t;
  int id = t.update({det(100, 100)})[0].track_id;
  for (int f = 1; f <= 5; ++f) {
    auto out = t.update({det(100 + f * 2.0f, 100, 40, 80, 0.3f)});
    ASSERT_EQ(out.size(), 1u) << "frame " << f;
    EXPECT_EQ(out[0].track_id, id);
    EXPECT_FLOAT_EQ(out[0].confidence, 0.3f);
  }
  // A low detection elsewhere starts nothing, now or on the next frame.
  for (int f = 0; f < 3; ++f) {
    auto out = t.update({det(112, 100, 40, 80, 0.9f), det(600, 300, 40, 80, 0.3f)});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].track_id, id);
  }
  EXPECT_EQ(t.total_tracks(), 1u);

  ByteTracker fresh;
  for (int f = 0; f < 5; ++f) EXPECT_TRUE(fresh.update({det(100, 100, 40, 80, 0.3f)}).empty());
  EXPECT_EQ(fresh.total_tracks(), 0u);
}

TEST(ByteTracker, BetweenHighAndNewTrackThresholdStartsNothing) {
  ByteTracker t;
  for (int f = 0; f < 3; ++f) EXPECT_TRUE(t.update({det(100, 100, 40, 80, 0.55f)}).empty());
  EXPECT_EQ(t.total_tracks(), 0u);
}

TEST(ByteTracker, NewTrackAfterFirstFrameNeedsConfirmation) {
  ByteTracker t;
  auto out = t.update({det(100, 100)});
  ASSERT_EQ(out.size(), 1u);  // first frame: confirmed at once
  out = t.update({det(100, 100), det(500, 100)});
  ASSERT_EQ(out.size(), 1u);  // the newcomer is unconfirmed
  EXPECT_EQ(t.total_tracks(), 2u);
  out = t.update({det(100, 100), det(500, 100)});
  ASSERT_EQ(out.size(), 2u);
  // A one-frame blip is dropped: it never shows and leaves nothing behind.
  t.update({det(100, 100), det(500, 100), det(800, 400)});
  EXPECT_EQ(t.total_tracks(), 3u);
  t.update({det(100, 100), det(500, 100)});
  EXPECT_EQ(t.total_tracks(), 2u);
}

TEST(ByteTracker, PerClassRefusesClassChangeUnlessDisabled) {
  ByteTracker strict;
  int id = strict.update({det(100, 100, 40, 80, 0.9f, 0, "person")})[0].track_id;
  strict.update({det(100, 100, 40, 80, 0.9f, 1, "dog")});
  auto out = strict.update({det(100, 100, 40, 80, 0.9f, 1, "dog")});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].track_id, id);

  TrackerOptions o;
  o.per_class = false;
  ByteTracker loose(o);
  id = loose.update({det(100, 100, 40, 80, 0.9f, 0, "person")})[0].track_id;
  out = loose.update({det(100, 100, 40, 80, 0.9f, 1, "dog")});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].track_id, id);
  EXPECT_EQ(out[0].label, "dog");
}

TEST(ByteTracker, IdsAreNeverReused) {
  TrackerOptions o;
  o.max_lost_frames = 2;
  ByteTracker t(o);
  std::set<int> seen;
  int last = 0;
  for (int round = 0; round < 20; ++round) {
    // Objects appear at a new place each round, live a few frames, vanish.
    float x = 50.0f + (round % 5) * 100.0f;
    for (int f = 0; f < 3; ++f)
      for (const auto& o2 : t.update({det(x, 100), det(x, 400)})) {
        if (!seen.count(o2.track_id)) {
          EXPECT_GT(o2.track_id, last);
          last = o2.track_id;
        }
        seen.insert(o2.track_id);
      }
    for (int f = 0; f < 4; ++f) t.update({});
    if (round == 10) t.reset();  // ids keep increasing across reset
  }
  EXPECT_EQ(seen.size(), 40u);
  EXPECT_EQ(t.total_tracks(), 0u);
}

TEST(ByteTracker, ResetStartsOver) {
  ByteTracker t;
  int id = t.update({det(100, 100)})[0].track_id;
  t.reset();
  EXPECT_EQ(t.total_tracks(), 0u);
  auto out = t.update({det(100, 100)});  // first frame again: confirmed at once
  ASSERT_EQ(out.size(), 1u);
  EXPECT_GT(out[0].track_id, id);
}

TEST(ByteTracker, IgnoresNonFiniteInput) {
  ByteTracker t;
  float nan = std::nanf("");
  Detection bad = det(100, 100);
  bad.box.x1 = nan;
  Detection bad_conf = det(300, 100);
  bad_conf.confidence = nan;
  Detection inf = det(500, 100);
  inf.box.y2 = INFINITY;
  auto out = t.update({bad, det(700, 100), bad_conf, inf});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(t.total_tracks(), 1u);
  EXPECT_TRUE(t.update({}).empty());
}

TEST(ByteTracker, ManyDetectionsStayBounded) {
  TrackerOptions o;
  o.max_lost_frames = 3;
  ByteTracker t(o);
  for (int f = 0; f < 10; ++f) {
    std::vector<Detection> dets;
    for (int i = 0; i < 300; ++i) dets.push_back(det((i % 30) * 50.0f + f * 2000.0f, (i / 30) * 100.0f));
    t.update(dets);
  }
  // At most the last (max_lost_frames + 1) frames of objects are held.
  EXPECT_LE(t.total_tracks(), 300u * 4);
}


// A stream asking for confidence 0.25 sees an object at 0.4 (the default
// new-track threshold, 0.6, would hide it), and an object it tracks stays
// reported while its score dips to 0.15, below what was asked.
TEST(ByteTracker, OptionsForConfidenceReportWhatWasAskedAndKeepTracksThroughDips) {
  auto o = options_for_confidence(0.25f);
  EXPECT_FLOAT_EQ(o.high_threshold, 0.25f);
  EXPECT_FLOAT_EQ(o.new_track_threshold, 0.25f);
  EXPECT_FLOAT_EQ(o.low_threshold, 0.1f);
  EXPECT_FLOAT_EQ(options_for_confidence(0.05f).low_threshold, 0.05f);

  ByteTracker t(o);
  auto first = t.update({det(100, 100, 40, 80, 0.4f)});
  ASSERT_EQ(first.size(), 1u);
  const int id = first[0].track_id;
  for (int i = 1; i <= 5; ++i) {
    auto out = t.update({det(100 + 3 * i, 100, 40, 80, 0.15f)});
    ASSERT_EQ(out.size(), 1u) << "frame " << i;
    EXPECT_EQ(out[0].track_id, id);
  }
  // A new object that never reaches the asked confidence never appears.
  auto out = t.update({det(118, 100, 40, 80, 0.5f), det(400, 300, 40, 80, 0.2f)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].track_id, id);
  EXPECT_TRUE(t.update({det(121, 100, 40, 80, 0.5f), det(400, 300, 40, 80, 0.2f)}).size() == 1u);
}

}  // namespace
}  // namespace osprey::video
