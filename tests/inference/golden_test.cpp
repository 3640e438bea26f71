// Golden detections: every loadable model on dog, street, horses and bus,
// against the reference detections in models/README.md (OpenCV 4.6 / PyTorch,
// conf 0.25, NMS 0.45, multi-label). Boxes there are x,y,w,h in original
// pixels. yolov8n-stockhead and yolov8n-int8 load through the ONNX rewrite
// (onnx_rewrite.hpp) and share yolov8n's reference: they compute the same.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include <fmt/format.h>

#include "inference/model_registry.hpp"
#include "inference/torch_engine.hpp"
#include "test_env.hpp"

namespace osprey::inference {
namespace {

struct Expected {
  std::string label;
  float conf;
  float x = -1, y = -1, w = -1, h = -1;  // -1: no box in the reference
};

struct Case {
  std::vector<std::string> models;  // models that share the reference
  std::string image;
  std::vector<Expected> expected;
  // Exact count of a label at conf >= 0.25 when the README gives one.
  std::map<std::string, int> counts = {};
};

const std::vector<std::string> kV5 = {"yolov5n", "yolov5n-ts"};
const std::vector<std::string> kV8 = {"yolov8n", "yolov8n-ts", "yolov8n-stockhead", "yolov8n-int8"};
const std::vector<std::string> kV11 = {"yolo11n", "yolo11n-ts"};  // yolo11n: with the OpenCV workaround
const std::vector<std::string> kYx = {"yolox-nano"};

const std::vector<Case> kCases = {
    {kV5, "dog.jpg",
     {{"dog", 0.76f, 132, 215, 181, 331}, {"car", 0.70f, 468, 80, 221, 89}, {"bicycle", 0.48f, 208, 135, 367, 300},
      {"bicycle", 0.34f}}},
    {kV5, "street.jpg",
     {{"bicycle", 0.91f, 776, 726, 483, 303}, {"person", 0.87f, 69, 548, 210, 391},
      {"person", 0.86f, 923, 509, 227, 473}, {"car", 0.83f, 655, 587, 313, 187}, {"person", 0.80f},
      {"person", 0.76f}, {"car", 0.75f}, {"person", 0.73f}}},
    {kV5, "bus.jpg", {{"person", 0.82f}, {"person", 0.82f}, {"person", 0.68f}, {"bus", 0.53f}}},
    {kV5, "horses.jpg", {{"horse", 0.89f}, {"horse", 0.57f}}, {{"horse", 4}}},
    {kV8, "dog.jpg",
     {{"dog", 0.96f, 131, 219, 177, 321}, {"bicycle", 0.89f, 131, 137, 437, 283}, {"car", 0.61f, 468, 74, 226, 96},
      {"truck", 0.51f, 467, 75, 226, 97}}},
    {kV8, "street.jpg",
     {{"bicycle", 0.93f, 778, 712, 468, 318}, {"person", 0.92f, 71, 548, 206, 392},
      {"person", 0.90f, 915, 507, 221, 512}, {"car", 0.89f, 662, 586, 310, 184}, {"person", 0.80f},
      {"car", 0.79f}, {"person", 0.73f}, {"car", 0.66f}}},
    {kV8, "bus.jpg", {{"person", 0.91f}, {"person", 0.90f}, {"person", 0.90f}, {"bus", 0.83f}, {"person", 0.42f}}},
    {kV8, "horses.jpg", {}, {}},  // no reference list: decoded, checked for horses below
    {kV11, "dog.jpg",
     {{"bicycle", 0.90f, 129, 136, 438, 281}, {"dog", 0.85f, 133, 221, 179, 320},
      {"truck", 0.50f, 471, 75, 221, 99}, {"car", 0.48f}}},
    {kV11, "street.jpg",
     {{"car", 0.89f, 661, 586, 305, 183}, {"person", 0.89f, 69, 547, 209, 393},
      {"bicycle", 0.88f, 777, 720, 468, 313}, {"person", 0.85f, 905, 506, 239, 506}, {"person", 0.81f},
      {"car", 0.79f}, {"person", 0.79f}, {"person", 0.79f}}},
    {kV11, "bus.jpg", {{"bus", 0.91f}, {"person", 0.90f}, {"person", 0.84f}, {"person", 0.83f}, {"person", 0.59f}}},
    {kV11, "horses.jpg", {{"horse", 0.94f}, {"horse", 0.55f}}, {{"horse", 5}}},
    {kYx, "dog.jpg",
     {{"dog", 0.86f, 133, 207, 193, 336}, {"bicycle", 0.80f, 52, 137, 521, 286}, {"car", 0.80f, 466, 78, 226, 93},
      {"truck", 0.31f}, {"cat", 0.26f}}},
    {kYx, "street.jpg",
     {{"car", 0.86f, 666, 593, 299, 178}, {"person", 0.86f, 69, 546, 200, 401},
      {"person", 0.85f, 922, 499, 232, 521}, {"person", 0.81f, 506, 534, 168, 322},
      {"bicycle", 0.80f, 779, 723, 486, 306}, {"person", 0.79f}, {"car", 0.73f}}},
    {kYx, "bus.jpg", {{"bus", 0.90f}, {"person", 0.86f}, {"person", 0.81f}, {"person", 0.70f}}},
};

constexpr float kConfTol = 0.02f;  // README rounds to 2 decimals; engines differ ~1e-5
constexpr float kBoxTol = 4.0f;    // pixels, per edge

DetectOptions demo_options() {
  DetectOptions o;
  o.confidence = 0.25f;
  o.iou = 0.45f;
  o.multi_label = true;
  return o;
}

// Finds an unused detection matching `e`; marks it used.
bool match(const Expected& e, const std::vector<Detection>& dets, std::vector<bool>& used) {
  for (size_t i = 0; i < dets.size(); ++i) {
    const auto& d = dets[i];
    if (used[i] || d.label != e.label || std::fabs(d.confidence - e.conf) > kConfTol) continue;
    if (e.x >= 0) {
      if (std::fabs(d.box.x1 - e.x) > kBoxTol || std::fabs(d.box.y1 - e.y) > kBoxTol ||
          std::fabs(d.box.x2 - (e.x + e.w)) > kBoxTol || std::fabs(d.box.y2 - (e.y + e.h)) > kBoxTol) {
        continue;
      }
    }
    used[i] = true;
    return true;
  }
  return false;
}

std::string dump(const std::vector<Detection>& dets) {
  std::string s;
  for (auto& d : dets) {
    s += fmt::format("  {} {:.4f} [{:.1f},{:.1f},{:.1f},{:.1f}]\n", d.label, d.confidence, d.box.x1, d.box.y1,
                     d.box.x2 - d.box.x1, d.box.y2 - d.box.y1);
  }
  return s;
}

TEST(Golden, EveryLoadableModelMatchesTheReadme) {
  auto& reg = testing::shared_registry();
  for (const auto& c : kCases) {
    cv::Mat img = testing::image(c.image);
    ASSERT_FALSE(img.empty()) << c.image;
    for (const auto& model : c.models) {
      if (model.ends_with("-ts") && !torch_available()) continue;  // built without libtorch
      SCOPED_TRACE(model + " on " + c.image);
      auto info = reg.info(model);
      ASSERT_TRUE(info && info->state == "available") << model << ": " << (info ? info->reason : "missing");
      auto res = reg.detect_sync(model, img, demo_options());
      if (std::getenv("OSPREY_GOLDEN_DUMP")) std::printf("%s %s\n%s", model.c_str(), c.image.c_str(), dump(res.detections).c_str());
      std::vector<bool> used(res.detections.size(), false);
      for (const auto& e : c.expected) {
        EXPECT_TRUE(match(e, res.detections, used))
            << "missing " << e.label << " " << e.conf << "; got:\n" << dump(res.detections);
      }
      for (const auto& [label, n] : c.counts) {
        int got = 0;
        for (auto& d : res.detections) got += d.label == label;
        EXPECT_EQ(got, n) << label << "; got:\n" << dump(res.detections);
      }
      if (c.image == "horses.jpg") {
        ASSERT_FALSE(res.detections.empty());
        EXPECT_EQ(res.detections[0].label, "horse");
      }
      for (size_t i = 1; i < res.detections.size(); ++i) {
        EXPECT_GE(res.detections[i - 1].confidence, res.detections[i].confidence);
      }
    }
  }
}

// The Darknet models have no reference list in the README (only mAP): check
// that they decode sensibly (right objects, boxes inside the image).
TEST(Golden, DarknetModelsFindTheObviousObjects) {
  auto& reg = testing::shared_registry();
  for (const std::string model : {"yolo-fastest-1.1", "yolo-fastest-1.1-xl"}) {
    SCOPED_TRACE(model);
    auto info = reg.info(model);
    ASSERT_TRUE(info && info->state == "available") << (info ? info->reason : "missing");
    EXPECT_EQ(info->family, "darknet");
    EXPECT_EQ(info->input_width, 320);
    EXPECT_EQ(info->classes.at(3), "motorbike");  // Darknet spelling from its coco.names
    cv::Mat img = testing::image("dog.jpg");
    auto res = reg.detect_sync(model, img, demo_options());
    std::map<std::string, float> best;
    for (auto& d : res.detections) {
      best[d.label] = std::max(best[d.label], d.confidence);
      EXPECT_GE(d.box.x1, 0);
      EXPECT_LE(d.box.x2, img.cols);
      EXPECT_LE(d.box.y2, img.rows);
      EXPECT_GE(d.confidence, 0.2f);  // OpenCV zeroes class scores below ~0.2
    }
    EXPECT_GT(best["dog"], 0.5f) << dump(res.detections);
    EXPECT_TRUE(best.count("car") || best.count("truck")) << dump(res.detections);
    auto horses = reg.detect_sync(model, testing::image("horses.jpg"), demo_options());
    int n_horses = 0;
    for (auto& d : horses.detections) n_horses += d.label == "horse";
    EXPECT_GE(n_horses, 2) << dump(horses.detections);
  }
}

// OpenCV 4.6 alone cannot run these two (readNet fails at
// DynamicQuantizeLinear; the stock head asserts at the first forward); after
// the rewrite their raw output is yolov8n's (the int8 weights dequantize to
// exactly yolov8n_dequant.onnx's, and the stock head becomes that file).
TEST(Golden, RewrittenStockFilesAreAvailableAndComputeYolov8n) {
  auto& reg = testing::shared_registry();
  ModelRegistry::Tensor t8{"images", {1, 3, 640, 640}, std::vector<float>(3 * 640 * 640, 0.5f)};
  auto ref = reg.infer_raw_sync("yolov8n", t8);
  for (const char* model : {"yolov8n-int8", "yolov8n-stockhead"}) {
    auto info = reg.info(model);
    ASSERT_TRUE(info && info->state == "available") << model << ": " << (info ? info->reason : "missing");
    EXPECT_EQ(info->family, "yolov8") << model;
    EXPECT_EQ(info->output_shape, (std::vector<int64_t>{1, 84, 8400})) << model;
    EXPECT_EQ(info->classes.size(), 80u) << model;
    auto out = reg.infer_raw_sync(model, t8);
    ASSERT_EQ(out.data.size(), ref.data.size()) << model;
    double maxdiff = 0;
    for (size_t i = 0; i < out.data.size(); ++i) maxdiff = std::max(maxdiff, double(std::fabs(out.data[i] - ref.data[i])));
    EXPECT_LE(maxdiff, 1e-3) << model;  // measured: 0
  }
  int available = 0;
  for (auto& i : reg.list()) available += i.state == "available";
  EXPECT_EQ(available, torch_available() ? 11 : 8);
  EXPECT_EQ(reg.default_model(), torch_available() ? "yolov8n-ts" : "yolov8n");
  if (!torch_available()) {
    auto ts = reg.info("yolov8n-ts");
    ASSERT_TRUE(ts);
    EXPECT_EQ(ts->state, "unavailable");
    EXPECT_NE(ts->reason.find("libtorch"), std::string::npos) << ts->reason;
  }
}

TEST(Golden, ModelInfoDescribesWhatWasInferred) {
  auto& reg = testing::shared_registry();
  struct Want { const char* name; const char* format; const char* engine; const char* family; int size; };
  for (auto w : {Want{"yolov5n", "onnx", "opencv", "yolov5", 640}, Want{"yolov5n-ts", "torchscript", "libtorch", "yolov5", 640},
                 Want{"yolov8n-ts", "torchscript", "libtorch", "yolov8", 640}, Want{"yolo11n", "onnx", "opencv", "yolov8", 640},
                 Want{"yolox-nano", "onnx", "opencv", "yolox", 416}, Want{"yolo-fastest-1.1-xl", "darknet", "opencv", "darknet", 320}}) {
    if (std::string(w.engine) == "libtorch" && !torch_available()) continue;
    auto i = reg.info(w.name);
    ASSERT_TRUE(i) << w.name;
    EXPECT_EQ(i->format, w.format) << w.name;
    EXPECT_EQ(i->engine, w.engine) << w.name;
    EXPECT_EQ(i->family, w.family) << w.name;
    EXPECT_EQ(i->input_width, w.size) << w.name;
    EXPECT_EQ(i->classes.size(), 80u) << w.name;
    EXPECT_FALSE(i->loaded_at.empty());
  }
  EXPECT_EQ(reg.info("yolov8n")->classes.at(3), "motorcycle");
  EXPECT_EQ(reg.info("yolov8n")->input_name, "images");
  EXPECT_EQ(reg.info("yolov8n")->output_shape, (std::vector<int64_t>{1, 84, 8400}));
  if (torch_available()) {
    EXPECT_EQ(reg.info("yolov5n-ts")->output_shape, (std::vector<int64_t>{1, 25200, 85}));
  }
}

// The darknet raw output is the YOLO layers concatenated.
TEST(Golden, RawInferenceReturnsTheEngineOutput) {
  auto& reg = testing::shared_registry();
  ModelRegistry::Tensor t{"data", {1, 3, 320, 320}, std::vector<float>(3 * 320 * 320, 0.5f)};
  auto out = reg.infer_raw_sync("yolo-fastest-1.1", t);
  EXPECT_EQ(out.shape, (std::vector<int64_t>{1, 1500, 85}));
  ModelRegistry::Tensor t8{"images", {1, 3, 640, 640}, std::vector<float>(3 * 640 * 640, 0.5f)};
  auto a = reg.infer_raw_sync("yolov8n", t8);
  if (!torch_available()) return;
  auto b = reg.infer_raw_sync("yolov8n-ts", t8);
  ASSERT_EQ(a.data.size(), b.data.size());
  double maxdiff = 0;
  for (size_t i = 0; i < a.data.size(); ++i) maxdiff = std::max(maxdiff, double(std::fabs(a.data[i] - b.data[i])));
  EXPECT_LT(maxdiff, 0.01);  // README: 2.1e-3 px, 1e-5 in scores
}

}  // namespace
}  // namespace osprey::inference
