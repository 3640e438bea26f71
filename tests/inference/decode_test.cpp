// Decoding, NMS, preprocessing and ONNX metadata on hand-made inputs: each
// family's layout is checked against the table in models/README.md.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include "inference/decode.hpp"
#include "inference/onnx_info.hpp"
#include "inference/preprocess.hpp"
#include "test_env.hpp"

namespace osprey::inference {
namespace {

cv::Mat zeros3(int a, int b) {
  int sz[3] = {1, a, b};
  return cv::Mat(3, sz, CV_32F, cv::Scalar(0));
}

std::vector<std::string> labels80() {
  std::vector<std::string> l;
  for (int i = 0; i < 80; ++i) l.push_back("c" + std::to_string(i));
  return l;
}

TEST(Decode, Yolov8IsTransposedAndMapsBackThroughLetterbox) {
  const int n = 8400;
  cv::Mat out = zeros3(84, n);
  float* d = out.ptr<float>();
  const int j = 5;
  d[0 * n + j] = 320; d[1 * n + j] = 320; d[2 * n + j] = 100; d[3 * n + j] = 50;
  d[(4 + 16) * n + j] = 0.9f;  // class 16
  d[(4 + 3) * n + j] = 0.3f;   // weaker second class, same anchor
  Letterbox lb{0.5f, 0, 80, 1280, 960};
  DecodeParams p;
  auto dets = decode(out, "yolov8", 640, 640, lb, p, labels80());
  ASSERT_EQ(dets.size(), 1u);  // single label: best class only
  EXPECT_EQ(dets[0].class_id, 16);
  EXPECT_EQ(dets[0].label, "c16");
  EXPECT_FLOAT_EQ(dets[0].confidence, 0.9f);
  EXPECT_FLOAT_EQ(dets[0].box.x1, 540);
  EXPECT_FLOAT_EQ(dets[0].box.y1, 430);
  EXPECT_FLOAT_EQ(dets[0].box.x2, 740);
  EXPECT_FLOAT_EQ(dets[0].box.y2, 530);

  p.multi_label = true;
  dets = decode(out, "yolov8", 640, 640, lb, p, labels80());
  ASSERT_EQ(dets.size(), 2u);  // same box, two classes: NMS is per class
  EXPECT_EQ(dets[1].class_id, 3);

  p.classes = {3};
  dets = decode(out, "yolov8", 640, 640, lb, p, labels80());
  ASSERT_EQ(dets.size(), 1u);
  EXPECT_EQ(dets[0].class_id, 3);
}

TEST(Decode, Yolov5ScoreIsObjTimesClass) {
  cv::Mat out = zeros3(25200, 85);
  float* r0 = out.ptr<float>() + 0 * 85;
  float* r1 = out.ptr<float>() + 1 * 85;
  float init0[] = {100, 100, 20, 20, 0.5f};
  float init1[] = {300, 300, 20, 20, 0.5f};
  std::copy(init0, init0 + 5, r0);
  std::copy(init1, init1 + 5, r1);
  r0[5 + 2] = 0.6f;  // 0.30 > 0.25
  r1[5 + 2] = 0.4f;  // 0.20 < 0.25
  Letterbox lb{1, 0, 0, 640, 640};
  auto dets = decode(out, "yolov5", 640, 640, lb, DecodeParams{}, labels80());
  ASSERT_EQ(dets.size(), 1u);
  EXPECT_NEAR(dets[0].confidence, 0.30f, 1e-6);
  EXPECT_FLOAT_EQ(dets[0].box.x1, 90);
}

TEST(Decode, YoloxDecodesTheGridPerStride) {
  cv::Mat out = zeros3(3549, 85);  // 52^2 + 26^2 + 13^2 for 416
  // Stride 16 level, cell gx=3, gy=2.
  int j = 52 * 52 + 2 * 26 + 3;
  float* r = out.ptr<float>() + size_t(j) * 85;
  r[0] = 0.5f; r[1] = 0.25f; r[2] = std::log(2.0f); r[3] = 0; r[4] = 0.9f; r[5 + 7] = 0.9f;
  Letterbox lb{1, 0, 0, 416, 416};
  auto dets = decode(out, "yolox", 416, 416, lb, DecodeParams{}, labels80());
  ASSERT_EQ(dets.size(), 1u);
  EXPECT_EQ(dets[0].class_id, 7);
  EXPECT_NEAR(dets[0].confidence, 0.81f, 1e-6);
  // cx = (0.5+3)*16 = 56, cy = (0.25+2)*16 = 36, w = 2*16 = 32, h = 16
  EXPECT_NEAR(dets[0].box.x1, 40, 1e-4);
  EXPECT_NEAR(dets[0].box.x2, 72, 1e-4);
  EXPECT_NEAR(dets[0].box.y1, 28, 1e-4);
  EXPECT_NEAR(dets[0].box.y2, 44, 1e-4);
  EXPECT_THROW(decode(zeros3(3548, 85), "yolox", 416, 416, lb, DecodeParams{}, labels80()), std::invalid_argument);
}

TEST(Decode, DarknetBoxesAreNormalisedAndScoresUsedAsIs) {
  cv::Mat out = zeros3(1500, 85);
  float* r = out.ptr<float>() + 10 * 85;
  r[0] = 0.5f; r[1] = 0.5f; r[2] = 0.5f; r[3] = 0.25f; r[4] = 0.5f; r[5 + 1] = 0.3f;
  Letterbox lb{1, 0, 0, 800, 400};
  auto dets = decode(out, "darknet", 320, 320, lb, DecodeParams{}, labels80());
  ASSERT_EQ(dets.size(), 1u);
  EXPECT_FLOAT_EQ(dets[0].confidence, 0.3f);  // not multiplied by obj again
  EXPECT_FLOAT_EQ(dets[0].box.x1, 200);
  EXPECT_FLOAT_EQ(dets[0].box.x2, 600);
  EXPECT_FLOAT_EQ(dets[0].box.y1, 150);
  EXPECT_FLOAT_EQ(dets[0].box.y2, 250);
}

TEST(Decode, NmsIsPerClassAndBoxesAreClipped) {
  std::vector<Detection> d = {{0, "a", 0.9f, {0, 0, 10, 10}},
                              {0, "a", 0.8f, {1, 1, 11, 11}},   // IoU 0.68 with the first
                              {1, "b", 0.7f, {0, 0, 10, 10}},   // other class: kept
                              {0, "a", 0.6f, {20, 20, 30, 30}}};
  auto keep = nms_per_class(d, 0.5f, 300);
  EXPECT_EQ(keep, (std::vector<int>{0, 2, 3}));
  keep = nms_per_class(d, 0.5f, 2);
  EXPECT_EQ(keep, (std::vector<int>{0, 2}));

  cv::Mat out = zeros3(84, 8400);
  float* p = out.ptr<float>();
  p[0] = 5; p[8400] = 5; p[2 * 8400] = 40; p[3 * 8400] = 40; p[4 * 8400] = 0.9f;
  auto dets = decode(out, "yolov8", 640, 640, Letterbox{1, 0, 0, 640, 640}, DecodeParams{}, labels80());
  ASSERT_EQ(dets.size(), 1u);
  EXPECT_EQ(dets[0].box.x1, 0);
  EXPECT_EQ(dets[0].box.y1, 0);
}

TEST(Preprocess, UltralyticsLetterboxIsCentredRgbScaled) {
  cv::Mat img(960, 1280, CV_8UC3, cv::Scalar(255, 0, 0));  // pure blue (BGR)
  Letterbox lb;
  cv::Mat blob = make_blob(img, "yolov8", 640, 640, &lb);
  ASSERT_EQ(blob.dims, 4);
  EXPECT_EQ(blob.size[1], 3);
  EXPECT_FLOAT_EQ(lb.scale, 0.5f);
  EXPECT_FLOAT_EQ(lb.pad_x, 0);
  EXPECT_FLOAT_EQ(lb.pad_y, 80);
  auto at = [&](int c, int y, int x) { return blob.ptr<float>()[(size_t(c) * 640 + y) * 640 + x]; };
  EXPECT_NEAR(at(0, 0, 0), 114 / 255.0, 1e-6);   // top pad
  EXPECT_NEAR(at(2, 320, 320), 1.0, 1e-6);       // blue is channel 2 in RGB
  EXPECT_NEAR(at(0, 320, 320), 0.0, 1e-6);
  EXPECT_NEAR(at(0, 639, 0), 114 / 255.0, 1e-6);  // bottom pad
}

TEST(Preprocess, YoloxLetterboxIsTopLeftBgrRaw) {
  cv::Mat img(208, 416, CV_8UC3, cv::Scalar(255, 0, 0));
  Letterbox lb;
  cv::Mat blob = make_blob(img, "yolox", 416, 416, &lb);
  EXPECT_FLOAT_EQ(lb.pad_y, 0);
  auto at = [&](int c, int y, int x) { return blob.ptr<float>()[(size_t(c) * 416 + y) * 416 + x]; };
  EXPECT_FLOAT_EQ(at(0, 0, 0), 255);    // B first, raw 0..255
  EXPECT_FLOAT_EQ(at(0, 300, 0), 114);  // pad at the bottom
}

TEST(Preprocess, YoloxLetterboxRoundsTheResizedSize) {
  // 773x512 at 416: r = 416/773, w*r = 415.99999999999994, h*r = 275.54.
  // round() gives 416x276 (the coco128 reference); int() would give 415x275.
  cv::Mat img(512, 773, CV_8UC3, cv::Scalar(10, 20, 30));
  Letterbox lb;
  cv::Mat blob = make_blob(img, "yolox", 416, 416, &lb);
  auto at = [&](int c, int y, int x) { return blob.ptr<float>()[(size_t(c) * 416 + y) * 416 + x]; };
  EXPECT_FLOAT_EQ(at(0, 0, 415), 10);    // last column is picture, not pad
  EXPECT_FLOAT_EQ(at(2, 275, 415), 30);  // last picture row
  EXPECT_FLOAT_EQ(at(0, 276, 0), 114);   // first pad row
  EXPECT_FLOAT_EQ(lb.pad_x, 0);
  EXPECT_FLOAT_EQ(lb.pad_y, 0);
  EXPECT_NEAR(lb.scale, 416.0 / 773.0, 1e-7);
}

TEST(Preprocess, DarknetStretches) {
  cv::Mat img(100, 300, CV_8UC3, cv::Scalar(0, 0, 255));
  Letterbox lb;
  cv::Mat blob = make_blob(img, "darknet", 320, 320, &lb);
  EXPECT_EQ(lb.orig_width, 300);
  EXPECT_NEAR(blob.ptr<float>()[0], 1.0, 1e-6);  // red is channel 0 in RGB, no pad anywhere
  EXPECT_THROW(make_blob(img, "nope", 320, 320, &lb), std::invalid_argument);
}

TEST(OnnxInfo, FindsIoNamesAndTheAttentionMatMul) {
  auto dir = testing::shared_dir() + "/models/";
  auto v11 = read_onnx_info(dir + "yolo11n/yolo11n_dequant.onnx");
  ASSERT_EQ(v11.inputs.size(), 1u);
  EXPECT_EQ(v11.inputs[0].name, "images");
  EXPECT_EQ(v11.inputs[0].shape, (std::vector<int64_t>{1, 3, 640, 640}));
  EXPECT_EQ(v11.outputs.at(0).name, "output0");
  EXPECT_EQ(v11.scaled_matmuls, (std::vector<std::string>{"/model.10/m/m.0/attn/MatMul"}));
  ASSERT_EQ(v11.names.size(), 80u);
  EXPECT_EQ(v11.names[0], "person");
  EXPECT_EQ(v11.names[79], "toothbrush");

  auto v8 = read_onnx_info(dir + "yolov8n/yolov8n_dequant.onnx");
  EXPECT_TRUE(v8.scaled_matmuls.empty());
  auto yx = read_onnx_info(dir + "yolox-nano/yolox_nano.onnx");
  EXPECT_EQ(yx.inputs.at(0).shape, (std::vector<int64_t>{1, 3, 416, 416}));
  EXPECT_EQ(yx.outputs.at(0).shape, (std::vector<int64_t>{1, 3549, 85}));
}

TEST(OnnxInfo, ParsesNamesLiteralsAndRejectsGarbage) {
  EXPECT_EQ(parse_names_literal("{0: 'person', 2: \"car\"}"), (std::vector<std::string>{"person", "class_1", "car"}));
  EXPECT_EQ(parse_names_literal("['a', 'b']"), (std::vector<std::string>{"a", "b"}));
  EXPECT_THROW(read_onnx_info("/nonexistent.onnx"), std::runtime_error);
  std::string tmp = ::testing::TempDir() + "garbage.onnx";
  FILE* f = fopen(tmp.c_str(), "wb");
  fputs("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", f);
  fclose(f);
  EXPECT_THROW(read_onnx_info(tmp), std::runtime_error);
}

}  // namespace
}  // namespace osprey::inference
