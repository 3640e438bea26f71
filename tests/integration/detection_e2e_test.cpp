// Detection through the real binary over HTTP: every protocol face with
// real keys, bad input, the model resources, --reload of the model
// repository under traffic, `osprey detect`, and a detection in flight
// during shutdown.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support.hpp"

using namespace osprey::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kAdmin = "e2e-detect-admin-key-0123456789";

std::string model_repo(std::vector<std::string> models) {
  auto dir = make_temp_dir("e2e-models");
  for (const auto& m : models) fs::create_directory_symlink(shared_dir() + "/models/" + m, dir + "/" + m);
  return dir;
}

std::string multipart(const std::string& image, std::map<std::string, std::string> fields = {},
                      const std::string& boundary = "XyZe2eBoundary") {
  std::string body;
  for (const auto& [k, v] : fields)
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + k + "\"\r\n\r\n" + v + "\r\n";
  body += "--" + boundary +
          "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n" +
          image + "\r\n--" + boundary + "--\r\n";
  return body;
}

std::string new_key(const std::string& data_dir, const std::string& scopes) {
  auto key = OspreyProcess::create_key(data_dir, {"--scopes", scopes});
  EXPECT_FALSE(key.empty());
  return key;
}

bool has_label(const nlohmann::json& dets, const std::string& label, const char* field = "label") {
  for (const auto& d : dets)
    if (d[field] == label) return true;
  return false;
}

}  // namespace

// What a start-up script does: wait for the log's "ready", then check once,
// without retrying. Every check answers as documented at that moment.
TEST(DetectionE2E, ChecksRightAfterTheReadyLineAnswerAsDocumented) {
  auto data = make_temp_dir("e2e-data");
  auto key = new_key(data, "detect");
  auto srv = OspreyProcess::start({"--models", model_repo({"yolov8n-ts", "yolo-fastest-1.1"}), "--data-dir", data},
                                  {}, std::chrono::seconds(120), OspreyProcess::Wait::logged_ready);
  HttpClient c("127.0.0.1", srv->port());
  std::map<std::string, std::string> bearer = {{"Authorization", "Bearer " + key}};
  auto ready = c.get("/v2/health/ready");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(nlohmann::json::parse(ready.body)["status"], "ready");
  EXPECT_EQ(c.get("/healthz").status, 200);
  EXPECT_EQ(c.get("/v2/health/live").status, 200);
  EXPECT_EQ(c.get("/v2").status, 200);
  // The default model the log names is loaded and ready on every face.
  EXPECT_NE(srv->log().find("default model: yolov8n-ts"), std::string::npos) << srv->log();
  EXPECT_EQ(c.get("/v2/models/yolov8n-ts/ready", bearer).status, 200);
  auto models = c.get("/v1/detection/models", bearer);
  ASSERT_EQ(models.status, 200) << models.body;
  // (Named: a range-for over a member of a temporary reads freed memory.)
  const auto list = nlohmann::json::parse(models.body);
  for (const auto& m : list["data"]) EXPECT_EQ(m["state"], "available") << m.dump();
  auto metrics = c.get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(c.get("/openapi.json").status, 200);
  // And the first detection is served (no "still loading" answer).
  auto dog = read_file(shared_dir() + "/images/dog.jpg");
  auto det = c.post("/v1/detect", dog, {{"Authorization", "Bearer " + key}, {"Content-Type", "image/jpeg"}});
  EXPECT_EQ(det.status, 200) << det.body;
}

