#include "inference/decode.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <unordered_map>

namespace osprey::inference {
namespace {

struct Candidate {
  float cx, cy, w, h;  // input pixels (darknet: normalised)
  float score;
  int cls;
};

// Adds the candidates of one anchor given a class-score accessor.
template <class ScoreAt>
void add_anchor(std::vector<Candidate>& out, float cx, float cy, float w, float h, int nc, float mul,
                float conf, const DecodeParams& p, const std::vector<char>& allowed, ScoreAt score_at) {
  if (p.multi_label) {
    for (int c = 0; c < nc; ++c) {
      float s = score_at(c) * mul;
      if (s > conf && (allowed.empty() || allowed[c])) out.push_back({cx, cy, w, h, s, c});
    }
  } else {
    int best = -1;
    float bs = -1;
    for (int c = 0; c < nc; ++c) {
      if (!allowed.empty() && !allowed[c]) continue;
      float s = score_at(c);
      if (s > bs) { bs = s; best = c; }
    }
    if (best >= 0 && bs * mul > conf) out.push_back({cx, cy, w, h, bs * mul, best});
  }
}

}  // namespace

float iou(const Box& a, const Box& b) {
  float iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  float ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0;
  float inter = iw * ih;
  float uni = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return uni > 0 ? inter / uni : 0;
}

std::vector<int> nms_per_class(const std::vector<Detection>& sorted, float thr, int max_keep) {
  std::unordered_map<int, std::vector<int>> kept_by_class;
  std::vector<int> keep;
  for (int i = 0; i < int(sorted.size()) && int(keep.size()) < max_keep; ++i) {
    auto& kept = kept_by_class[sorted[i].class_id];
    bool ok = true;
    for (int k : kept) {
      if (iou(sorted[i].box, sorted[k].box) > thr) { ok = false; break; }
    }
    if (ok) {
      kept.push_back(i);
      keep.push_back(i);
    }
  }
  return keep;
}

std::vector<Detection> decode(const cv::Mat& out, const std::string& family, int in_w, int in_h,
                              const Letterbox& lb, const DecodeParams& p,
                              const std::vector<std::string>& labels) {
  if (out.type() != CV_32F || !out.isContinuous() || out.total() == 0) {
    throw std::invalid_argument("decode: output must be a continuous float tensor");
  }
  // Normalise to (rows, cols) of the last two dims (leading 1s dropped).
  int d = out.dims;
  int a = d >= 2 ? out.size[d - 2] : 1, b = out.size[d - 1];
  if (int64_t(a) * b != int64_t(out.total())) throw std::invalid_argument("decode: batch > 1 not supported");
  const float* data = out.ptr<float>();
  std::vector<Candidate> cands;
  const float conf = p.confidence;

  int nc = 0;
  std::vector<char> allowed;
  auto set_nc = [&](int n) {
    nc = n;
    if (nc <= 0) throw std::invalid_argument("decode: output has no class columns");
    if (!p.classes.empty()) {
      allowed.assign(nc, 0);
      for (int c : p.classes) if (c >= 0 && c < nc) allowed[c] = 1;
    }
  };

  if (family == "yolov8") {
    const int n = b;  // [4+nc, N]
    set_nc(a - 4);
    for (int j = 0; j < n; ++j) {
      add_anchor(cands, data[j], data[n + j], data[2 * n + j], data[3 * n + j], nc, 1.0f, conf, p, allowed,
                 [&](int c) { return data[(4 + c) * n + j]; });
    }
  } else if (family == "yolov5" || family == "darknet" || family == "yolox") {
    const int n = a, cols = b;
    set_nc(cols - 5);
    const bool darknet = family == "darknet", yolox = family == "yolox";
    // YOLOX grid: strides 8,16,32, row-major y then x.
    std::vector<int> strides;
    if (yolox) {
      int total = 0;
      for (int s : {8, 16, 32}) total += (in_w / s) * (in_h / s);
      if (total != n) throw std::invalid_argument("decode: yolox rows do not match the input grid");
    }
    int level = 0, level_start = 0, gw = in_w / 8, gh = in_h / 8, s = 8;
    for (int j = 0; j < n; ++j) {
      const float* row = data + size_t(j) * cols;
      float cx = row[0], cy = row[1], w = row[2], h = row[3];
      if (yolox) {
        while (j - level_start >= gw * gh) {
          level_start += gw * gh;
          ++level;
          s = 8 << level;
          gw = in_w / s;
          gh = in_h / s;
        }
        int k = j - level_start, gx = k % gw, gy = k / gw;
        cx = (cx + gx) * s;
        cy = (cy + gy) * s;
        w = std::exp(w) * s;
        h = std::exp(h) * s;
      }
      if (darknet) {
        // Class columns are already obj*cls (and zeroed under ~0.2).
        add_anchor(cands, cx, cy, w, h, nc, 1.0f, conf, p, allowed, [&](int c) { return row[5 + c]; });
      } else {
        float obj = row[4];
        if (obj <= conf) continue;  // obj*cls <= obj, so nothing can pass
        add_anchor(cands, cx, cy, w, h, nc, obj, conf, p, allowed, [&](int c) { return row[5 + c]; });
      }
    }
  } else {
    throw std::invalid_argument("decode: unknown family " + family);
  }

  // Best first; cap the work NMS can be asked to do.
  std::stable_sort(cands.begin(), cands.end(), [](auto& x, auto& y) { return x.score > y.score; });
  if (int(cands.size()) > p.max_candidates) cands.resize(p.max_candidates);

  const bool darknet = family == "darknet";
  std::vector<Detection> dets;
  dets.reserve(cands.size());
  for (auto& c : cands) {
    Box bx;
    if (darknet) {
      bx = {(c.cx - c.w / 2) * lb.orig_width, (c.cy - c.h / 2) * lb.orig_height,
            (c.cx + c.w / 2) * lb.orig_width, (c.cy + c.h / 2) * lb.orig_height};
    } else {
      bx = {(c.cx - c.w / 2 - lb.pad_x) / lb.scale, (c.cy - c.h / 2 - lb.pad_y) / lb.scale,
            (c.cx + c.w / 2 - lb.pad_x) / lb.scale, (c.cy + c.h / 2 - lb.pad_y) / lb.scale};
    }
    std::string label = c.cls < int(labels.size()) ? labels[c.cls] : "class_" + std::to_string(c.cls);
    dets.push_back({c.cls, std::move(label), c.score, bx});
  }
  auto keep = nms_per_class(dets, p.iou, std::max(0, p.max_detections));
  std::vector<Detection> result;
  result.reserve(keep.size());
  const float W = float(lb.orig_width), H = float(lb.orig_height);
  for (int i : keep) {
    Detection det = std::move(dets[i]);
    // Clip after NMS, as Ultralytics' scale_boxes does.
    det.box.x1 = std::clamp(det.box.x1, 0.0f, W);
    det.box.x2 = std::clamp(det.box.x2, 0.0f, W);
    det.box.y1 = std::clamp(det.box.y1, 0.0f, H);
    det.box.y2 = std::clamp(det.box.y2, 0.0f, H);
    result.push_back(std::move(det));
  }
  return result;
}

}  // namespace osprey::inference
