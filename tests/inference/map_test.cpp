// coco128 accuracy for every loadable model, per shared/datasets/README.md:
// one pass per image at the native size, conf 0.001, multi-label, class-wise
// NMS at IoU 0.6 (0.65 for YOLOX), at most 300 detections, boxes clipped;
// greedy matching in score order per IoU threshold 0.50:0.05:0.95; COCO
// 101-point interpolated AP per class, averaged over the classes with GT.
// Expected figures are models/README.md's (yolo11n ONNX: the correct 0.656 /
// 0.474, which needs the OpenCV 4.6 attention workaround).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "inference/decode.hpp"
#include "inference/model_registry.hpp"
#include "inference/torch_engine.hpp"
#include "test_env.hpp"

namespace osprey::inference {
namespace {
namespace fs = std::filesystem;

struct Gt {
  int cls;
  Box box;
};
struct Pred {
  int image, cls;
  float score;
  Box box;
};
struct Sample {
  std::string path;
  int width = 0, height = 0;
  std::vector<Gt> gt;
};

std::vector<Sample> load_coco128() {
  fs::path root = fs::path(testing::shared_dir()) / "datasets" / "coco128";
  std::vector<Sample> out;
  for (auto& e : fs::directory_iterator(root / "images" / "train2017")) {
    if (e.path().extension() == ".jpg") out.push_back({e.path().string()});
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.path < b.path; });
  for (auto& s : out) {
    cv::Mat img = cv::imread(s.path);
    s.width = img.cols;
    s.height = img.rows;
    std::ifstream f(root / "labels" / "train2017" / (fs::path(s.path).stem().string() + ".txt"));
    int c;
    float cx, cy, w, h;
    while (f >> c >> cx >> cy >> w >> h) {
      s.gt.push_back({c, {(cx - w / 2) * s.width, (cy - h / 2) * s.height, (cx + w / 2) * s.width,
                          (cy + h / 2) * s.height}});
    }
  }
  return out;
}

// COCO 101-point interpolated AP of one class at one IoU threshold.
double average_precision(const std::vector<const Pred*>& preds, const std::vector<Sample>& samples, int cls,
                         int n_gt, float thr) {
  std::vector<std::vector<char>> matched(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) matched[i].assign(samples[i].gt.size(), 0);
  std::vector<double> precision, recall;
  int tp = 0, fp = 0;
  for (const Pred* p : preds) {
    const auto& gts = samples[p->image].gt;
    int best = -1;
    float best_iou = std::min(thr, 1.0f - 1e-10f);
    for (size_t g = 0; g < gts.size(); ++g) {
      if (gts[g].cls != cls || matched[p->image][g]) continue;
      float v = iou(p->box, gts[g].box);
      if (v >= best_iou) {
        best_iou = v;
        best = int(g);
      }
    }
    if (best >= 0) {
      matched[p->image][best] = 1;
      ++tp;
    } else {
      ++fp;
    }
    precision.push_back(double(tp) / (tp + fp));
    recall.push_back(double(tp) / n_gt);
  }
  for (int i = int(precision.size()) - 2; i >= 0; --i) precision[i] = std::max(precision[i], precision[i + 1]);
  double sum = 0;
  for (int k = 0; k <= 100; ++k) {
    double r = k / 100.0;
    auto it = std::lower_bound(recall.begin(), recall.end(), r - 1e-12);
    if (it != recall.end()) sum += precision[it - recall.begin()];
  }
  return sum / 101.0;
}

struct MapResult {
  double map50 = 0, map50_95 = 0;
};

MapResult evaluate(const std::vector<Pred>& preds, const std::vector<Sample>& samples) {
  std::map<int, int> n_gt;
  for (auto& s : samples) for (auto& g : s.gt) n_gt[g.cls]++;
  MapResult r;
  for (auto& [cls, n] : n_gt) {
    std::vector<const Pred*> mine;
    for (auto& p : preds) if (p.cls == cls) mine.push_back(&p);
    std::stable_sort(mine.begin(), mine.end(), [](auto* a, auto* b) { return a->score > b->score; });
    double sum = 0;
    for (int t = 0; t < 10; ++t) {
      double ap = average_precision(mine, samples, cls, n, 0.5f + 0.05f * t);
      if (t == 0) r.map50 += ap;
      sum += ap;
    }
    r.map50_95 += sum / 10;
  }
  r.map50 /= n_gt.size();
  r.map50_95 /= n_gt.size();
  return r;
}

TEST(CocoMap, EveryModelMatchesTheReadme) {
  auto samples = load_coco128();
  ASSERT_EQ(samples.size(), 128u);
  size_t total_gt = 0;
  std::set<int> classes;
  for (auto& s : samples) {
    total_gt += s.gt.size();
    for (auto& g : s.gt) classes.insert(g.cls);
  }
  ASSERT_EQ(total_gt, 929u);
  ASSERT_EQ(classes.size(), 71u);
  std::vector<cv::Mat> images;
  for (auto& s : samples) images.push_back(cv::imread(s.path, cv::IMREAD_COLOR));

  // Two workers x one intra-op thread, fed by two threads: both cores busy.
  ModelRegistry reg(testing::shared_models_config(2, 1));
  reg.scan();
  // tol: 0.005 for every model.
  struct Want { std::string model; double map50, map50_95, tol = 0.005; };
  const std::vector<Want> wants = {
      {"yolo-fastest-1.1", 0.268, 0.150}, {"yolo-fastest-1.1-xl", 0.378, 0.209},
      {"yolov5n", 0.548, 0.350},          {"yolov5n-ts", 0.548, 0.350},
      {"yolov8n", 0.609, 0.444},          {"yolov8n-ts", 0.609, 0.444},
      {"yolo11n", 0.656, 0.474},          {"yolo11n-ts", 0.656, 0.474},
      {"yolox-nano", 0.513, 0.337},
  };
  std::string filter = std::getenv("OSPREY_MAP_MODELS") ? std::getenv("OSPREY_MAP_MODELS") : "";
  for (const auto& w : wants) {
    if (!filter.empty() && ("," + filter + ",").find("," + w.model + ",") == std::string::npos) continue;
    if (w.model.ends_with("-ts") && !torch_available()) continue;  // built without libtorch
    SCOPED_TRACE(w.model);
    auto info = reg.info(w.model);
    ASSERT_TRUE(info && info->state == "available") << (info ? info->reason : "missing");
    DetectOptions o;
    o.confidence = 0.001f;
    o.iou = info->family == "yolox" ? 0.65f : 0.6f;
    o.max_detections = 300;
    o.multi_label = true;
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::vector<Pred>> per_thread(2);
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        for (size_t i = t; i < samples.size(); i += 2) {
          auto r = reg.detect_sync(w.model, images[i], o);
          for (auto& d : r.detections) per_thread[t].push_back({int(i), d.class_id, d.confidence, d.box});
        }
      });
    }
    for (auto& th : threads) th.join();
    std::vector<Pred> preds;
    for (auto& v : per_thread) preds.insert(preds.end(), v.begin(), v.end());
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto m = evaluate(preds, samples);
    std::printf("mAP %-20s mAP50 %.4f (want %.3f)  mAP50-95 %.4f (want %.3f)  %zu preds  %.1f s\n", w.model.c_str(),
                m.map50, w.map50, m.map50_95, w.map50_95, preds.size(), secs);
    std::fflush(stdout);
    EXPECT_NEAR(m.map50, w.map50, w.tol);
    EXPECT_NEAR(m.map50_95, w.map50_95, w.tol);
  }
}

}  // namespace
}  // namespace osprey::inference
