// The native detection face (POST /v1/detect) end to end, in-process: a
// Request goes through http::Router::dispatch (routing, handler, error
// rendering) against a real ModelRegistry (see detection_api_fixture.hpp).
// The other faces on the same models: api_faces_test.cpp.

#include "detection_api_fixture.hpp"

namespace osprey::api::apitest {
namespace {

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
  expect(call(http::Verb::post, "/v1/detect?model=broken", dog, {jpeg}), 503, "model_unavailable");
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

}  // namespace
}  // namespace osprey::api::apitest
