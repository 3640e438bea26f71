// Runs gateway scenarios with secrets loaded the way the server loads them
// (sealed key in a .env, master key from a file) and checks that no secret
// appears in any response body, SSE chunk or log line.

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include <sys/stat.h>

#include "common/log.hpp"
#include "gateway_fixture.hpp"
#include "secrets/resolver.hpp"
#include "secrets/sealed.hpp"

namespace osprey::gwtest {
namespace {

TEST_F(GatewayTest, NoSecretReachesLogsOrBodies) {
  const std::string log_file = dir + "/osprey.log";
  log::init("trace", log_file);

  const std::string upstream_key = "sk-leaktest-upstream-9f8e7d6c5b4a";
  const std::string master_text = secrets::MasterKey::generate();
  const auto master = secrets::MasterKey::parse(master_text);
  const std::string sealed = secrets::seal(upstream_key, master);
  std::ofstream(dir + "/master.key") << master_text << "\n";
  std::ofstream(dir + "/.env") << "OPENAI_API_KEY=" << sealed << "\nOSPREY_ADMIN_KEY='osk-admin-leaktest-123456'\n";
  ::chmod((dir + "/.env").c_str(), 0600);
  std::map<std::string, std::string> env = {{"OSPREY_MASTER_KEY_FILE", dir + "/master.key"}};
  secrets::SecretResolver resolver(
      [&](const std::string& n) -> std::optional<std::string> {
        auto it = env.find(n);
        if (it == env.end()) return std::nullopt;
        return it->second;
      },
      secrets::DotEnv::load(dir + "/.env"));
  cfg.api_keys = secrets::resolve_upstream_keys(resolver, {});
  ASSERT_EQ(cfg.api_keys, std::vector<std::string>{upstream_key});
  auto admin = resolver.resolve("OSPREY_ADMIN_KEY");
  ASSERT_EQ(admin, "osk-admin-leaktest-123456");
  const std::vector<std::string> secrets_used = {upstream_key, master_text, sealed, *admin};

  // A careless log line: the redacting logger must scrub it.
  spdlog::error("debug dump: key={} admin={} master={}", upstream_key, *admin, master_text);

  std::atomic<int> n{0};
  up->on([&](const RecordedRequest& r) -> Script {
    std::string key = r.header("authorization").substr(7);
    switch (n++ % 4) {
      case 0:  // echoes the key in an error
        return FakeUpstream::json(401, R"({"error":{"message":"Incorrect API key provided: )" + key + R"(","type":"invalid_request_error","code":"invalid_api_key"}})");
      case 1:  // echoes it in a success body
        return FakeUpstream::json(200, R"({"id":"x","object":"chat.completion","choices":[],"note":")" + key + R"(","usage":{"prompt_tokens":1,"completion_tokens":1}})");
      case 2:  // and in a stream
        return Script{{Action::send, FakeUpstream::sse_head() + FakeUpstream::chunk(sse(content_chunk("ok"))) +
                                         FakeUpstream::chunk("data: {\"error\":{\"message\":\"bad key " + key + "\"}}\n\n")},
                      {Action::reset}};
      default:
        return FakeUpstream::json(500, "internal error for key " + key);
    }
  });
  cfg.max_attempts = 1;
  std::string seen;
  {
    gateway::Gateway gw(cfg);
    seen += chat(gw, R"({"model":"m","messages":[]})").res.body();
    seen += chat(gw, R"({"model":"m","messages":[]})").res.body();
    FakeSink sink;
    chat(gw, R"({"model":"m","stream":true,"messages":[]})", &sink);
    seen += sink.all();
    for (const auto& f : sink.head) seen += std::string(f.name_string()) + std::string(f.value());
    seen += chat(gw, R"({"model":"m","messages":[]})").res.body();
    auto bad = cfg;
    bad.base_url = "https://127.0.0.1:1/v1";
    gateway::Gateway unreachable(bad);
    seen += chat(unreachable, R"({"model":"m","messages":[]})").res.body();
  }
  log::flush();
  std::stringstream logs;
  logs << std::ifstream(log_file).rdbuf();
  ASSERT_NE(logs.str().find("debug dump"), std::string::npos) << "nothing was logged: the check would be vacuous";
  EXPECT_EQ(up->requests().size(), 4u);
  for (const auto& s : secrets_used) {
    EXPECT_EQ(seen.find(s), std::string::npos) << "secret in a response: " << seen;
    EXPECT_EQ(logs.str().find(s), std::string::npos) << "secret in the log";
  }
  // The stream's mid-stream upstream error (which echoed the key) was relayed redacted or not at all.
  EXPECT_EQ(seen.find("sk-leaktest"), std::string::npos) << seen;
}

}  // namespace
}  // namespace osprey::gwtest
