#include "video/counting.hpp"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace osprey::video {
namespace {

using nlohmann::json;

// An object whose reference point (bottom-centre) is at (x, y).
TrackedObject at(int id, float x, float y, const std::string& label = "person") {
  return {id, 0, label, 0.9f, inference::Box{x - 10, y - 40, x + 10, y}, 0};
}

// Horizontal line drawn left to right at y = 100, x in [0, 200].
Counter door_counter() { return Counter({{"door", 0, 100, 200, 100}}, {}); }

TEST(Counter, LineCrossingCountsOncePerDirection) {
  Counter c = door_counter();
  c.update({at(1, 100, 50)});
  c.update({at(1, 100, 90)});
  c.update({at(1, 100, 110)});  // down across: left -> right of the line = "in"
  c.update({at(1, 100, 130)});  // stays below: nothing new
  c.update({at(1, 100, 150)});
  json j = c.to_json();
  EXPECT_EQ(j["lines"]["door"]["in"]["person"], 1);
  EXPECT_TRUE(j["lines"]["door"]["out"].empty());

  c.update({at(1, 100, 80)});  // back up: "out"
  j = c.to_json();
  EXPECT_EQ(j["lines"]["door"]["in"]["person"], 1);
  EXPECT_EQ(j["lines"]["door"]["out"]["person"], 1);
}

TEST(Counter, ReversedLineSwapsDirections) {
  Counter c({{"door", 200, 100, 0, 100}}, {});
  c.update({at(1, 100, 50)});
  c.update({at(1, 100, 150)});
  EXPECT_EQ(c.to_json()["lines"]["door"]["out"]["person"], 1);
  EXPECT_TRUE(c.to_json()["lines"]["door"]["in"].empty());
}

TEST(Counter, PassingBesideTheSegmentEndDoesNotCount) {
  Counter c = door_counter();
  c.update({at(1, 250, 50)});
  c.update({at(1, 250, 150)});  // crosses the infinite line, not the segment
  c.update({at(2, -30, 150)});
  c.update({at(2, -30, 50)});
  // A diagonal move that crosses y=100 at x=210, past the end.
  c.update({at(3, 190, 0)});
  c.update({at(3, 230, 200)});
  json j = c.to_json();
  EXPECT_TRUE(j["lines"]["door"]["in"].empty());
  EXPECT_TRUE(j["lines"]["door"]["out"].empty());
}

TEST(Counter, TouchingTheLineWithoutPassingDoesNotCount) {
  Counter c = door_counter();
  c.update({at(1, 100, 50)});
  c.update({at(1, 100, 100)});  // exactly on the line
  c.update({at(1, 100, 50)});
  EXPECT_TRUE(c.to_json()["lines"]["door"]["in"].empty());
  EXPECT_TRUE(c.to_json()["lines"]["door"]["out"].empty());
  c.update({at(1, 100, 100)});
  c.update({at(1, 100, 120)});  // on the line, then below: one crossing
  EXPECT_EQ(c.to_json()["lines"]["door"]["in"]["person"], 1);
}

TEST(Counter, LineCountsPerLabelAndTrack) {
  Counter c = door_counter();
  c.update({at(1, 50, 50, "dog"), at(2, 150, 150, "person"), at(3, 100, 50, "dog")});
  c.update({at(1, 50, 150, "dog"), at(2, 150, 50, "person"), at(3, 100, 150, "dog")});
  json j = c.to_json();
  EXPECT_EQ(j["lines"]["door"]["in"]["dog"], 2);
  EXPECT_EQ(j["lines"]["door"]["out"]["person"], 1);
  EXPECT_FALSE(j["lines"]["door"]["in"].contains("person"));
}

TEST(Counter, CrossingAcrossATrackerGapCounts) {
  Counter c = door_counter();
  c.update({at(1, 100, 50)});
  c.update({});
  c.update({});
  c.update({at(1, 100, 150)});
  EXPECT_EQ(c.to_json()["lines"]["door"]["in"]["person"], 1);
}

TEST(Counter, ZoneCurrentAndEntered) {
  Zone yard{"yard", {{0, 0}, {100, 0}, {100, 100}, {0, 100}}};
  Counter c({}, {yard});
  c.update({at(1, 50, 50, "dog"), at(2, 200, 50, "dog")});
  json j = c.to_json();
  EXPECT_EQ(j["zones"]["yard"]["current"]["dog"], 1);
  EXPECT_EQ(j["zones"]["yard"]["entered"]["dog"], 1);

  c.update({at(1, 150, 50, "dog"), at(2, 60, 50, "dog")});  // 1 leaves, 2 enters
  j = c.to_json();
  EXPECT_EQ(j["zones"]["yard"]["current"]["dog"], 1);
  EXPECT_EQ(j["zones"]["yard"]["entered"]["dog"], 2);

  c.update({at(1, 50, 50, "dog"), at(2, 60, 50, "dog"), at(3, 10, 10, "person")});
  j = c.to_json();  // 1 back in: still 2 distinct dogs entered
  EXPECT_EQ(j["zones"]["yard"]["current"]["dog"], 2);
  EXPECT_EQ(j["zones"]["yard"]["entered"]["dog"], 2);
  EXPECT_EQ(j["zones"]["yard"]["current"]["person"], 1);
  EXPECT_EQ(j["zones"]["yard"]["entered"]["person"], 1);

  c.update({});
  j = c.to_json();
  EXPECT_TRUE(j["zones"]["yard"]["current"].empty());
  EXPECT_EQ(j["zones"]["yard"]["entered"]["dog"], 2);
}

TEST(Counter, ZoneConcavePolygon) {
  // A "U": the notch between the arms is outside.
  Zone u{"u", {{0, 0}, {30, 0}, {30, 70}, {70, 70}, {70, 0}, {100, 0}, {100, 100}, {0, 100}}};
  Counter c({}, {u});
  c.update({at(1, 50, 30), at(2, 15, 30), at(3, 50, 90), at(4, 85, 10), at(5, -5, 50)});
  EXPECT_EQ(c.to_json()["zones"]["u"]["current"]["person"], 3);  // 2, 3, 4
}

TEST(Counter, JsonShape) {
  Counter c({{"door", 0, 100, 200, 100}}, {{"yard", {{0, 0}, {10, 0}, {0, 10}}}});
  EXPECT_FALSE(c.empty());
  json expect = json::parse(R"({"lines": {"door": {"in": {}, "out": {}}},
                                "zones": {"yard": {"current": {}, "entered": {}}}})");
  EXPECT_EQ(c.to_json(), expect);
  EXPECT_TRUE(Counter({}, {}).empty());
  EXPECT_EQ(Counter({}, {}).to_json(), json::parse(R"({"lines": {}, "zones": {}})"));
}

