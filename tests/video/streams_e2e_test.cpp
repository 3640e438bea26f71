// Server-side video streams through the real binary: a local file and an
// HTTP MJPEG camera (ffmpeg), events over SSE with stable track ids, the
// MJPEG view, DELETE, a killed source reconnecting, bad sources refused,
// the images-per-minute limit, the ledger and /metrics.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <ctime>
#include <thread>

#include "support.hpp"
#include "video_test_util.hpp"

using namespace osprey::test;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kAdmin = "video-e2e-admin-key-0123456789abc";

std::string model_repo() {
  auto dir = make_temp_dir("video-models");
  fs::create_directory_symlink(shared_dir() + "/models/yolov8n-ts", dir + "/yolov8n-ts");
  return dir;
}

std::map<std::string, std::string> bearer(const std::string& k) {
  return {{"Authorization", "Bearer " + k}, {"Content-Type", "application/json"}};
}

// Reads Server-Sent Events from GET `target` on a raw connection.
class SseReader {
 public:
  SseReader(int port, const std::string& target, const std::string& key) : conn_("127.0.0.1", port) {
    conn_.send("GET " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\n\r\n");
    auto head = conn_.take_until("\r\n\r\n", 10s);
    status_line = head ? head->substr(0, head->find("\r\n")) : "";
  }
  // The next event's (type, data); type "" for plain data events.
  std::optional<std::pair<std::string, json>> next(std::chrono::milliseconds timeout) {
    for (;;) {
      auto block = conn_.take_until("\n\n", timeout);
      if (!block) return std::nullopt;
      std::string type;
      if (auto e = block->find("event: "); e != std::string::npos) type = block->substr(e + 7, block->find('\n', e) - e - 7);
      auto d = block->find("data: ");
      if (d == std::string::npos) continue;  // a comment (keep-alive) or retry line
      auto end = block->find('\n', d);
      return std::make_pair(type, json::parse(block->substr(d + 6, end - d - 6)));
    }
  }
  RawConnection& conn() { return conn_; }
  std::string status_line;

 private:
  RawConnection conn_;
};

json wait_for_state(HttpClient& c, const std::string& id, const std::string& key, const std::string& state,
                    std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  json j;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = c.get("/v1/streams/" + id, bearer(key));
    if (r.status == 200) {
      j = json::parse(r.body);
      if (j["state"] == state) return j;
    }
    std::this_thread::sleep_for(200ms);
  }
  ADD_FAILURE() << "stream " << id << " never reached " << state << ": " << j.dump();
  return j;
}

class StreamsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_ffmpeg()) GTEST_SKIP() << "ffmpeg not installed";
    videos_ = make_temp_dir("video-files");
    outside_ = make_temp_dir("video-outside");
    data_ = make_temp_dir("video-data");
    srv_ = OspreyProcess::start({"--models", model_repo(), "--data-dir", data_, "--video-dirs", videos_,
                                 "--video-open-timeout-ms", "3000", "--video-read-timeout-ms", "1500",
                                 "--max-streams", "3"},
                                {{"OSPREY_ADMIN_KEY", kAdmin}}, 120s);
  }
  std::string videos_, outside_, data_;
  std::unique_ptr<OspreyProcess> srv_;
};

