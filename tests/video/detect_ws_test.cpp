// GET /v1/detect/ws through the real binary, with Beast's WebSocket client:
// frames in, one JSON answer per processed frame, stable track ids,
// backpressure (dropped frames listed, the newest always answered), bad
// frames answered without closing, the ipm limit per frame, auth, and a
// plain GET refused with 426.

#include <utility>  // before Asio (g++ 12)

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <filesystem>
#include <set>
#include <sstream>
#include <chrono>
#include <thread>

#include "support.hpp"

using namespace osprey::test;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

const std::string kAdmin = "ws-e2e-admin-key-0123456789abcdef";

class WsClient {
 public:
  // protocols: a Sec-WebSocket-Protocol offer, as a browser would send it.
  WsClient(int port, const std::string& target, const std::string& key, const std::string& protocols = "")
      : ws_(io_) {
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
    beast::get_lowest_layer(ws_).connect(ep);
    ws_.set_option(websocket::stream_base::decorator([key, protocols](websocket::request_type& req) {
      if (!key.empty()) req.set(beast::http::field::authorization, "Bearer " + key);
      if (!protocols.empty()) req.set(beast::http::field::sec_websocket_protocol, protocols);
    }));
    ws_.handshake(res_, "127.0.0.1", target);
  }
  void send_binary(const std::string& bytes) {
    ws_.binary(true);
    ws_.write(asio::buffer(bytes));
  }
  void send_text(const std::string& text) {
    ws_.text(true);
    ws_.write(asio::buffer(text));
  }
  json read() {
    beast::flat_buffer b;
    ws_.read(b);
    return json::parse(beast::buffers_to_string(b.data()));
  }
  void close() { ws_.close(websocket::close_code::normal); }
  const websocket::response_type& response() const { return res_; }

 private:
  asio::io_context io_;
  websocket::stream<asio::ip::tcp::socket> ws_;
  websocket::response_type res_;
};

class DetectWs : public ::testing::Test {
 protected:
  void SetUp() override {
    auto models = make_temp_dir("ws-models");
    fs::create_directory_symlink(shared_dir() + "/models/yolov8n-ts", models + "/yolov8n-ts");
    data_ = make_temp_dir("ws-data");
    srv_ = OspreyProcess::start({"--models", models, "--data-dir", data_}, {{"OSPREY_ADMIN_KEY", kAdmin}}, 120s);
    dog_ = read_file(shared_dir() + "/images/dog.jpg");
  }
  std::string data_, dog_;
  std::unique_ptr<OspreyProcess> srv_;
};

TEST_F(DetectWs, FramesInDetectionsWithTrackIdsOut) {
  WsClient ws(srv_->port(), "/v1/detect/ws?model=yolov8n-ts&classes=dog", kAdmin);
  std::set<int> ids;
  for (int i = 0; i < 3; ++i) {
    ws.send_binary(dog_);
    auto a = ws.read();
    ASSERT_FALSE(a.contains("error")) << a.dump();
    EXPECT_EQ(a["frame"], i);
    EXPECT_EQ(a["model"], "yolov8n-ts");
    EXPECT_EQ(a["image"]["width"], 768);
    EXPECT_TRUE(a["dropped"].empty());
    ASSERT_EQ(a["detections"].size(), 1u) << a.dump();
    EXPECT_EQ(a["detections"][0]["label"], "dog");
    ids.insert(a["detections"][0]["track_id"].get<int>());
    EXPECT_GT(a["timings"]["latency_ms"].get<double>(), 0.0);
  }
  EXPECT_EQ(ids.size(), 1u);
  ws.close();
}

TEST_F(DetectWs, FramesSentFasterThanTheModelAreDroppedNewestAnswered) {
  WsClient ws(srv_->port(), "/v1/detect/ws", kAdmin);
  const int n = 12;
  for (int i = 0; i < n; ++i) ws.send_binary(dog_);
  std::set<std::int64_t> seen;
  std::int64_t last = -1;
  int answers = 0;
  while (last != n - 1) {
    auto a = ws.read();
    ++answers;
    ASSERT_FALSE(a.contains("error")) << a.dump();
    EXPECT_GT(a["frame"].get<std::int64_t>(), last);
    last = a["frame"];
    EXPECT_TRUE(seen.insert(last).second);
    for (const auto& d : a["dropped"]) EXPECT_TRUE(seen.insert(d.get<std::int64_t>()).second) << d;
  }
  // Every frame is accounted for once: answered or listed as dropped.
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(n));
  EXPECT_LT(answers, n) << "nothing was dropped: the test did not outrun the model";
  ws.close();
}