TEST(Counter, ForgetsGoneTracks) {
  Counter c({{"door", 0, 100, 200, 100}}, {}, /*forget_after=*/5);
  c.update({at(1, 100, 50), at(2, 50, 50)});
  EXPECT_EQ(c.tracked_count(), 2u);
  for (int i = 0; i < 5; ++i) c.update({at(2, 50, 50)});
  EXPECT_EQ(c.tracked_count(), 2u);
  c.update({at(2, 50, 50)});
  EXPECT_EQ(c.tracked_count(), 1u);
  // Track 1 coming back is a new state: no crossing from its forgotten point.
  c.update({at(1, 100, 150)});
  EXPECT_TRUE(c.to_json()["lines"]["door"]["in"].empty());
  c.forget(1);
  c.forget(2);
  EXPECT_EQ(c.tracked_count(), 0u);
}

// ---- parsing ----

void expect_400(const json& j, bool lines) {
  try {
    if (lines) {
      parse_lines(j);
    } else {
      parse_zones(j);
    }
    ADD_FAILURE() << "accepted: " << j.dump();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400) << j.dump();
    EXPECT_EQ(e.param(), lines ? "lines" : "zones");
    EXPECT_FALSE(std::string(e.what()).empty());
  }
}

TEST(Parse, ValidInput) {
  auto lines = parse_lines(json::parse(R"([{"name": "door", "points": [[0, 100], [200.5, 100]]},
                                           {"name": "gate", "points": [[-5, 0], [5, 1e6]]}])"));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].name, "door");
  EXPECT_FLOAT_EQ(lines[0].x1, 0);
  EXPECT_FLOAT_EQ(lines[0].y1, 100);
  EXPECT_FLOAT_EQ(lines[0].x2, 200.5f);
  EXPECT_FLOAT_EQ(lines[0].y2, 100);
  EXPECT_EQ(lines[1].name, "gate");

  auto zones = parse_zones(json::parse(
      R"([{"name": "yard \u00e9", "points": [[0, 0], [100, 0], [100, 100], [0, 100]], "extra": 1}])"));
  ASSERT_EQ(zones.size(), 1u);
  EXPECT_EQ(zones[0].name, "yard \xc3\xa9");
  ASSERT_EQ(zones[0].points.size(), 4u);
  EXPECT_FLOAT_EQ(zones[0].points[2].first, 100);

  EXPECT_TRUE(parse_lines(json::array()).empty());
  EXPECT_TRUE(parse_zones(json::array()).empty());

  json max_zone = {{"name", "z"}, {"points", json::array()}};
  for (int i = 0; i < 64; ++i) max_zone["points"].push_back({i, i * i});
  EXPECT_EQ(parse_zones(json::array({max_zone}))[0].points.size(), 64u);

  json sixteen = json::array();
  for (int i = 0; i < 16; ++i)
    sixteen.push_back({{"name", "l" + std::to_string(i)}, {"points", {{0, 0}, {1, 1}}}});
  EXPECT_EQ(parse_lines(sixteen).size(), 16u);
  EXPECT_EQ(parse_lines(json::array({{{"name", std::string(64, 'x')},
                                      {"points", {{0, 0}, {1, 1}}}}}))
                .size(),
            1u);
}