TEST_F(StreamsE2E, FileStreamTracksTheDogOverSseAndShowsMjpeg) {
  auto video = make_video(videos_, "dog.avi", "dog.jpg", 4, 10);
  HttpClient c("127.0.0.1", srv_->port());
  c.set_timeout(30s);
  auto created = c.post("/v1/streams", json{{"source", video}, {"fps", 4}, {"loop", true}, {"classes", "dog"},
                                            {"lines", json::array({json{{"name", "mid"}, {"points", {{320, 0}, {320, 480}}}}})}}
                                           .dump(),
                        bearer(kAdmin));
  ASSERT_EQ(created.status, 201) << created.body;
  auto s = json::parse(created.body);
  std::string id = s["id"];
  EXPECT_EQ(created.header("Location"), "/v1/streams/" + id);
  EXPECT_EQ(s["model"], "yolov8n-ts");
  EXPECT_EQ(s["video"]["width"], 640);

  SseReader sse(srv_->port(), "/v1/streams/" + id + "/events", kAdmin);
  EXPECT_NE(sse.status_line.find("200"), std::string::npos) << sse.status_line;
  auto first = sse.next(10s);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->first, "stream");
  EXPECT_EQ(first->second["id"], id);

  // The dog is found in every frame, under one track id, in frames whose
  // index grows.
  std::set<int> track_ids;
  std::int64_t last_frame = -1;
  int with_dog = 0;
  for (int i = 0; i < 6; ++i) {
    auto ev = sse.next(60s);
    ASSERT_TRUE(ev) << "no event " << i;
    const auto& e = ev->second;
    EXPECT_EQ(e["stream"], id);
    EXPECT_GT(e["frame"].get<std::int64_t>(), last_frame);
    last_frame = e["frame"];
    EXPECT_GT(e["timings"]["latency_ms"].get<double>(), 0.0);
    EXPECT_TRUE(e.contains("counts")) << e.dump();
    for (const auto& d : e["detections"]) {
      EXPECT_EQ(d["label"], "dog");  // classes=dog
      track_ids.insert(d["track_id"].get<int>());
      ++with_dog;
    }
  }
  EXPECT_GE(with_dog, 6);
  EXPECT_EQ(track_ids.size(), 1u) << "the dog changed track id";

  // The annotated view: a multipart part with a JPEG in it.
  RawConnection mj("127.0.0.1", srv_->port());
  mj.send("GET /v1/streams/" + id + "/mjpeg HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kAdmin + "\r\n\r\n");
  auto head = mj.take_until("\r\n\r\n", 10s);
  ASSERT_TRUE(head);
  EXPECT_NE(head->find("multipart/x-mixed-replace; boundary=osprey-frame"), std::string::npos) << *head;
  auto part = mj.take_until("Content-Length: ", 60s);
  ASSERT_TRUE(part);
  auto len_line = mj.take_until("\r\n\r\n", 5s);
  ASSERT_TRUE(len_line);
  auto jpeg = mj.take(std::stoul(*len_line), 10s);
  ASSERT_TRUE(jpeg);
  EXPECT_EQ(static_cast<unsigned char>((*jpeg)[0]), 0xFF);
  EXPECT_EQ(static_cast<unsigned char>((*jpeg)[1]), 0xD8);

  auto got = json::parse(c.get("/v1/streams/" + id, bearer(kAdmin)).body);
  EXPECT_EQ(got["state"], "running");
  EXPECT_GT(got["frames"]["processed"].get<int>(), 0);
  EXPECT_GT(got["frames"]["received"].get<int>(), got["frames"]["processed"].get<int>());
  EXPECT_LE(got["fps"]["processed"].get<double>(), 6.0);  // fps=4 holds
  EXPECT_EQ(got["subscribers"]["events"], 1);

  auto list = json::parse(c.get("/v1/streams", bearer(kAdmin)).body);
  ASSERT_EQ(list["data"].size(), 1u);

  auto metrics = c.get("/metrics").body;
  EXPECT_NE(metrics.find("osprey_stream_frames_total{stream=\"" + id + "\",model=\"yolov8n-ts\",outcome=\"processed\"}"),
            std::string::npos);
  EXPECT_NE(metrics.find("osprey_stream_latency_seconds_bucket{stream=\"" + id), std::string::npos);

  // DELETE stops it: the event stream ends, the stream is gone, its
  // series with it, and the ledger has its minutes.
  auto del = c.request("DELETE", "/v1/streams/" + id, "", bearer(kAdmin));
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(json::parse(del.body)["deleted"], true);
  bool ended = false;
  for (int i = 0; i < 50 && !ended; ++i) {
    auto ev = sse.next(10s);
    if (!ev) break;
    ended = ev->first == "end";
  }
  EXPECT_TRUE(ended);
  EXPECT_EQ(c.get("/v1/streams/" + id, bearer(kAdmin)).status, 404);
  EXPECT_EQ(c.get("/metrics").body.find("stream=\"" + id), std::string::npos);
  auto usage = json::parse(c.get("/v1/usage?limit=100", bearer(kAdmin)).body);
  int stream_images = 0;
  for (const auto& r : usage["data"])
    if (r["route"] == "/v1/streams/{id}" && r["method"] == "STREAM") stream_images += r["images"].get<int>();
  EXPECT_GT(stream_images, 0) << usage.dump();
}