TEST(DetectionE2E, EveryProtocolFaceWithRealKeys) {
  auto data = make_temp_dir("e2e-data");
  auto detect_key = new_key(data, "detect");
  auto chat_key = new_key(data, "chat");
  auto srv = OspreyProcess::start({"--models", model_repo({"yolo-fastest-1.1-xl", "yolov8n-ts"}), "--data-dir", data});
  HttpClient c("127.0.0.1", srv->port());
  auto dog = read_file(shared_dir() + "/images/dog.jpg");
  {
    // With models the plugins are in: libtorch for yolov8n-ts, and the
    // codecs preloaded for PNG/BMP uploads.
    std::ifstream maps("/proc/" + std::to_string(srv->pid()) + "/maps");
    std::string all((std::istreambuf_iterator<char>(maps)), std::istreambuf_iterator<char>());
    EXPECT_NE(all.find("libosprey_torch.so"), std::string::npos);
    EXPECT_NE(all.find("libosprey_codecs.so"), std::string::npos);
  }
  std::map<std::string, std::string> auth = {{"Authorization", "Bearer " + detect_key},
                                             {"Content-Type", "multipart/form-data; boundary=XyZe2eBoundary"}};

  // Native: multipart.
  auto r = c.post("/v1/detect?model=yolov8n-ts", multipart(dog), auth);
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["model"], "yolov8n-ts");
  EXPECT_EQ(j["image"]["width"], 768);
  EXPECT_TRUE(has_label(j["detections"], "dog"));
  EXPECT_TRUE(has_label(j["detections"], "bicycle"));
  for (const auto& d : j["detections"]) {
    if (d["label"] != "dog") continue;  // README: dog 0.96 [131,219,177,321] (x,y,w,h)
    EXPECT_NEAR(d["box"]["x1"].get<double>(), 131, 4);
    EXPECT_NEAR(d["box"]["y2"].get<double>(), 219 + 321, 4);
  }
  for (auto* t : {"decode_ms", "preprocess_ms", "inference_ms", "postprocess_ms"}) EXPECT_TRUE(j["timings"].contains(t));
  EXPECT_FALSE(r.header("x-ratelimit-limit-requests").empty() && r.header("x-request-id").empty());

  // Native: raw image body and JSON base64, with options.
  auto raw = c.post("/v1/detect?model=yolo-fastest-1.1-xl&confidence=0.5", dog,
                    {{"X-API-Key", detect_key}, {"Content-Type", "image/jpeg"}});
  ASSERT_EQ(raw.status, 200) << raw.body;
  auto raw_json = nlohmann::json::parse(raw.body);  // named: a range-for over a temporary's member dangles
  for (const auto& d : raw_json["detections"]) EXPECT_GE(d["confidence"].get<double>(), 0.5);
  std::string b64;
  {
    static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::size_t i = 0;
    for (; i + 2 < dog.size(); i += 3) {
      unsigned v = (unsigned char)dog[i] << 16 | (unsigned char)dog[i + 1] << 8 | (unsigned char)dog[i + 2];
      b64 += {tbl[v >> 18 & 63], tbl[v >> 12 & 63], tbl[v >> 6 & 63], tbl[v & 63]};
    }
    if (i < dog.size()) {
      unsigned v = (unsigned char)dog[i] << 16 | (i + 1 < dog.size() ? (unsigned char)dog[i + 1] << 8 : 0);
      b64 += {tbl[v >> 18 & 63], tbl[v >> 12 & 63], i + 1 < dog.size() ? tbl[v >> 6 & 63] : '=', '='};
    }
  }
  auto js = c.post("/v1/detect", nlohmann::json({{"image", b64}, {"model", "yolov8n-ts"}, {"classes", {"dog"}}}).dump(),
                   {{"X-API-Key", detect_key}, {"Content-Type", "application/json"}});
  ASSERT_EQ(js.status, 200) << js.body;
  auto jd = nlohmann::json::parse(js.body)["detections"];
  ASSERT_EQ(jd.size(), 1u) << js.body;
  EXPECT_EQ(jd[0]["label"], "dog");

  // Annotated image.
  auto img = c.post("/v1/detect?model=yolov8n-ts&format=jpeg", multipart(dog), auth);
  ASSERT_EQ(img.status, 200);
  EXPECT_EQ(img.header("content-type"), "image/jpeg");
  ASSERT_GT(img.body.size(), 1000u);
  EXPECT_EQ((unsigned char)img.body[0], 0xFF);
  EXPECT_EQ((unsigned char)img.body[1], 0xD8);

  // DeepStack / CodeProject.AI face, key in the form field as those clients send it.
  auto ds = c.post("/v1/vision/detection", multipart(dog, {{"api_key", detect_key}, {"min_confidence", "0.5"}}),
                   {{"Content-Type", "multipart/form-data; boundary=XyZe2eBoundary"}});
  ASSERT_EQ(ds.status, 200) << ds.body;
  auto dj = nlohmann::json::parse(ds.body);
  EXPECT_EQ(dj["success"], true);
  EXPECT_TRUE(has_label(dj["predictions"], "dog"));
  for (const auto& p : dj["predictions"]) EXPECT_TRUE(p["x_min"].is_number_integer());

  // KServe v2: metadata, readiness, JSON tensor inference.
  std::map<std::string, std::string> kauth = {{"Authorization", "Bearer " + detect_key}};
  auto meta = c.get("/v2/models/yolo-fastest-1.1-xl", kauth);
  ASSERT_EQ(meta.status, 200) << meta.body;
  auto mj = nlohmann::json::parse(meta.body);
  EXPECT_EQ(mj["inputs"][0]["shape"], nlohmann::json({1, 3, 320, 320}));
  EXPECT_EQ(c.get("/v2/models/yolo-fastest-1.1-xl/ready", kauth).status, 200);
  nlohmann::json tensor = {{"inputs",
                            {{{"name", mj["inputs"][0]["name"]},
                              {"shape", {1, 3, 320, 320}},
                              {"datatype", "FP32"},
                              {"data", std::vector<float>(3 * 320 * 320, 0.5f)}}}}};
  auto inf = c.post("/v2/models/yolo-fastest-1.1-xl/infer", tensor.dump(),
                    {{"Authorization", "Bearer " + detect_key}, {"Content-Type", "application/json"}});
  ASSERT_EQ(inf.status, 200) << inf.body.substr(0, 300);
  auto ij = nlohmann::json::parse(inf.body);
  ASSERT_EQ(ij["outputs"].size(), 1u);
  EXPECT_EQ(ij["outputs"][0]["datatype"], "FP32");
  EXPECT_EQ(ij["outputs"][0]["data"].size(), 1500u * 85u);
  EXPECT_EQ(c.get("/v2/models/nope/ready", kauth).status, 404);

  // Models as resources.
  auto list = c.get("/v1/detection/models", kauth);
  ASSERT_EQ(list.status, 200);
  EXPECT_NE(list.body.find("yolov8n-ts"), std::string::npos);
  auto one = nlohmann::json::parse(c.get("/v1/detection/models/yolov8n-ts", kauth).body);
  EXPECT_EQ(one["state"], "available");
  EXPECT_EQ(one["engine"], "libtorch");

  // Auth: none -> 401, wrong scope -> 403, detect key may not manage models -> 403.
  EXPECT_EQ(c.post("/v1/detect", multipart(dog), {{"Content-Type", "multipart/form-data; boundary=XyZe2eBoundary"}}).status, 401);
  EXPECT_EQ(c.post("/v1/detect", multipart(dog),
                   {{"Authorization", "Bearer " + chat_key}, {"Content-Type", "multipart/form-data; boundary=XyZe2eBoundary"}})
                .status,
            403);
  EXPECT_EQ(c.request("DELETE", "/v1/detection/models/yolov8n-ts", {}, kauth).status, 403);

  // Hostile input: clear 4xx JSON, and the server keeps serving.
  for (const std::string& bad : {std::string(), std::string("not an image at all"), dog.substr(0, 2000)}) {
    auto br = c.post("/v1/detect?model=yolov8n-ts", bad, {{"X-API-Key", detect_key}, {"Content-Type", "image/jpeg"}});
    EXPECT_GE(br.status, 400) << br.body;
    EXPECT_LT(br.status, 500) << br.body;
    EXPECT_TRUE(nlohmann::json::parse(br.body)["error"].is_object());
  }
  EXPECT_EQ(c.get("/v2/health/ready").status, 200);

  // The keys used above (headers and DeepStack form fields) never reach the log.
  auto log_text = srv->log();
  EXPECT_EQ(log_text.find(detect_key), std::string::npos);
  EXPECT_EQ(log_text.find(chat_key), std::string::npos);
}