TEST_F(DetectWs, BadFramesGetErrorsAndTheConnectionLives) {
  WsClient ws(srv_->port(), "/v1/detect/ws", kAdmin);
  ws.send_binary("definitely not an image");
  auto a = ws.read();
  EXPECT_EQ(a["frame"], 0);
  ASSERT_TRUE(a.contains("error")) << a.dump();
  EXPECT_EQ(a["error"]["status"], 415);
  ws.send_binary(dog_.substr(0, dog_.size() / 3));  // truncated JPEG
  a = ws.read();
  EXPECT_EQ(a["frame"], 1);
  EXPECT_EQ(a["error"]["status"], 400) << a.dump();
  ws.send_text("hello");
  a = ws.read();
  EXPECT_EQ(a["error"]["code"], "binary_expected");
  ws.send_binary(dog_);
  a = ws.read();
  EXPECT_EQ(a["frame"], 3);
  EXPECT_FALSE(a.contains("error")) << a.dump();
  ws.close();
}

TEST_F(DetectWs, AuthLimitsAndPlainRequests) {
  HttpClient c("127.0.0.1", srv_->port());
  // No key, a chat-only key, an unknown model: refused before the upgrade.
  EXPECT_THROW(WsClient(srv_->port(), "/v1/detect/ws", ""), boost::system::system_error);
  auto chat = OspreyProcess::create_key(data_, {"--scopes", "chat"});
  EXPECT_THROW(WsClient(srv_->port(), "/v1/detect/ws", chat), boost::system::system_error);
  EXPECT_THROW(WsClient(srv_->port(), "/v1/detect/ws?model=nope", kAdmin), boost::system::system_error);
  // A browser's way: the key as a subprotocol; the handshake names "osprey.v1".
  {
    WsClient browser(srv_->port(), "/v1/detect/ws", "", "osprey.v1, osprey.key." + kAdmin);
    EXPECT_EQ(browser.response()[beast::http::field::sec_websocket_protocol], "osprey.v1");
    browser.send_binary(dog_);
    EXPECT_FALSE(browser.read().contains("error"));
    browser.close();
  }
  EXPECT_THROW(WsClient(srv_->port(), "/v1/detect/ws", "", "osprey.v1, osprey.key.osk_wrong"),
               boost::system::system_error);
  // A plain GET: 426 Upgrade Required.
  auto r = c.get("/v1/detect/ws", {{"Authorization", "Bearer " + kAdmin}});
  EXPECT_EQ(r.status, 426) << r.body;
  EXPECT_EQ(r.header("Upgrade"), "websocket");

  // ipm=2: the third frame in a minute gets a 429 answer with retry_after.
  // Limits count per UTC minute: the three frames (slow under ASan) must not
  // straddle a minute's end, or the third one is in a fresh minute.
  {
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() % 60;
    if (secs > 35) std::this_thread::sleep_for(std::chrono::seconds(61 - secs));
  }
  auto limited = OspreyProcess::create_key(data_, {"--scopes", "detect", "--ipm", "2"});
  WsClient ws(srv_->port(), "/v1/detect/ws", limited);
  int ok = 0, throttled = 0;
  for (int i = 0; i < 3; ++i) {
    ws.send_binary(dog_);
    auto a = ws.read();
    if (a.contains("error")) {
      EXPECT_EQ(a["error"]["status"], 429) << a.dump();
      EXPECT_GE(a["error"]["retry_after"].get<int>(), 1);
      ++throttled;
    } else {
      ++ok;
    }
  }
  EXPECT_LE(ok, 2);
  EXPECT_GE(throttled, 1);
  ws.close();
  // The connection's frames are in the ledger, under the key (the key's
  // own view of the ledger).
  std::this_thread::sleep_for(300ms);
  auto usage = nlohmann::json::parse(c.get("/v1/usage?limit=100", {{"Authorization", "Bearer " + limited}}).body);
  int images = 0;
  for (const auto& rec : usage["data"])
    if (rec["route"] == "/v1/detect/ws" && rec["method"] == "WS") images += rec["images"].get<int>();
  EXPECT_EQ(images, ok) << usage.dump();
}

}  // namespace