// Two frames in detection at once (one per inference worker): the events
// still come in frame order and the tracker still sees one dog.
TEST_F(StreamsE2E, TwoFramesInFlightArePublishedInOrder) {
  auto video = make_video(videos_, "pair.avi", "dog.jpg", 4, 10);
  HttpClient c("127.0.0.1", srv_->port());
  c.set_timeout(30s);
  auto created =
      c.post("/v1/streams", json{{"source", video}, {"loop", true}, {"classes", "dog"}, {"in_flight", 2}}.dump(),
             bearer(kAdmin));
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = json::parse(created.body)["id"];
  SseReader sse(srv_->port(), "/v1/streams/" + id + "/events", kAdmin);
  auto first = sse.next(10s);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->first, "stream");
  std::set<int> track_ids;
  std::int64_t last_frame = -1;
  int with_dog = 0;
  for (int i = 0; i < 10; ++i) {
    auto ev = sse.next(60s);
    ASSERT_TRUE(ev) << "no event " << i;
    const auto& e = ev->second;
    EXPECT_GT(e["frame"].get<std::int64_t>(), last_frame) << "events went back in time";
    last_frame = e["frame"];
    for (const auto& d : e["detections"]) {
      track_ids.insert(d["track_id"].get<int>());
      ++with_dog;
    }
  }
  EXPECT_GE(with_dog, 9);
  EXPECT_EQ(track_ids.size(), 1u) << "the dog changed track id";
  auto got = json::parse(c.get("/v1/streams/" + id, bearer(kAdmin)).body);
  EXPECT_EQ(got["in_flight"], 2);
  EXPECT_GE(got["frames"]["processed"].get<int>(), 10);
  EXPECT_EQ(c.request("DELETE", "/v1/streams/" + id, "", bearer(kAdmin)).status, 200);
  // The outputs end when the stream is deleted: every processing thread left.
  bool ended = false;
  for (int i = 0; i < 50 && !ended; ++i) {
    auto ev = sse.next(30s);
    if (!ev) break;
    ended = ev->first == "end";
  }
  EXPECT_TRUE(ended);
}

TEST_F(StreamsE2E, BadSourcesAreRefusedWithClearErrors) {
  HttpClient c("127.0.0.1", srv_->port());
  c.set_timeout(30s);
  auto post = [&](json body) { return c.post("/v1/streams", body.dump(), bearer(kAdmin)); };
  auto code = [](const HttpResponse& r) { return json::parse(r.body)["error"]["code"].get<std::string>(); };

  // A file outside the allowed folders, also through "..", and a link out.
  auto outside = make_video(outside_, "x.avi", "dog.jpg", 1, 5);
  auto r = post({{"source", outside}});
  EXPECT_EQ(r.status, 403) << r.body;
  r = post({{"source", videos_ + "/../" + fs::path(outside_).filename().string() + "/x.avi"}});
  EXPECT_EQ(r.status, 403) << r.body;
  fs::create_symlink(outside, videos_ + "/link.avi");
  r = post({{"source", videos_ + "/link.avi"}});
  EXPECT_EQ(r.status, 403) << r.body;
  // Missing, not a video, truncated garbage.
  r = post({{"source", videos_ + "/missing.avi"}});
  EXPECT_EQ(r.status, 404) << r.body;
  {
    std::ofstream(videos_ + "/text.mp4") << "this is not a video at all\n";
  }
  r = post({{"source", videos_ + "/text.mp4"}});
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(code(r), "source_invalid") << r.body;
  // Unreachable and silent network sources, unknown schemes, bad fields.
  r = post({{"source", "http://127.0.0.1:1/cam"}});
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(code(r), "source_unreachable") << r.body;
  r = post({{"source", "rtsp://127.0.0.1:1/cam"}});
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(post({{"source", "ftp://127.0.0.1/x"}}).status, 400);
  EXPECT_EQ(post({{"source", "concat:/etc/passwd"}}).status, 403);  // a path, outside the folders
  EXPECT_EQ(post({{"source", 42}}).status, 400);
  EXPECT_EQ(post({{"sorce", "x"}}).status, 400);
  EXPECT_EQ(post({{"source", "http://127.0.0.1:1/"}, {"fps", -1}}).status, 400);
  EXPECT_EQ(post({{"source", "http://127.0.0.1:1/"}, {"model", "nope"}}).status, 404);
  EXPECT_EQ(post({{"source", "http://127.0.0.1:1/"}, {"lines", "x"}}).status, 400);
  for (json bad : {json(0), json(5), json(1.5), json("2")})
    EXPECT_EQ(post({{"source", "http://127.0.0.1:1/"}, {"in_flight", bad}}).status, 400) << bad;
  EXPECT_EQ(c.post("/v1/streams", "{not json", bearer(kAdmin)).status, 400);
  // Nothing was left behind, and the server is fine.
  EXPECT_EQ(json::parse(c.get("/v1/streams", bearer(kAdmin)).body)["data"].size(), 0u);
  EXPECT_EQ(c.get("/healthz").status, 200);
  // Without a key: 401; a chat-only key: 403.
  EXPECT_EQ(c.post("/v1/streams", "{}", {{"Content-Type", "application/json"}}).status, 401);
}