TEST(DetectionE2E, ReloadPicksUpModelFoldersUnderTraffic) {
  auto repo = model_repo({"yolo-fastest-1.1"});
  auto srv = OspreyProcess::start({"--models", repo, "--reload", "--auth", "false"});
  auto dog = read_file(shared_dir() + "/images/dog.jpg");
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, bad{0};
  std::thread load([&] {
    HttpClient lc("127.0.0.1", srv->port());
    while (!stop) {
      try {
        auto r = lc.post("/v1/detect?model=yolo-fastest-1.1", dog, {{"Content-Type", "image/jpeg"}});
        (r.status == 200 ? ok : bad)++;
      } catch (...) {
        bad++;
      }
    }
  });
  HttpClient c("127.0.0.1", srv->port());
  EXPECT_EQ(c.get("/v1/detection/models/yolox-nano").status, 404);
  fs::create_directory_symlink(shared_dir() + "/models/yolox-nano", repo + "/yolox-nano");
  bool loaded = false;
  for (int i = 0; i < 100 && !loaded; ++i) {
    std::this_thread::sleep_for(200ms);
    auto r = c.get("/v1/detection/models/yolox-nano");
    loaded = r.status == 200 && nlohmann::json::parse(r.body)["state"] == "available";
  }
  EXPECT_TRUE(loaded) << srv->log();
  auto r = c.post("/v1/detect?model=yolox-nano", dog, {{"Content-Type", "image/jpeg"}});
  EXPECT_EQ(r.status, 200) << r.body;
  fs::remove(repo + "/yolox-nano");
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::this_thread::sleep_for(200ms);
    gone = c.post("/v1/detect?model=yolox-nano", dog, {{"Content-Type", "image/jpeg"}}).status == 404;
  }
  EXPECT_TRUE(gone) << srv->log();
  stop = true;
  load.join();
  EXPECT_GT(ok.load(), 5);
  EXPECT_EQ(bad.load(), 0);
}

