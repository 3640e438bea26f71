// The other faces of the same models, in-process like api_detection_test:
// DeepStack / CodeProject.AI, KServe v2, models as resources, and the
// offline `osprey detect` command.

#include "detection_api_fixture.hpp"

namespace osprey::api::apitest {
namespace {

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
  r = call(http::Verb::get, "/v2/models/broken/ready");
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
  r = call(http::Verb::post, "/v2/models/broken/infer", "{}", {ct});
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
  EXPECT_EQ(names, (std::vector<std::string>{"broken", "yolo-fastest-1.1-xl", "yolov8n-ts"}));

  r = call(http::Verb::get, "/v1/detection/models/yolov8n-ts");
  ASSERT_EQ(r.status(), 200);
  json m = r.body();
  EXPECT_EQ(m["state"], "available");
  EXPECT_EQ(m["format"], "torchscript");
  EXPECT_EQ(m["input_width"], 640);
  EXPECT_EQ(m["classes"].size(), 80u);
  EXPECT_GT(m["load_ms"].get<double>(), 0);
  // How its forwards use the cores, with the forward times that chose it.
  EXPECT_GE(m["thread_plan"]["instances"].get<int>(), 1) << m.dump();
  EXPECT_GE(m["thread_plan"]["threads_alone"].get<int>(), m["thread_plan"]["threads_min"].get<int>());
  EXPECT_FALSE(m["thread_plan"]["forward_ms"].empty());
  EXPECT_TRUE(m["precision"] == "fp32" || m["precision"] == "bf16");
  EXPECT_TRUE(m["rewrites"].is_array());
  r = call(http::Verb::get, "/v1/detection/models/broken");
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
  r = call(http::Verb::put, "/v1/detection/models/broken");
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
    if (route.method == http::Verb::post) {
      EXPECT_EQ(route.max_body_bytes, cfg_->server.max_upload_bytes);
    }
    if (route.path.starts_with("/v2/")) {
      EXPECT_EQ(route.error_style, http::ErrorStyle::kserve);
    }
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
}  // namespace osprey::api::apitest