TEST_F(StreamsE2E, AKilledCameraReconnectsAndOwnersAreSeparate) {
  auto video = make_video(videos_, "cam.avi", "dog.jpg", 2, 10);
  int port = free_port();
  FfmpegServer cam(video, port);
  auto user = OspreyProcess::create_key(data_, {"--scopes", "detect"});
  auto other = OspreyProcess::create_key(data_, {"--scopes", "detect"});
  HttpClient c("127.0.0.1", srv_->port());
  c.set_timeout(30s);
  auto created = c.post("/v1/streams", json{{"source", cam.url()}, {"fps", 2}}.dump(), bearer(user));
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = json::parse(created.body)["id"];
  // Another client key cannot see or stop it; an admin can.
  EXPECT_EQ(c.get("/v1/streams/" + id, bearer(other)).status, 404);
  EXPECT_EQ(c.request("DELETE", "/v1/streams/" + id, "", bearer(other)).status, 404);
  EXPECT_EQ(json::parse(c.get("/v1/streams", bearer(other)).body)["data"].size(), 0u);
  EXPECT_EQ(c.get("/v1/streams/" + id, bearer(kAdmin)).status, 200);

  auto before = wait_for_state(c, id, user, "running", 30s);
  cam.kill();
  auto down = wait_for_state(c, id, user, "reconnecting", 30s);
  EXPECT_FALSE(down["last_error"].is_null()) << down.dump();
  cam.relaunch(video);
  // Back up: running again, frames flowing, the reconnect counted.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  json j;
  while (std::chrono::steady_clock::now() < deadline) {
    j = json::parse(c.get("/v1/streams/" + id, bearer(user)).body);
    if (j["state"] == "running" && j["frames"]["processed"] > down["frames"]["processed"]) break;
    std::this_thread::sleep_for(300ms);
  }
  EXPECT_EQ(j["state"], "running") << j.dump();
  EXPECT_GT(j["frames"]["processed"].get<int>(), down["frames"]["processed"].get<int>()) << j.dump();
  EXPECT_GE(j["reconnects"].get<int>(), 1);
  // DELETE stops the reader: its connection to the camera goes away.
  for (int i = 0; i < 100 && !connected_to(port); ++i) std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(connected_to(port)) << c.get("/v1/streams/" + id, bearer(user)).body;
  EXPECT_EQ(c.request("DELETE", "/v1/streams/" + id, "", bearer(user)).status, 200);
  auto until = std::chrono::steady_clock::now() + 10s;
  while (connected_to(port) && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(connected_to(port)) << "the stream still holds the camera after DELETE";
}

TEST_F(StreamsE2E, ImagesPerMinuteLimitThrottlesAStream) {
  auto video = make_video(videos_, "lim.avi", "dog.jpg", 2, 10);
  auto key = OspreyProcess::create_key(data_, {"--scopes", "detect", "--ipm", "3"});
  HttpClient c("127.0.0.1", srv_->port());
  c.set_timeout(30s);
  auto created = c.post("/v1/streams", json{{"source", video}, {"loop", true}}.dump(), bearer(key));
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = json::parse(created.body)["id"];
  auto minute = [] { return std::time(nullptr) / 60; };
  auto j = wait_for_state(c, id, key, "throttled", 60s);
  const auto m0 = minute();
  EXPECT_GT(j["frames"]["throttled"].get<int>(), 0);
  // Within one minute at most 3 frames are processed (6 if a minute turned).
  EXPECT_LE(j["frames"]["processed"].get<int>(), 6) << j.dump();
  // The key's uploads are held to the same limit (unless the minute just
  // turned), while reading the stream is not refused.
  auto img = read_file(shared_dir() + "/images/dog.jpg");
  auto r = c.post("/v1/detect", img, {{"Authorization", "Bearer " + key}, {"Content-Type", "image/jpeg"}});
  if (minute() == m0) EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(c.get("/v1/streams/" + id, bearer(key)).status, 200);
  EXPECT_EQ(c.request("DELETE", "/v1/streams/" + id, "", bearer(key)).status, 200);
}

}  // namespace
