// The real binary with two [[upstreams]] from a config file (fake TLS
// upstreams on 127.0.0.1): a key file re-read without a restart, fallback
// to the backup when the primary fails, the ledger naming the upstream,
// and see-and-ask (/v1/vision/describe) with a real detection model.

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/strings.hpp"
#include "fake_upstream.hpp"
#include "gateway_fixture.hpp"
#include "support.hpp"

namespace osprey::gwtest {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

const std::string kAdmin = "upstreams-e2e-admin-key-0123456789";

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::map<std::string, std::string> bearer() {
  return {{"Authorization", "Bearer " + kAdmin}, {"Content-Type", "application/json"}};
}

TEST(UpstreamsE2E, KeyFileFallbackLedgerAndDescribe) {
  auto dir = temp_dir();
  TestPki pki(dir);
  FakeUpstream primary(&pki), backup(&pki);
  std::atomic<bool> primary_fails{false};
  primary.on([&](const RecordedRequest&) {
    if (primary_fails) return FakeUpstream::json(503, R"({"error":{"message":"overloaded","type":"server_error"}})");
    return FakeUpstream::json(200, kCompletion);
  });
  std::mutex mu;
  std::string last_backup_body;
  backup.on([&](const RecordedRequest& r) {
    {
      std::lock_guard lock(mu);
      last_backup_body = r.body;
    }
    auto req = json::parse(r.body);
    if (req.value("stream", false)) {
      Script s{{Action::send, FakeUpstream::sse_head()}};
      s.push_back({Action::send, FakeUpstream::chunk(sse(content_chunk("A dog.")) + sse(usage_chunk(50, 3)) + sse("[DONE]"))});
      s.push_back({Action::send, FakeUpstream::last_chunk()});
      return s;
    }
    return FakeUpstream::json(200, R"({"id":"c2","object":"chat.completion","model":")" + req["model"].get<std::string>() +
                                       R"(","choices":[{"index":0,"message":{"role":"assistant","content":"I see a dog."}}],"usage":{"prompt_tokens":40,"completion_tokens":5}})");
  });

  const std::string key_file = dir + "/primary.key";
  write(key_file, "sk-primary-first-0123456789\n");
  const std::string config = dir + "/osprey.toml";
  write(config, "[gateway]\nkey_refresh_ms = 100\ncooldown_ms = 60000\nretry_base_ms = 1\nca_file = \"" + pki.ca_file +
                    "\"\n\n[[upstreams]]\nname = \"primary\"\nbase_url = \"" + primary.base_url() +
                    "\"\napi_key_file = \"" + key_file + "\"\nmodels = [\"gpt-*\"]\n\n[[upstreams]]\nname = \"backup\"\n"
                    "base_url = \"" + backup.base_url() + "\"\napi_key = \"sk-backup-0123456789\"\n"
                    "models = [\"gpt-*\", \"llama*\"]\npriority = 1\n");
  auto models = test::make_temp_dir("upstreams-models");
  fs::create_directory_symlink(test::shared_dir() + "/models/yolov8n-ts", models + "/yolov8n-ts");
  auto srv = test::OspreyProcess::start({"--config", config, "--models", models},
                                        {{"OSPREY_ADMIN_KEY", kAdmin}, {"OSPREY_ENV_FILE", "/nonexistent"}}, 120s);
  test::HttpClient http("127.0.0.1", srv->port());
  const std::string chat = R"({"model":"gpt-test","messages":[{"role":"user","content":"hi"}]})";

  auto r1 = http.post("/v1/chat/completions", chat, bearer());
  ASSERT_EQ(r1.status, 200) << r1.body << srv->log();
  EXPECT_EQ(r1.header("x-osprey-upstream"), "primary");
  ASSERT_EQ(primary.requests().size(), 1u);
  EXPECT_EQ(primary.requests()[0].header("authorization"), "Bearer sk-primary-first-0123456789");

  // The mounted secret is replaced: the next requests use the new key.
  write(key_file, "sk-primary-second-0123456789\n");
  std::this_thread::sleep_for(300ms);
  auto r2 = http.post("/v1/chat/completions", chat, bearer());
  ASSERT_EQ(r2.status, 200) << r2.body;
  EXPECT_EQ(primary.requests().back().header("authorization"), "Bearer sk-primary-second-0123456789");
  EXPECT_NE(srv->log().find("keys re-read"), std::string::npos);

  // The primary fails: the backup answers, and the ledger says so.
  primary_fails = true;
  auto r3 = http.post("/v1/chat/completions", chat, bearer());
  ASSERT_EQ(r3.status, 200) << r3.body;
  EXPECT_EQ(r3.header("x-osprey-upstream"), "backup");
  auto page = http.get("/metrics", bearer()).body;
  EXPECT_NE(page.find(R"(osprey_upstream_fallbacks_total{upstream="primary"} 1)"), std::string::npos);
  EXPECT_NE(page.find(R"(osprey_upstream_cooling{upstream="primary"} 1)"), std::string::npos);

  // See and ask: detections as context, the picture not sent to a text model.
  auto img = test::read_file(test::shared_dir() + "/images/dog.jpg");
  json ask = {{"image", str::base64_encode(img)}, {"question", "What animal is this?"}, {"model", "llama3"}};
  auto d = http.post("/v1/vision/describe", ask.dump(), bearer());
  ASSERT_EQ(d.status, 200) << d.body;
  auto dj = json::parse(d.body);
  EXPECT_EQ(dj["answer"], "I see a dog.");
  EXPECT_EQ(dj["upstream"], "backup");
  bool dog = false;
  for (const auto& det : dj["detections"]["detections"]) dog |= det["label"] == "dog";
  EXPECT_TRUE(dog) << d.body;
  std::string sent;
  {
    std::lock_guard lock(mu);
    sent = last_backup_body;
  }
  auto sent_json = json::parse(sent);
  EXPECT_NE(sent_json["messages"][0]["content"].get<std::string>().find("\"dog\""), std::string::npos) << sent;
  EXPECT_EQ(sent.find("image_url"), std::string::npos) << "llama3 is not a vision model";

  // A vision model gets the picture too; streamed, detections first.
  ask["model"] = "gpt-4o-mini";
  ask["stream"] = true;
  auto s = http.post("/v1/vision/describe", ask.dump(), bearer());
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(s.body.rfind("event: detections\ndata: ", 0), 0u) << s.body.substr(0, 200);
  EXPECT_NE(s.body.find("A dog."), std::string::npos);
  EXPECT_NE(s.body.find("data: [DONE]"), std::string::npos);
  {
    std::lock_guard lock(mu);
    sent = last_backup_body;
  }
  EXPECT_NE(sent.find("data:image/jpeg;base64,"), std::string::npos);

  // A key without the detect scope may not describe.
  auto chat_only = test::OspreyProcess::create_key(srv->data_dir(), {"--scopes", "chat"});
  auto denied = http.post("/v1/vision/describe", ask.dump(),
                          {{"Authorization", "Bearer " + chat_only}, {"Content-Type", "application/json"}});
  EXPECT_EQ(denied.status, 403) << denied.body;

  // The ledger: which upstream served each request; describe is one record
  // with the image and the tokens.
  json records;
  for (int i = 0; i < 50; ++i) {
    records = json::parse(http.get("/v1/usage?limit=20", bearer()).body)["data"];
    if (records.size() >= 5) break;
    std::this_thread::sleep_for(100ms);
  }
  std::map<std::string, int> by_upstream;
  bool describe_record = false;
  for (const auto& rec : records) {
    if (rec["upstream"].is_string()) ++by_upstream[rec["upstream"].get<std::string>()];
    if (rec["route"] == "/v1/vision/describe" && rec["status"] == 200 && rec["model"] == "llama3") {
      describe_record = true;
      EXPECT_EQ(rec["images"], 1);
      EXPECT_EQ(rec["prompt_tokens"], 40);
      EXPECT_EQ(rec["completion_tokens"], 5);
    }
  }
  EXPECT_EQ(by_upstream["primary"], 2) << records.dump();
  EXPECT_GE(by_upstream["backup"], 3) << records.dump();
  EXPECT_TRUE(describe_record) << records.dump();
  EXPECT_EQ(srv->log().find("sk-primary-second"), std::string::npos) << "a key in the log";
}

}  // namespace
}  // namespace osprey::gwtest
