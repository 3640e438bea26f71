// The detection faces end to end, in-process: a Request goes through
// http::Router::dispatch (routing, handler, error rendering) against a real
// ModelRegistry loaded from $OSPREY_SHARED_DIR/models. Golden detections are
// the ones documented in shared/models/README.md for yolov8n.

#include <utility>  // before Asio

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <iostream>
#include <sstream>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "api/detect_command.hpp"
#include "api/detection_routes.hpp"
#include "common/strings.hpp"
#include "http/response.hpp"
#include "inference/preprocess.hpp"
#include "vision/decode.hpp"

namespace osprey::api {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string shared_dir() {
  const char* d = std::getenv("OSPREY_SHARED_DIR");
  return d ? d : "/work/shared";
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string image(const std::string& name) { return read_file(shared_dir() + "/images/" + name); }

struct Box {
  double x1, y1, x2, y2;
};

double iou(Box a, Box b) {
  const double ix = std::max(0.0, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  const double iy = std::max(0.0, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  const double inter = ix * iy;
  const double u = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return u > 0 ? inter / u : 0;
}

// README boxes are x,y,w,h.
Box xywh(double x, double y, double w, double h) { return {x, y, x + w, y + h}; }

struct Result {
  http::Response res;
  http::Usage usage;
  json body() const { return json::parse(res.body()); }
  int status() const { return res.result_int(); }
  std::string header(std::string_view name) const { return std::string(res[name]); }
};

class DetectionApi : public ::testing::Test {
 protected:
  static inline std::string dir_;
  static inline config::Config* cfg_ = nullptr;
  static inline inference::ModelRegistry* reg_ = nullptr;
  static inline http::Router* router_ = nullptr;

  static void SetUpTestSuite() {
    std::string tmpl = (fs::temp_directory_path() / "osprey-apidet-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    // Only the models these tests need: a fast repository.
    for (const char* m : {"yolov8n-ts", "yolo-fastest-1.1-xl", "yolov8n-stockhead"})
      fs::create_directory_symlink(shared_dir() + "/models/" + m, dir_ + "/" + m);
    cfg_ = new config::Config;
    cfg_->inference.models_dir = dir_;
    cfg_->inference.default_model = "yolov8n-ts";
    reg_ = new inference::ModelRegistry(cfg_->inference);
    reg_->scan();
    router_ = new http::Router;
    add_detection_routes(*router_, *reg_, *cfg_);
    start_io();
  }
  static void TearDownTestSuite() {
    stop_io();
    delete router_;
    delete reg_;
    delete cfg_;
    fs::remove_all(dir_);
  }

  // One io_context for the whole suite, like a server's I/O thread: the
  // registry's workers still hold copies of its executor for a moment after
  // a response is complete, so it must outlive every request.
  static inline boost::asio::io_context* io_ = nullptr;
  static inline std::thread* io_thread_ = nullptr;
  static inline std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> io_work_;

  static void start_io() {
    io_ = new boost::asio::io_context;
    io_work_.emplace(io_->get_executor());
    io_thread_ = new std::thread([] { io_->run(); });
  }
  static void stop_io() {
    io_work_.reset();
    io_thread_->join();
    delete io_thread_;
    delete io_;
  }

  static Result call(http::Verb verb, const std::string& target, std::string body = {},
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Request req{verb, target, 11};
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = std::move(body);
    req.prepare_payload();
    const auto q = target.find('?');
    const std::string path = target.substr(0, q);
    http::Context ctx{.request = req,
                      .path = path,
                      .query = http::Query::parse(q == std::string::npos ? "" : target.substr(q + 1))};
    ctx.executor = io_->get_executor();
    auto fut = boost::asio::co_spawn(*io_, router_->dispatch(ctx), boost::asio::use_future);
    return Result{fut.get(), ctx.usage};
  }

  static std::string multipart(const std::vector<std::tuple<std::string, std::string, std::string>>& parts,
                               const std::string& boundary = "----OspreyTestBoundary7MA4YWxk") {
    std::string body;
    for (const auto& [name, filename, content] : parts) {
      body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"";
      if (!filename.empty()) body += "; filename=\"" + filename + "\"\r\nContent-Type: image/jpeg";
      body += "\r\n\r\n" + content + "\r\n";
    }
    return body + "--" + boundary + "--\r\n";
  }
  static std::pair<std::string, std::string> multipart_type() {
    return {"Content-Type", "multipart/form-data; boundary=----OspreyTestBoundary7MA4YWxk"};
  }

  // The best detection of `label` overlapping `golden`, as {confidence, iou}.
  static std::pair<double, double> find(const json& dets, const std::string& label, Box golden) {
    std::pair<double, double> best{0, 0};
    for (const auto& d : dets) {
      if (d["label"] != label) continue;
      Box b{d["box"]["x1"], d["box"]["y1"], d["box"]["x2"], d["box"]["y2"]};
      double o = iou(b, golden);
      if (o > best.second) best = {d["confidence"].get<double>(), o};
    }
    return best;
  }
};

// --- POST /v1/detect --------------------------------------------------------

TEST_F(DetectionApi, DogMultipartMatchesGolden) {
  auto r = call(http::Verb::post, "/v1/detect", multipart({{"image", "dog.jpg", image("dog.jpg")}}), {multipart_type()});
  ASSERT_EQ(r.status(), 200) << r.res.body();
  json b = r.body();
  EXPECT_EQ(b["model"], "yolov8n-ts");
  EXPECT_EQ(b["image"]["width"], 768);
  EXPECT_EQ(b["image"]["height"], 576);
  for (const char* k : {"decode_ms", "preprocess_ms", "inference_ms", "postprocess_ms"})
    EXPECT_TRUE(b["timings"].contains(k)) << k;
  auto dog = find(b["detections"], "dog", xywh(131, 219, 177, 321));
  EXPECT_NEAR(dog.first, 0.96, 0.03);
  EXPECT_GT(dog.second, 0.9);
  auto bike = find(b["detections"], "bicycle", xywh(131, 137, 437, 283));
  EXPECT_NEAR(bike.first, 0.89, 0.03);
  EXPECT_GT(bike.second, 0.9);
  auto car = find(b["detections"], "car", xywh(468, 74, 226, 96));
  EXPECT_NEAR(car.first, 0.61, 0.05);
  EXPECT_GT(car.second, 0.85);
  // Sorted by confidence, every field present.
  double prev = 1.0;
  for (const auto& d : b["detections"]) {
    EXPECT_LE(d["confidence"].get<double>(), prev);
    prev = d["confidence"];
    EXPECT_TRUE(d.contains("class_id"));
  }
  EXPECT_EQ(r.usage.model, "yolov8n-ts");
  EXPECT_EQ(r.usage.images, 1);
}

TEST_F(DetectionApi, StreetRawBodyIsDctScaledAndMappedBack) {
  // street.jpg is 1330x1330: decoded at 1/2 (665 >= 640), boxes scaled back.
  auto r = call(http::Verb::post, "/v1/detect?model=yolov8n-ts&confidence=0.5", image("street.jpg"),
                {{"Content-Type", "image/jpeg"}});
  ASSERT_EQ(r.status(), 200) << r.res.body();
  json b = r.body();
  EXPECT_EQ(b["image"]["width"], 1330);
  for (const auto& d : b["detections"]) EXPECT_GE(d["confidence"].get<double>(), 0.5);
  auto bike = find(b["detections"], "bicycle", xywh(778, 712, 468, 318));
  EXPECT_NEAR(bike.first, 0.93, 0.04);
  EXPECT_GT(bike.second, 0.85);
  auto p1 = find(b["detections"], "person", xywh(71, 548, 206, 392));
  EXPECT_NEAR(p1.first, 0.92, 0.04);
  EXPECT_GT(p1.second, 0.85);
  auto p2 = find(b["detections"], "person", xywh(915, 507, 221, 512));
  EXPECT_NEAR(p2.first, 0.90, 0.04);
  EXPECT_GT(p2.second, 0.85);
  auto car = find(b["detections"], "car", xywh(662, 586, 310, 184));
  EXPECT_GT(car.second, 0.85);
}

TEST_F(DetectionApi, BusJsonBase64WithClassFilter) {
  json req = {{"image", str::base64_encode(image("bus.jpg"))}, {"classes", {"person"}}, {"confidence", 0.5}};
  auto r = call(http::Verb::post, "/v1/detect", req.dump(), {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status(), 200) << r.res.body();
  json b = r.body();
  EXPECT_EQ(b["image"]["width"], 810);
  EXPECT_EQ(b["image"]["height"], 1080);
  int strong = 0;
  for (const auto& d : b["detections"]) {
    EXPECT_EQ(d["label"], "person");
    EXPECT_EQ(d["class_id"], 0);
    if (d["confidence"] >= 0.85) ++strong;
  }
  EXPECT_EQ(strong, 3);
  // Both classes, by id and name in one comma list; a data: URL this time.
  req = {{"image", "data:image/jpeg;base64," + str::base64_encode(image("bus.jpg"))}};
  r = call(http::Verb::post, "/v1/detect?classes=5,person", req.dump(), {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status(), 200) << r.res.body();
  auto bus = find(r.body()["detections"], "bus", {0, 200, 810, 900});
  EXPECT_NEAR(bus.first, 0.83, 0.05);
  const json both = r.body();  // a named json: range-for over a temporary's member dangles
  for (const auto& d : both["detections"]) EXPECT_TRUE(d["label"] == "bus" || d["label"] == "person");
}

TEST_F(DetectionApi, HorsesWithOptions) {
  auto r = call(http::Verb::post, "/v1/detect?classes=horse&max_detections=3", image("horses.jpg"),
                {{"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(r.status(), 200) << r.res.body();
  json d = r.body()["detections"];
  ASSERT_EQ(d.size(), 3u);  // there are 4-5 horses: max_detections caps them
  for (const auto& h : d) {
    EXPECT_EQ(h["label"], "horse");
    EXPECT_GT(h["confidence"].get<double>(), 0.5);
  }
}

TEST_F(DetectionApi, ExifOrientationIsHonoured) {
  // Prepend an APP1 with orientation 2 (mirror): boxes must come back mirrored.
  auto with_orientation = [](const std::string& jpeg, int o) {
    std::string tiff("II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0", 18);
    tiff += static_cast<char>(o);
    tiff += std::string("\0\0\0\0\0\0", 6);
    std::string seg = std::string("Exif\0\0", 6) + tiff;
    std::string app1 = "\xFF\xE1";
    app1 += static_cast<char>((seg.size() + 2) >> 8);
    app1 += static_cast<char>((seg.size() + 2) & 0xFF);
    return jpeg.substr(0, 2) + app1 + seg + jpeg.substr(2);
  };
  auto r = call(http::Verb::post, "/v1/detect", with_orientation(image("dog.jpg"), 2),
                {{"Content-Type", "image/jpeg"}});
  ASSERT_EQ(r.status(), 200) << r.res.body();
  auto dog = find(r.body()["detections"], "dog", {768 - 308, 219, 768 - 131, 540});
  EXPECT_GT(dog.first, 0.8);
  EXPECT_GT(dog.second, 0.85);
  r = call(http::Verb::post, "/v1/detect", with_orientation(image("dog.jpg"), 6), {{"Content-Type", "image/jpeg"}});
  ASSERT_EQ(r.status(), 200) << r.res.body();
  EXPECT_EQ(r.body()["image"]["width"], 576);
  EXPECT_EQ(r.body()["image"]["height"], 768);
}

TEST_F(DetectionApi, AnnotatedImageOutput) {
  auto r = call(http::Verb::post, "/v1/detect?format=jpeg", image("dog.jpg"), {{"Content-Type", "image/jpeg"}});
  ASSERT_EQ(r.status(), 200);
  EXPECT_EQ(r.header("Content-Type"), "image/jpeg");
  EXPECT_GE(std::stoi(r.header("X-Detections-Count")), 3);
  auto img = vision::decode_image(r.res.body());
  EXPECT_EQ(img.format, "jpeg");
  EXPECT_EQ(img.bgr.cols, 768);
  r = call(http::Verb::post, "/v1/detect", image("dog.jpg"), {{"Content-Type", "image/jpeg"}, {"Accept", "image/png"}});
  ASSERT_EQ(r.status(), 200);
  EXPECT_EQ(r.header("Content-Type"), "image/png");
  EXPECT_EQ(vision::decode_image(r.res.body()).format, "png");
  // Annotation changed pixels relative to the plain decode.
  auto plain = vision::decode_image(image("dog.jpg"));
  auto drawn = vision::decode_image(r.res.body());
  EXPECT_GT(cv::norm(plain.bgr, drawn.bgr, cv::NORM_L1), 1e5);
}

TEST_F(DetectionApi, DarknetModelThroughTheSameRoute) {
  auto r = call(http::Verb::post, "/v1/detect?model=yolo-fastest-1.1-xl", image("dog.jpg"),
                {{"Content-Type", "image/jpeg"}});
  ASSERT_EQ(r.status(), 200) << r.res.body();
  EXPECT_EQ(r.body()["model"], "yolo-fastest-1.1-xl");
  auto dog = find(r.body()["detections"], "dog", xywh(131, 219, 177, 321));
  EXPECT_GT(dog.first, 0.3);
  EXPECT_GT(dog.second, 0.5);  // a 320x320 stretch model: looser boxes than yolov8n
  EXPECT_EQ(r.usage.model, "yolo-fastest-1.1-xl");
}

TEST_F(DetectionApi, BadInputsAreClientErrors) {
  auto expect = [](const Result& r, int status, const std::string& code) {
    EXPECT_EQ(r.status(), status) << r.res.body();
    auto b = json::parse(r.res.body(), nullptr, false);
    ASSERT_TRUE(b.is_object()) << r.res.body();
    EXPECT_EQ(b["error"]["code"], code) << r.res.body();
  };
  const auto jpeg = std::pair<std::string, std::string>{"Content-Type", "image/jpeg"};
  expect(call(http::Verb::post, "/v1/detect", "", {jpeg}), 400, "empty_image");
  expect(call(http::Verb::post, "/v1/detect", "this is not an image at all", {jpeg}), 415, "unsupported_image_format");
  const std::string dog = image("dog.jpg");
  expect(call(http::Verb::post, "/v1/detect", dog.substr(0, dog.size() / 2), {jpeg}), 400, "truncated_image");
  expect(call(http::Verb::post, "/v1/detect?model=nope", dog, {jpeg}), 404, "model_not_found");
  expect(call(http::Verb::post, "/v1/detect?model=yolov8n-stockhead", dog, {jpeg}), 503, "model_unavailable");
  expect(call(http::Verb::post, "/v1/detect?confidence=1.5", dog, {jpeg}), 400, "invalid_value");
  expect(call(http::Verb::post, "/v1/detect?confidence=abc", dog, {jpeg}), 400, "invalid_value");
  expect(call(http::Verb::post, "/v1/detect?iou=-1", dog, {jpeg}), 400, "invalid_value");
  expect(call(http::Verb::post, "/v1/detect?max_detections=0", dog, {jpeg}), 400, "invalid_value");
  expect(call(http::Verb::post, "/v1/detect?classes=unicorn", dog, {jpeg}), 400, "invalid_value");
  expect(call(http::Verb::post, "/v1/detect?classes=80", dog, {jpeg}), 400, "invalid_value");
  expect(call(http::Verb::post, "/v1/detect?format=gif", dog, {jpeg}), 400, "invalid_value");
  expect(call(http::Verb::post, "/v1/detect", dog, {{"Content-Type", "text/plain"}}), 415, "unsupported_media_type");
  expect(call(http::Verb::post, "/v1/detect", multipart({{"other", "", "x"}}), {multipart_type()}), 400,
         "missing_image");
  expect(call(http::Verb::post, "/v1/detect", "--x\r\nbroken", {{"Content-Type", "multipart/form-data; boundary=x"}}),
         400, "invalid_multipart");
  expect(call(http::Verb::post, "/v1/detect", R"({"image": "!!!"})", {{"Content-Type", "application/json"}}), 400,
         "invalid_base64");
  expect(call(http::Verb::post, "/v1/detect", R"({"noimage": 1})", {{"Content-Type", "application/json"}}), 400,
         "missing_image");
  expect(call(http::Verb::post, "/v1/detect", R"({"image": )", {{"Content-Type", "application/json"}}), 400,
         "invalid_json");
  // A decompression bomb: a PNG header claiming 50000x50000 pixels.
  std::string png("\x89PNG\r\n\x1A\n\0\0\0\x0DIHDR\0\0\xC3\x50\0\0\xC3\x50\x08\x02\0\0\0\0\0\0\0", 33);
  png += std::string(100, '\0');
  expect(call(http::Verb::post, "/v1/detect", png, {jpeg}), 413, "image_too_large");
}

TEST_F(DetectionApi, ConcurrentRequestsGetTheirOwnAnswers) {
  // Requests for different images in flight together on one I/O thread:
  // each must get its own image's detections back.
  struct Call {
    http::Request req;
    std::string path = "/v1/detect";
    std::unique_ptr<http::Context> ctx;
    std::future<http::Response> fut;
  };
  const std::vector<std::string> names = {"dog.jpg", "bus.jpg", "horses.jpg", "dog.jpg", "bus.jpg", "horses.jpg"};
  std::vector<std::unique_ptr<Call>> calls;
  for (const auto& n : names) {
    auto c = std::make_unique<Call>();
    c->req = http::Request{http::Verb::post, "/v1/detect", 11};
    c->req.set("Content-Type", "image/jpeg");
    c->req.body() = image(n);
    c->req.prepare_payload();
    c->ctx.reset(new http::Context{.request = c->req, .path = c->path});
    c->ctx->executor = io_->get_executor();
    calls.push_back(std::move(c));
  }
  for (auto& c : calls) c->fut = boost::asio::co_spawn(*io_, router_->dispatch(*c->ctx), boost::asio::use_future);
  for (std::size_t i = 0; i < calls.size(); ++i) {
    http::Response res = calls[i]->fut.get();
    ASSERT_EQ(res.result_int(), 200) << res.body();
    json b = json::parse(res.body());
    const int w = names[i] == "dog.jpg" ? 768 : names[i] == "bus.jpg" ? 810 : 773;
    EXPECT_EQ(b["image"]["width"], w) << names[i];
    const std::string want = names[i] == "dog.jpg" ? "dog" : names[i] == "bus.jpg" ? "bus" : "horse";
    bool found = false;
    for (const auto& d : b["detections"]) found = found || d["label"] == want;
    EXPECT_TRUE(found) << names[i];
  }
}

// --- DeepStack / CodeProject.AI ----------------------------------------------

TEST_F(DetectionApi, DeepStackDetection) {
  auto r = call(http::Verb::post, "/v1/vision/detection",
                multipart({{"image", "dog.jpg", image("dog.jpg")}, {"min_confidence", "", "0.5"}}), {multipart_type()});
  ASSERT_EQ(r.status(), 200) << r.res.body();
  json b = r.body();
  EXPECT_EQ(b["success"], true);
  EXPECT_EQ(b["code"], 200);
  ASSERT_TRUE(b["predictions"].is_array());
  EXPECT_EQ(b["count"], b["predictions"].size());
  EXPECT_TRUE(b["inferenceMs"].is_number_integer());
  EXPECT_TRUE(b["processMs"].is_number_integer());
  bool dog = false;
  for (const auto& p : b["predictions"]) {
    EXPECT_GE(p["confidence"].get<double>(), 0.5);
    for (const char* k : {"x_min", "y_min", "x_max", "y_max"}) EXPECT_TRUE(p[k].is_number_integer()) << k;
    if (p["label"] == "dog") {
      dog = true;
      EXPECT_GT(iou({p["x_min"], p["y_min"], p["x_max"], p["y_max"]}, xywh(131, 219, 177, 321)), 0.9);
    }
  }
  EXPECT_TRUE(dog);
  EXPECT_EQ(r.usage.images, 1);

  // Default min_confidence is 0.4: car 0.61 is in, nothing below 0.4.
  r = call(http::Verb::post, "/v1/vision/detection?model=yolov8n-ts", multipart({{"image", "s.jpg", image("street.jpg")}}),
           {multipart_type()});
  ASSERT_EQ(r.status(), 200);
  const json street = r.body();
  for (const auto& p : street["predictions"]) EXPECT_GE(p["confidence"].get<double>(), 0.4);
  EXPECT_GE(r.body()["count"].get<int>(), 8);
}

TEST_F(DetectionApi, DeepStackErrorsUseItsShape) {
  auto r = call(http::Verb::post, "/v1/vision/detection", multipart({{"min_confidence", "", "0.5"}}),
                {multipart_type()});
  EXPECT_EQ(r.status(), 400);
  EXPECT_EQ(r.body()["success"], false);
  EXPECT_EQ(r.body()["code"], 400);
  EXPECT_TRUE(r.body()["error"].is_string());
  r = call(http::Verb::post, "/v1/vision/detection", multipart({{"image", "x.txt", "hello"}}), {multipart_type()});
  EXPECT_EQ(r.status(), 415);
  EXPECT_EQ(r.body()["success"], false);
  r = call(http::Verb::post, "/v1/vision/detection",
           multipart({{"image", "d.jpg", image("dog.jpg")}, {"min_confidence", "", "2"}}), {multipart_type()});
  EXPECT_EQ(r.status(), 400);
  EXPECT_EQ(r.body()["success"], false);
  r = call(http::Verb::post, "/v1/vision/detection", "x", {{"Content-Type", "image/jpeg"}});
  EXPECT_EQ(r.status(), 415);
  EXPECT_EQ(r.body()["success"], false);
}

// --- KServe v2 ---------------------------------------------------------------

TEST_F(DetectionApi, KServeMetadataAndReadiness) {
  auto r = call(http::Verb::get, "/v2/models/yolov8n-ts");
  ASSERT_EQ(r.status(), 200) << r.res.body();
  json m = r.body();
  EXPECT_EQ(m["name"], "yolov8n-ts");
  EXPECT_EQ(m["versions"], json({"1"}));
  EXPECT_EQ(m["platform"], "pytorch_libtorch");
  EXPECT_EQ(m["inputs"][0]["datatype"], "FP32");
  EXPECT_EQ(m["inputs"][0]["shape"], json({1, 3, 640, 640}));
  EXPECT_EQ(m["outputs"][0]["shape"], json({1, 84, 8400}));
  EXPECT_EQ(call(http::Verb::get, "/v2/models/yolov8n-ts/ready").status(), 200);
  EXPECT_EQ(call(http::Verb::get, "/v2/models/yolov8n-ts/versions/1/ready").status(), 200);
  EXPECT_EQ(call(http::Verb::get, "/v2/models/yolov8n-ts/versions/2/ready").status(), 404);
  r = call(http::Verb::get, "/v2/models/yolov8n-stockhead/ready");
  EXPECT_EQ(r.status(), 400);
  EXPECT_TRUE(r.body()["error"].is_string());  // kserve error shape: {"error": "..."}
  r = call(http::Verb::get, "/v2/models/nope/ready");
  EXPECT_EQ(r.status(), 404);
  EXPECT_TRUE(r.body()["error"].is_string());
  EXPECT_EQ(call(http::Verb::get, "/v2/models/nope").status(), 404);
  r = call(http::Verb::get, "/v2/models/yolo-fastest-1.1-xl");
  ASSERT_EQ(r.status(), 200);
  EXPECT_EQ(r.body()["platform"], "opencv_darknet");
}

// The dog's best anchor in the raw [1,84,8400] output: class 16 score and centre.
struct Anchor {
  float score = 0, cx = 0, cy = 0;
};
Anchor best_dog(const std::vector<float>& out) {
  Anchor a;
  for (int i = 0; i < 8400; ++i) {
    float s = out[(4 + 16) * 8400 + i];
    if (s > a.score) a = {s, out[i], out[8400 + i]};
  }
  return a;
}

TEST_F(DetectionApi, KServeInferJsonAndBinary) {
  auto bgr = vision::decode_image(image("dog.jpg")).bgr;
  inference::Letterbox lb;
  cv::Mat blob = inference::make_blob(bgr, "yolov8", 640, 640, &lb);
  ASSERT_EQ(blob.total(), 3u * 640 * 640);
  std::vector<float> input(blob.ptr<float>(), blob.ptr<float>() + blob.total());
  // Expected dog centre in input pixels (README box, letterboxed).
  const float cx = (131 + 177 / 2.0f) * lb.scale + lb.pad_x, cy = (219 + 321 / 2.0f) * lb.scale + lb.pad_y;

  json req = {{"id", "req-1"},
              {"inputs", {{{"name", "x"}, {"shape", {1, 3, 640, 640}}, {"datatype", "FP32"}, {"data", input}}}}};
  auto r = call(http::Verb::post, "/v2/models/yolov8n-ts/infer", req.dump(), {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status(), 200) << r.res.body().substr(0, 300);
  json b = r.body();
  EXPECT_EQ(b["model_name"], "yolov8n-ts");
  EXPECT_EQ(b["id"], "req-1");
  ASSERT_EQ(b["outputs"].size(), 1u);
  EXPECT_EQ(b["outputs"][0]["name"], "output0");
  EXPECT_EQ(b["outputs"][0]["datatype"], "FP32");
  EXPECT_EQ(b["outputs"][0]["shape"], json({1, 84, 8400}));
  std::vector<float> out_json = b["outputs"][0]["data"].get<std::vector<float>>();
  ASSERT_EQ(out_json.size(), 84u * 8400);
  Anchor a = best_dog(out_json);
  EXPECT_NEAR(a.score, 0.96, 0.03);
  EXPECT_NEAR(a.cx, cx, 12);
  EXPECT_NEAR(a.cy, cy, 12);
  EXPECT_EQ(r.usage.images, 1);

  // Binary in, binary out (Triton extension).
  json head = {{"inputs",
                {{{"name", "x"},
                  {"shape", {1, 3, 640, 640}},
                  {"datatype", "FP32"},
                  {"parameters", {{"binary_data_size", input.size() * 4}}}}}},
               {"outputs", {{{"name", "output0"}, {"parameters", {{"binary_data", true}}}}}}};
  std::string hs = head.dump();
  std::string body = hs + std::string(reinterpret_cast<const char*>(input.data()), input.size() * 4);
  r = call(http::Verb::post, "/v2/models/yolov8n-ts/infer", body,
           {{"Content-Type", "application/octet-stream"}, {"Inference-Header-Content-Length", std::to_string(hs.size())}});
  ASSERT_EQ(r.status(), 200) << r.res.body().substr(0, 300);
  EXPECT_EQ(r.header("Content-Type"), "application/octet-stream");
  const std::size_t json_len = std::stoul(r.header("Inference-Header-Content-Length"));
  json rh = json::parse(r.res.body().substr(0, json_len));
  EXPECT_EQ(rh["outputs"][0]["parameters"]["binary_data_size"], 84u * 8400 * 4);
  EXPECT_FALSE(rh["outputs"][0].contains("data"));
  ASSERT_EQ(r.res.body().size() - json_len, 84u * 8400 * 4);
  std::vector<float> out_bin(84 * 8400);
  std::memcpy(out_bin.data(), r.res.body().data() + json_len, out_bin.size() * 4);
  for (std::size_t i = 0; i < out_bin.size(); i += 997) EXPECT_NEAR(out_bin[i], out_json[i], 1e-3) << i;
  EXPECT_NEAR(best_dog(out_bin).score, a.score, 1e-3);

  // JSON in with request-level binary_data_output.
  json small = req;
  small["parameters"] = {{"binary_data_output", true}};
  r = call(http::Verb::post, "/v2/models/yolov8n-ts/infer", small.dump(), {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status(), 200);
  EXPECT_FALSE(r.header("Inference-Header-Content-Length").empty());
}

TEST_F(DetectionApi, KServeInferErrors) {
  auto expect400 = [](const Result& r) {
    EXPECT_EQ(r.status(), 400) << r.res.body();
    auto b = json::parse(r.res.body(), nullptr, false);
    EXPECT_TRUE(b.is_object() && b["error"].is_string()) << r.res.body();
  };
  const std::string url = "/v2/models/yolov8n-ts/infer";
  const auto ct = std::pair<std::string, std::string>{"Content-Type", "application/json"};
  expect400(call(http::Verb::post, url, "{", {ct}));
  expect400(call(http::Verb::post, url, R"({"inputs": []})", {ct}));
  expect400(call(http::Verb::post, url, R"({"inputs": [{"name":"x","shape":[1,2],"datatype":"INT8","data":[1,2]}]})", {ct}));
  expect400(call(http::Verb::post, url, R"({"inputs": [{"name":"bogus","shape":[1,2],"datatype":"FP32","data":[1,2]}]})", {ct}));
  expect400(call(http::Verb::post, url, R"({"inputs": [{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2]}]})", {ct}));
  expect400(call(http::Verb::post, url, R"({"inputs": [{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,"a"]}]})", {ct}));
  expect400(call(http::Verb::post, url, R"({"inputs": [{"name":"x","shape":[-1],"datatype":"FP32","data":[]}]})", {ct}));
  // Right layout but the wrong shape for the model: the registry refuses it.
  expect400(call(http::Verb::post, url, R"({"inputs": [{"name":"x","shape":[1,2],"datatype":"FP32","data":[[1,2]]}]})", {ct}));
  // Binary framing mistakes.
  std::string head = R"({"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}]})";
  expect400(call(http::Verb::post, url, head + "1234", {{"Inference-Header-Content-Length", std::to_string(head.size())}}));
  expect400(call(http::Verb::post, url, head + std::string(12, 'x'),
                 {{"Inference-Header-Content-Length", std::to_string(head.size())}}));
  expect400(call(http::Verb::post, url, head, {{"Inference-Header-Content-Length", "99999"}}));
  expect400(call(http::Verb::post, url, head, {{"Inference-Header-Content-Length", "-5"}}));
  auto r = call(http::Verb::post, "/v2/models/nope/infer", "{}", {ct});
  EXPECT_EQ(r.status(), 404);
  r = call(http::Verb::post, "/v2/models/yolov8n-stockhead/infer", "{}", {ct});
  EXPECT_EQ(r.status(), 503);
  EXPECT_TRUE(r.body()["error"].is_string());
}

// --- Model resources ---------------------------------------------------------

TEST_F(DetectionApi, ModelResources) {
  auto r = call(http::Verb::get, "/v1/detection/models");
  ASSERT_EQ(r.status(), 200);
  std::vector<std::string> names;
  const json list = r.body();
  for (const auto& m : list["data"]) names.push_back(m["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"yolo-fastest-1.1-xl", "yolov8n-stockhead", "yolov8n-ts"}));

  r = call(http::Verb::get, "/v1/detection/models/yolov8n-ts");
  ASSERT_EQ(r.status(), 200);
  json m = r.body();
  EXPECT_EQ(m["state"], "available");
  EXPECT_EQ(m["format"], "torchscript");
  EXPECT_EQ(m["input_width"], 640);
  EXPECT_EQ(m["classes"].size(), 80u);
  EXPECT_GT(m["load_ms"].get<double>(), 0);
  r = call(http::Verb::get, "/v1/detection/models/yolov8n-stockhead");
  EXPECT_EQ(r.body()["state"], "unavailable");
  EXPECT_FALSE(r.body()["reason"].get<std::string>().empty());
  EXPECT_EQ(call(http::Verb::get, "/v1/detection/models/nope").status(), 404);

  // Unload, then the model is gone from every face; load it back.
  r = call(http::Verb::delete_, "/v1/detection/models/yolo-fastest-1.1-xl");
  ASSERT_EQ(r.status(), 200) << r.res.body();
  EXPECT_EQ(r.body()["deleted"], true);
  EXPECT_EQ(call(http::Verb::get, "/v1/detection/models/yolo-fastest-1.1-xl").status(), 404);
  EXPECT_EQ(call(http::Verb::post, "/v1/detect?model=yolo-fastest-1.1-xl", image("dog.jpg"),
                 {{"Content-Type", "image/jpeg"}}).status(), 404);
  EXPECT_EQ(call(http::Verb::delete_, "/v1/detection/models/yolo-fastest-1.1-xl").status(), 404);
  r = call(http::Verb::put, "/v1/detection/models/yolo-fastest-1.1-xl", R"({"confidence": 0.3})",
           {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status(), 200) << r.res.body();
  EXPECT_EQ(r.body()["state"], "available");
  EXPECT_NEAR(r.body()["default_confidence"].get<double>(), 0.3, 1e-6);
  EXPECT_EQ(call(http::Verb::post, "/v1/detect?model=yolo-fastest-1.1-xl", image("dog.jpg"),
                 {{"Content-Type", "image/jpeg"}}).status(), 200);
  // Reload without a body; unknown folder; a model that cannot load.
  EXPECT_EQ(call(http::Verb::put, "/v1/detection/models/yolo-fastest-1.1-xl").status(), 200);
  EXPECT_EQ(call(http::Verb::put, "/v1/detection/models/nope").status(), 404);
  EXPECT_EQ(call(http::Verb::put, "/v1/detection/models/..").status(), 400);  // no escaping the repository
  r = call(http::Verb::put, "/v1/detection/models/yolov8n-stockhead");
  EXPECT_EQ(r.status(), 422);
  EXPECT_EQ(r.body()["error"]["code"], "model_load_failed");
  EXPECT_EQ(call(http::Verb::put, "/v1/detection/models/yolo-fastest-1.1-xl", "[1]",
                 {{"Content-Type", "application/json"}}).status(), 400);
}

TEST_F(DetectionApi, RouteScopesAndLimits) {
  for (const auto& route : router_->routes()) {
    SCOPED_TRACE(route.path);
    EXPECT_FALSE(route.summary.empty());
    if (route.method == http::Verb::put || route.method == http::Verb::delete_) EXPECT_EQ(route.scope, "admin");
    else EXPECT_EQ(route.scope, "detect");
    if (route.method == http::Verb::post) EXPECT_EQ(route.max_body_bytes, cfg_->server.max_upload_bytes);
    if (route.path.starts_with("/v2/")) EXPECT_EQ(route.error_style, http::ErrorStyle::kserve);
  }
}

// --- osprey detect -----------------------------------------------------------

TEST_F(DetectionApi, DetectCommand) {
  const std::string out = dir_ + "/annotated.png";
  std::ostringstream captured;
  auto* old = std::cout.rdbuf(captured.rdbuf());
  int rc = run_detect_command(shared_dir() + "/images/dog.jpg", "yolov8n-ts", out, *cfg_);
  std::cout.rdbuf(old);
  ASSERT_EQ(rc, 0);
  json b = json::parse(captured.str());
  EXPECT_EQ(b["model"], "yolov8n-ts");
  auto dog = find(b["detections"], "dog", xywh(131, 219, 177, 321));
  EXPECT_GT(dog.second, 0.9);
  auto img = vision::decode_image(read_file(out));
  EXPECT_EQ(img.format, "png");
  EXPECT_EQ(img.bgr.cols, 768);
  EXPECT_EQ(run_detect_command(dir_ + "/missing.jpg", "yolov8n-ts", "", *cfg_), 2);
  EXPECT_EQ(run_detect_command(shared_dir() + "/images/dog.jpg", "nope", "", *cfg_), 1);
  EXPECT_EQ(run_detect_command(shared_dir() + "/models/yolov8n-ts/coco.names", "yolov8n-ts", "", *cfg_), 1);
}

}  // namespace
}  // namespace osprey::api
