// onnx_rewrite: the two stock files OpenCV 4.6 cannot run (yolov8n-stockhead,
// yolov8n-int8) become runnable and compute what yolov8n_dequant.onnx
// computes; the other ONNX files are left alone; tiny hand-built graphs pin
// the per-channel and refusal cases; hostile bytes throw and never crash.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include <opencv2/core.hpp>

#include "inference/onnx_rewrite.hpp"
#include "inference/opencv_engine.hpp"
#include "inference/preprocess.hpp"
#include "test_env.hpp"

namespace osprey::inference {
namespace {

std::string model_path(const std::string& rel) { return testing::shared_dir() + "/models/" + rel; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The engine the server uses: the rewritten bytes when given, else the file.
cv::Mat run(const std::string& path, const std::string& bytes, const cv::Mat& blob) {
  auto engine = make_opencv_engine(OpenCvLoad{path, "", {}, bytes});
  return engine->forward(blob).clone();
}

double max_diff(const cv::Mat& a, const cv::Mat& b) {
  EXPECT_EQ(a.total(), b.total());
  return a.total() == b.total() ? cv::norm(a.reshape(1, 1), b.reshape(1, 1), cv::NORM_INF) : 1e30;
}

cv::Mat v8_blob(const std::string& image) {
  Letterbox lb;
  return make_blob(testing::image(image), "yolov8", 640, 640, &lb);
}

const char* kStock = "yolov8n-stockhead/yolov8n_stockhead.onnx";
const char* kInt8 = "yolov8n-int8/yolov8n_int8_dynamic.onnx";
const char* kDequant = "yolov8n/yolov8n_dequant.onnx";
const char* kStride = "materialised /model.22/Constant_15_output_0 [1,8400] -> [1,4,8400] for OpenCV 4.6 broadcasting";

TEST(OnnxRewrite, StockHeadBecomesTheDequantFileByteForByte) {
  OnnxRewrite rw = rewrite_for_opencv(slurp(model_path(kStock)));
  ASSERT_EQ(rw.applied, std::vector<std::string>{kStride});
  // models/README.md: the stock head plus the stride fix IS yolov8n_dequant.onnx.
  const std::string dequant = slurp(model_path(kDequant));
  EXPECT_EQ(rw.model.size(), dequant.size());
  EXPECT_TRUE(rw.model == dequant);
  cv::Mat blob = v8_blob("street.jpg");
  EXPECT_THROW(run(model_path(kStock), "", blob), std::runtime_error);  // why the rule exists
  EXPECT_EQ(max_diff(run(model_path(kStock), rw.model, blob), run(model_path(kDequant), "", blob)), 0.0);
}

// All 144 initializers of the rewritten file are byte-identical to the dequant
// file's and its 233 nodes are the same (6 in another topological order); only
// the opset (20 vs 17) and IR (9 vs 8) declarations differ. So the outputs
// should agree to float reordering at most; measured: 0 on both photos.
TEST(OnnxRewrite, Int8LoadsAndMatchesTheDequantFile) {
  const std::string raw = slurp(model_path(kInt8));
  OnnxRewrite rw = rewrite_for_opencv(raw);
  ASSERT_EQ(rw.applied.size(), 3u);
  EXPECT_EQ(rw.applied[0], "dequantized 64 ConvInteger chains to fp32 Conv");
  EXPECT_EQ(rw.applied[1], kStride);
  EXPECT_EQ(rw.applied[2], "dropped 186 nodes and 255 initializers left unused");
  EXPECT_THROW(make_opencv_engine(OpenCvLoad{model_path(kInt8), "", {}, ""}), std::runtime_error);
  for (const char* image : {"street.jpg", "dog.jpg"}) {
    cv::Mat blob = v8_blob(image);
    cv::Mat out = run(model_path(kInt8), rw.model, blob);
    cv::Mat ref = run(model_path(kDequant), "", blob);
    ASSERT_EQ(out.size[1], 84);
    double d = max_diff(out, ref);
    std::printf("int8 rewritten vs yolov8n_dequant on %s: max |diff| %.3g\n", image, d);
    EXPECT_LE(d, 1e-3) << image;  // boxes are in input pixels (0..640): 1e-3 is float noise
  }
  // Rewriting is idempotent: nothing is left for a second pass.
  EXPECT_TRUE(rewrite_for_opencv(rw.model).model.empty());
}

TEST(OnnxRewrite, FilesOpenCvAlreadyRunsAreLeftAlone) {
  for (const char* rel : {kDequant, "yolov5n/yolov5n.onnx", "yolo11n/yolo11n_dequant.onnx",
                          "yolox-nano/yolox_nano.onnx"}) {
    OnnxRewrite rw = rewrite_for_opencv(slurp(model_path(rel)));
    EXPECT_TRUE(rw.model.empty()) << rel;
    EXPECT_TRUE(rw.applied.empty()) << rel;
  }
}

// ---- Hand-built graphs ----------------------------------------------------

// Just enough protobuf writing to build tiny ONNX models.
struct Msg {
  std::string s;
  void var(uint64_t v) {
    for (; v >= 0x80; v >>= 7) s += char(v | 0x80);
    s += char(v);
  }
  Msg& num(int f, uint64_t v) { return var(uint64_t(f) << 3), var(v), *this; }
  Msg& str(int f, std::string_view v) { return var(uint64_t(f) << 3 | 2), var(v.size()), s.append(v), *this; }
  Msg& msg(int f, const Msg& m) { return str(f, m.s); }
};

Msg node(const char* op, std::vector<std::string> in, std::vector<std::string> out, std::vector<Msg> attrs = {}) {
  Msg n;
  for (auto& i : in) n.str(1, i);
  for (auto& o : out) n.str(2, o);
  n.str(3, std::string(op) + "_" + out[0]).str(4, op);
  for (auto& a : attrs) n.msg(5, a);
  return n;
}
Msg attr_int(const char* name, int64_t v) { return Msg().str(1, name).num(3, uint64_t(v)).num(20, 2); }
Msg attr_ints(const char* name, std::vector<int64_t> v) {
  Msg a;
  a.str(1, name);
  for (auto x : v) a.num(8, uint64_t(x));
  return a.num(20, 7);
}
template <typename T>
Msg tensor(const char* name, std::vector<int64_t> dims, int dtype, const std::vector<T>& raw) {
  Msg t;
  for (auto d : dims) t.num(1, uint64_t(d));
  t.num(2, uint64_t(dtype)).str(8, name);
  return t.str(9, std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size() * sizeof(T)));
}
Msg value_info(const char* name, std::vector<int64_t> dims) {
  Msg shape;
  for (auto d : dims) shape.msg(1, Msg().num(1, uint64_t(d)));
  return Msg().str(1, name).msg(2, Msg().msg(1, Msg().num(1, 1).msg(2, shape)));
}
std::string model(const Msg& graph) {
  return Msg().num(1, 8).msg(7, graph).msg(8, Msg().num(2, 17)).s;
}

// x[1,2,3,3] -> DynamicQuantizeLinear -> ConvInteger(1x1, int8 W, per-channel
// W_zp [3]) -> Cast -> Mul(x_scale * W_scale) -> Add(Reshape(b, [1,-1,1,1])).
const std::vector<int8_t> kQ = {10, -20, 30, 5, -128, 127};
const std::vector<float> kScale = {0.5f, 0.25f, 2.0f}, kBias = {1.0f, -2.0f, 0.5f};
const std::vector<int8_t> kZp = {1, -3, 0};

std::string quantized_conv(std::vector<int64_t> scale_dims) {
  Msg g;
  g.msg(1, node("DynamicQuantizeLinear", {"x"}, {"xq", "xs", "xz"}));
  g.msg(1, node("Reshape", {"b", "bshape"}, {"br"}));
  g.msg(1, node("Mul", {"xs", "ws"}, {"s"}));
  g.msg(1, node("ConvInteger", {"xq", "wq", "xz", "wz"}, {"ci"}, {attr_ints("kernel_shape", {1, 1})}));
  g.msg(1, node("Cast", {"ci"}, {"cf"}, {attr_int("to", 1)}));
  g.msg(1, node("Mul", {"cf", "s"}, {"ms"}));
  g.msg(1, node("Add", {"ms", "br"}, {"y"}));
  g.msg(5, tensor("wq", {3, 2, 1, 1}, 3, kQ));
  Msg zp;  // int32_data, negative values sign-extended as protobuf does
  for (auto z : kZp) zp.num(5, uint64_t(int64_t(z)));
  g.msg(5, zp.num(1, 3).num(2, 3).str(8, "wz"));
  Msg ws;  // packed float_data
  for (auto d : scale_dims) ws.num(1, uint64_t(d));
  ws.num(2, 1).str(8, "ws").str(4, std::string_view(reinterpret_cast<const char*>(kScale.data()), 12));
  g.msg(5, ws);
  g.msg(5, tensor("b", {3}, 1, kBias));
  Msg shape;
  for (int64_t d : {1, -1, 1, 1}) shape.num(7, uint64_t(d));
  g.msg(5, shape.num(1, 4).num(2, 7).str(8, "bshape"));
  g.msg(11, value_info("x", {1, 2, 3, 3})).msg(12, value_info("y", {1, 3, 3, 3}));
  return model(g);
}

TEST(OnnxRewrite, PerChannelConvIntegerChainComputesTheFloatConv) {
  OnnxRewrite rw = rewrite_for_opencv(quantized_conv({3, 1, 1}));
  ASSERT_EQ(rw.applied.size(), 2u);
  EXPECT_EQ(rw.applied[0], "dequantized 1 ConvInteger chain to fp32 Conv");
  EXPECT_EQ(rw.applied[1], "dropped 3 nodes and 4 initializers left unused");
  int sz[4] = {1, 2, 3, 3};
  cv::Mat x(4, sz, CV_32F);
  cv::randu(x, -3, 3);
  cv::Mat y = run("synthetic", rw.model, x);
  ASSERT_EQ(y.total(), 27u);
  for (int m = 0; m < 3; ++m) {
    for (int p = 0; p < 9; ++p) {
      float want = kBias[m];
      for (int c = 0; c < 2; ++c) want += (kQ[m * 2 + c] - kZp[m]) * kScale[m] * x.ptr<float>()[c * 9 + p];
      EXPECT_NEAR(y.ptr<float>()[m * 9 + p], want, 1e-4) << m << "," << p;
    }
  }
}

TEST(OnnxRewrite, ScaleThatBroadcastsAlongTheLastAxisIsNotFolded) {
  // W_scale [3] multiplies the conv output's LAST axis, not its channels.
  OnnxRewrite rw = rewrite_for_opencv(quantized_conv({3}));
  EXPECT_TRUE(rw.model.empty());
  EXPECT_TRUE(rw.applied.empty());
}

// Detect-head shape: out[1,8,8] = Concat(x[1,4,8] * s[1,8], x); after the
// rewrite s is [1,4,8] and the output is unchanged.
std::string stride_head(bool with_shapes) {
  const std::vector<float> s = {8, 8, 8, 8, 16, 16, 32, 32};
  Msg g;
  g.msg(1, node("Mul", {"x", "s"}, {"boxes"}));
  g.msg(1, node("Concat", {"boxes", "x"}, {"out"}, {attr_int("axis", 1)}));
  g.msg(5, tensor("s", {1, 8}, 1, s));
  g.msg(11, with_shapes ? value_info("x", {1, 4, 8}) : Msg().str(1, "x"));
  g.msg(12, value_info("out", {1, 8, 8}));
  return model(g);
}

TEST(OnnxRewrite, StrideConstantIsMaterialisedOnlyWhenTheShapesProveIt) {
  OnnxRewrite rw = rewrite_for_opencv(stride_head(true));
  ASSERT_EQ(rw.applied, std::vector<std::string>{"materialised s [1,8] -> [1,4,8] for OpenCV 4.6 broadcasting"});
  int sz[3] = {1, 4, 8};
  cv::Mat x(3, sz, CV_32F);
  cv::randu(x, 0, 1);
  cv::Mat out = run("synthetic", rw.model, x);
  ASSERT_EQ(out.total(), 64u);
  const float* o = out.ptr<float>();
  const float* xi = x.ptr<float>();
  for (int i = 0; i < 32; ++i) {
    EXPECT_FLOAT_EQ(o[i], xi[i] * (i % 8 < 4 ? 8.f : i % 8 < 6 ? 16.f : 32.f)) << i;
    EXPECT_FLOAT_EQ(o[32 + i], xi[i]) << i;
  }
  EXPECT_TRUE(rewrite_for_opencv(stride_head(false)).model.empty());  // x's shape unknown
}

// ---- Hostile bytes --------------------------------------------------------

// Must throw std::runtime_error or return; if it returns a model, that model
// parses again and needs no second pass.
void survives(const std::string& bytes) {
  try {
    OnnxRewrite rw = rewrite_for_opencv(bytes);
    if (!rw.model.empty()) {
      EXPECT_TRUE(rewrite_for_opencv(rw.model).model.empty());
    }
  } catch (const std::runtime_error&) {
  }
}

TEST(OnnxRewrite, TruncatedOrGarbageBytesThrow) {
  EXPECT_THROW(rewrite_for_opencv(""), std::runtime_error);  // no graph
  const std::string int8 = slurp(model_path(kInt8));
  std::mt19937_64 rng(7);
  // The graph field spans all but the last ~1.7 KB (metadata): any cut before
  // that truncates a field or leaves no graph.
  for (int i = 0; i < 40; ++i) {
    size_t cut = rng() % (int8.size() - 4096);
    EXPECT_THROW(rewrite_for_opencv(std::string_view(int8).substr(0, cut)), std::runtime_error) << cut;
  }
  for (const std::string& tiny : {quantized_conv({3, 1, 1}), stride_head(true)}) {
    for (size_t cut = 0; cut + 8 < tiny.size(); ++cut) {
      EXPECT_THROW(rewrite_for_opencv(std::string_view(tiny).substr(0, cut)), std::runtime_error) << cut;
    }
  }
  for (int i = 0; i < 500; ++i) {
    std::string junk(1 + rng() % 2048, '\0');
    for (auto& c : junk) c = char(rng());
    EXPECT_THROW(rewrite_for_opencv(junk), std::runtime_error) << i;
  }
}

TEST(OnnxRewrite, BitFlipsNeverCrash) {
  std::mt19937_64 rng(11);
  for (const std::string& tiny : {quantized_conv({3, 1, 1}), quantized_conv({3}), stride_head(true)}) {
    for (int i = 0; i < 3000; ++i) {
      std::string b = tiny;
      for (int k = 0, n = 1 + int(rng() % 4); k < n; ++k) b[rng() % b.size()] ^= char(1 << (rng() % 8));
      survives(b);
    }
  }
  // The real int8 file: flips in its node list (the graph's first ~60 KB) and anywhere.
  const std::string int8 = slurp(model_path(kInt8));
  for (int i = 0; i < 24; ++i) {
    std::string b = int8;
    size_t at = i % 2 ? rng() % b.size() : rng() % 60000;
    b[at] ^= char(1 << (rng() % 8));
    survives(b);
  }
}

}  // namespace
}  // namespace osprey::inference
