// Counter geometry and request parsing. Geometry runs in double: pixel
// coordinates fit easily, and the orientation tests then do not flicker for
// points a fraction of a pixel from a line.

#include "video/counting.hpp"

#include <cmath>
#include <set>

#include "common/error.hpp"

namespace osprey::video {
namespace {

constexpr size_t kMaxItems = 16;
constexpr size_t kMaxName = 64;
constexpr size_t kMaxZonePoints = 64;
constexpr double kMaxCoord = 1e6;

// > 0: p is right of a->b as seen on screen (y down); < 0: left; 0: on it.
double orient(double ax, double ay, double bx, double by, double px, double py) {
  return (bx - ax) * (py - ay) - (by - ay) * (px - ax);
}

bool inside(const Zone& z, double x, double y) {
  // Crossing number: count polygon edges crossed by a ray going +x from p.
  bool in = false;
  size_t n = z.points.size();
  for (size_t i = 0, j = n - 1; i < n; j = i++) {
    double xi = z.points[i].first, yi = z.points[i].second;
    double xj = z.points[j].first, yj = z.points[j].second;
    // Half-open test (yi > y) != (yj > y) counts a vertex on the ray once.
    if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) in = !in;
  }
  return n >= 3 && in;
}

// Does the move p->q carry the point across segment a-b? Returns +1 for
// left-to-right ("in"), -1 for right-to-left ("out"), 0 otherwise.
int crossing(const Line& l, double px, double py, double qx, double qy) {
  bool p_right = orient(l.x1, l.y1, l.x2, l.y2, px, py) > 0;
  bool q_right = orient(l.x1, l.y1, l.x2, l.y2, qx, qy) > 0;
  if (p_right == q_right) return 0;
  // The move crosses the infinite line; it crosses the segment only if a and
  // b are not strictly on the same side of the move (touching an end counts).
  double ea = orient(px, py, qx, qy, l.x1, l.y1);
  double eb = orient(px, py, qx, qy, l.x2, l.y2);
  if ((ea > 0 && eb > 0) || (ea < 0 && eb < 0)) return 0;
  return q_right ? 1 : -1;
}

nlohmann::json per_label(const std::map<std::string, int64_t>& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [label, n] : m) j[label] = n;
  return j;
}

// Valid UTF-8 without control characters: names are echoed back in JSON and
// logs, and nlohmann's dump() throws on invalid UTF-8.
bool printable_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      len = 2, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (cp >= 0x80 && cp < 0xa0) return false;  // C1 controls
    i += len;
  }
  return true;
}

struct RawItem {
  std::string name;
  std::vector<std::pair<float, float>> points;
};