TEST(DetectionE2E, DetectionInFlightSurvivesShutdown) {
  auto srv = OspreyProcess::start({"--models", model_repo({"yolov8n-ts"}), "--auth", "false"});
  auto street = read_file(shared_dir() + "/images/street.jpg");
  RawConnection conn("127.0.0.1", srv->port());
  conn.send("POST /v1/detect?model=yolov8n-ts HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: " +
            std::to_string(street.size()) + "\r\n\r\n" + street);
  std::this_thread::sleep_for(20ms);
  srv->signal(SIGTERM);
  auto res = conn.read_responses(1, 20s);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].status, 200) << res[0].body;
  EXPECT_TRUE(has_label(nlohmann::json::parse(res[0].body)["detections"], "person"));
  auto code = srv->wait_exit(15s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
}

TEST(DetectionE2E, DetectCommandRunsThePipelineOffline) {
  auto repo = model_repo({"yolo-fastest-1.1-xl"});
  auto out = make_temp_dir("detect-cli") + "/annotated.jpg";
  auto [rc, text] = OspreyProcess::run(
      {"detect", shared_dir() + "/images/dog.jpg", "--models", repo, "--model", "yolo-fastest-1.1-xl", "--out", out});
  ASSERT_EQ(rc, 0) << text;
  EXPECT_NE(text.find("\"dog\""), std::string::npos) << text;
  EXPECT_GT(fs::file_size(out), 1000u);
  auto [rc2, text2] = OspreyProcess::run({"detect", "/nonexistent.jpg", "--models", repo});
  EXPECT_NE(rc2, 0);
}