TEST(Parse, RejectsBadLines) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  json ok_pts = {{0, 0}, {1, 1}};
  std::vector<json> bad = {
      json(),  // null
      json(1),
      json("door"),
      json::object(),
      json::object({{"name", "door"}, {"points", ok_pts}}),  // object, not array
      json::array({1}),
      json::array({json()}),
      json::array({json::array()}),
      json::array({{{"points", ok_pts}}}),                       // no name
      json::array({{{"name", 5}, {"points", ok_pts}}}),          // name not string
      json::array({{{"name", ""}, {"points", ok_pts}}}),         // empty name
      json::array({{{"name", std::string(65, 'x')}, {"points", ok_pts}}}),
      json::array({{{"name", "a\nb"}, {"points", ok_pts}}}),     // control char
      json::array({{{"name", "\xff\xfe"}, {"points", ok_pts}}}),  // invalid UTF-8
      json::array({{{"name", "\xc3"}, {"points", ok_pts}}}),      // truncated UTF-8
      json::array({{{"name", "\xc0\xaf"}, {"points", ok_pts}}}),  // overlong
      json::array({{{"name", "d"}, {"points", ok_pts}}, {{"name", "d"}, {"points", ok_pts}}}),
      json::array({{{"name", "door"}}}),                          // no points
      json::array({{{"name", "door"}, {"points", "0,0,1,1"}}}),
      json::array({{{"name", "door"}, {"points", json::object()}}}),
      json::array({{{"name", "door"}, {"points", json::array()}}}),
      json::array({{{"name", "door"}, {"points", {{0, 0}}}}}),
      json::array({{{"name", "door"}, {"points", {{0, 0}, {1, 1}, {2, 2}}}}}),
      json::array({{{"name", "door"}, {"points", {{0, 0}, {1, 1, 1}}}}}),
      json::array({{{"name", "door"}, {"points", {{0, 0}, {1}}}}}),
      json::array({{{"name", "door"}, {"points", {{0, 0}, 1}}}}),
      json::array({{{"name", "door"}, {"points", {{0, 0}, {"1", 1}}}}}),
      json::array({{{"name", "door"}, {"points", {{0, 0}, {true, 1}}}}}),
      json::array({{{"name", "door"}, {"points", {{0, 0}, {json(), 1}}}}}),
      json::array({{{"name", "door"}, {"points", {{0, 0}, {json::object({{"x", 1}}), 1}}}}}),
      json::array({{{"name", "door"}, {"points", {{0, 0}, {nan, 1}}}}}),
      json::array({{{"name", "door"}, {"points", {{0, 0}, {1, inf}}}}}),
      json::array({{{"name", "door"}, {"points", {{0, 0}, {1, -inf}}}}}),
      json::array({{{"name", "door"}, {"points", {{0, 0}, {1, 1e300}}}}}),
      json::array({{{"name", "door"}, {"points", {{0, 0}, {18446744073709551615ull, 1}}}}}),
      json::array({{{"name", "door"}, {"points", {{5, 5}, {5, 5}}}}}),  // zero length
  };
  json seventeen = json::array();
  for (int i = 0; i < 17; ++i)
    seventeen.push_back({{"name", "l" + std::to_string(i)}, {"points", ok_pts}});
  bad.push_back(seventeen);
  for (const auto& j : bad) expect_400(j, true);
}

TEST(Parse, RejectsBadZones) {
  json tri = {{0, 0}, {10, 0}, {0, 10}};
  json many = json::array();
  for (int i = 0; i < 65; ++i) many.push_back({i, i});
  std::vector<json> bad = {
      json(),
      json(true),
      json::object(),
      json::array({{{"name", "yard"}}}),
      json::array({{{"points", tri}}}),
      json::array({{{"name", "yard"}, {"points", {{0, 0}, {1, 1}}}}}),  // 2 points
      json::array({{{"name", "yard"}, {"points", many}}}),
      json::array({{{"name", "yard"}, {"points", {{0, 0}, {10, 0}, {0, std::nan("")}}}}}),
      json::array({{{"name", "yard"}, {"points", {{0, 0}, {10, 0}, {0, 10, 3}}}}}),
      json::array({{{"name", "y"}, {"points", tri}}, {{"name", "y"}, {"points", tri}}}),
      json::array({{{"name", json::array({"y"})}, {"points", tri}}}),
  };
  json seventeen = json::array();
  for (int i = 0; i < 17; ++i)
    seventeen.push_back({{"name", "z" + std::to_string(i)}, {"points", tri}});
  bad.push_back(seventeen);
  for (const auto& j : bad) expect_400(j, false);
}

TEST(Parse, DeepAndOddJsonNeverCrashes) {
  json deep = json::array();
  json* cur = &deep;
  for (int i = 0; i < 100; ++i) {
    cur->push_back(json::array());
    cur = &(*cur)[0];
  }
  expect_400(deep, true);
  expect_400(deep, false);
  expect_400(json::binary({1, 2, 3}), true);
  expect_400(json::array({{{"name", "x"}, {"points", json::binary({1, 2})}}}), false);
}

}  // namespace
}  // namespace osprey::video