// Shared by lines and zones: validates everything but the point count range.
std::vector<RawItem> parse_items(const nlohmann::json& j, const char* what, size_t min_points,
                                 size_t max_points) {
  const std::string w = what;
  auto fail = [&](const std::string& msg) { return bad_request(msg, w); };
  if (!j.is_array()) throw fail(w + " must be an array of {\"name\", \"points\"} objects");
  if (j.size() > kMaxItems)
    throw fail(w + ": at most " + std::to_string(kMaxItems) + " allowed, got " +
               std::to_string(j.size()));

  std::vector<RawItem> out;
  std::set<std::string> names;
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& item = j[i];
    const std::string at = w + "[" + std::to_string(i) + "]";
    if (!item.is_object()) throw fail(at + " must be an object");

    auto name_it = item.find("name");
    if (name_it == item.end() || !name_it->is_string())
      throw fail(at + ".name is required and must be a string");
    const auto& name = name_it->get_ref<const std::string&>();
    if (name.empty() || name.size() > kMaxName)
      throw fail(at + ".name must be 1 to " + std::to_string(kMaxName) + " characters");
    if (!printable_utf8(name)) throw fail(at + ".name must be printable UTF-8 text");
    if (!names.insert(name).second) throw fail(at + ".name '" + name + "' is used twice");

    auto pts_it = item.find("points");
    if (pts_it == item.end() || !pts_it->is_array())
      throw fail(at + ".points is required and must be an array of [x, y] pairs");
    const auto& pts = *pts_it;
    if (pts.size() < min_points || pts.size() > max_points) {
      std::string want = min_points == max_points
                             ? "exactly " + std::to_string(min_points)
                             : std::to_string(min_points) + " to " + std::to_string(max_points);
      throw fail(at + ".points must have " + want + " points, got " + std::to_string(pts.size()));
    }
    RawItem r{name, {}};
    for (size_t k = 0; k < pts.size(); ++k) {
      const auto& p = pts[k];
      const std::string pat = at + ".points[" + std::to_string(k) + "]";
      if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number())
        throw fail(pat + " must be an [x, y] pair of numbers");
      double x = p[0].get<double>(), y = p[1].get<double>();
      if (!std::isfinite(x) || !std::isfinite(y) || std::fabs(x) > kMaxCoord ||
          std::fabs(y) > kMaxCoord)
        throw fail(pat + " must be finite pixel coordinates within +-1e6");
      r.points.emplace_back(static_cast<float>(x), static_cast<float>(y));
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

std::vector<Line> parse_lines(const nlohmann::json& j) {
  std::vector<Line> out;
  size_t i = 0;
  for (auto& r : parse_items(j, "lines", 2, 2)) {
    auto [x1, y1] = r.points[0];
    auto [x2, y2] = r.points[1];
    if (x1 == x2 && y1 == y2)
      throw bad_request("lines[" + std::to_string(i) + "].points must be two distinct points",
                        "lines");
    out.push_back({std::move(r.name), x1, y1, x2, y2});
    ++i;
  }
  return out;
}

std::vector<Zone> parse_zones(const nlohmann::json& j) {
  std::vector<Zone> out;
  for (auto& r : parse_items(j, "zones", 3, kMaxZonePoints))
    out.push_back({std::move(r.name), std::move(r.points)});
  return out;
}

Counter::Counter(std::vector<Line> lines, std::vector<Zone> zones, int forget_after)
    : lines_(std::move(lines)),
      zones_(std::move(zones)),
      forget_after_(forget_after < 1 ? 1 : forget_after),
      line_in_(lines_.size()),
      line_out_(lines_.size()),
      zone_current_(zones_.size()),
      zone_entered_(zones_.size()) {}

void Counter::update(const std::vector<TrackedObject>& objects) {
  ++frame_;
  for (auto& m : zone_current_) m.clear();
  for (const TrackedObject& o : objects) {
    double x = (static_cast<double>(o.box.x1) + o.box.x2) / 2;
    double y = o.box.y2;
    if (!std::isfinite(x) || !std::isfinite(y)) continue;

    auto [it, is_new] = tracks_.try_emplace(o.track_id);
    TrackState& st = it->second;
    if (is_new) {
      st.entered.assign(zones_.size(), 0);
    } else if (st.last_seen == frame_) {
      continue;  // same id twice in one frame (not from ByteTracker): count once
    } else {
      for (size_t i = 0; i < lines_.size(); ++i) {
        int c = crossing(lines_[i], st.x, st.y, x, y);
        if (c > 0) ++line_in_[i][o.label];
        if (c < 0) ++line_out_[i][o.label];
      }
    }
    for (size_t i = 0; i < zones_.size(); ++i) {
      if (!inside(zones_[i], x, y)) continue;
      ++zone_current_[i][o.label];
      if (!st.entered[i]) {
        st.entered[i] = 1;
        ++zone_entered_[i][o.label];
      }
    }
    st.x = x;
    st.y = y;
    st.last_seen = frame_;
  }
  std::erase_if(tracks_, [&](const auto& kv) { return frame_ - kv.second.last_seen > forget_after_; });
}

nlohmann::json Counter::to_json() const {
  nlohmann::json lines = nlohmann::json::object(), zones = nlohmann::json::object();
  for (size_t i = 0; i < lines_.size(); ++i)
    lines[lines_[i].name] = {{"in", per_label(line_in_[i])}, {"out", per_label(line_out_[i])}};
  for (size_t i = 0; i < zones_.size(); ++i)
    zones[zones_[i].name] = {{"current", per_label(zone_current_[i])},
                             {"entered", per_label(zone_entered_[i])}};
  return {{"lines", std::move(lines)}, {"zones", std::move(zones)}};
}

}  // namespace osprey::video
