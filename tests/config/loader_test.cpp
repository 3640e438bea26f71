#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>

#include "config/loader.hpp"

using namespace osprey::config;

namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST(Loader, DefaultsApplyWithNothingSet) {
  Loader l;
  l.set_environment({{"OSPREY_ENV_FILE", "/nonexistent/.env"}});
  auto c = l.resolve();
  EXPECT_EQ(c.server.host, "127.0.0.1");
  EXPECT_EQ(c.server.port, 8000);
  EXPECT_EQ(c.data_dir, "data");
  EXPECT_EQ(c.inference.models_dir, "models");
  EXPECT_EQ(c.gateway.base_url, "https://api.openai.com/v1");
}

TEST(Loader, PrecedenceIsDefaultsFileEnvDotenvFlags) {
  auto file = write_temp("prec.toml",
                         "[server]\nport = 9001\nhost = \"0.0.0.0\"\nthreads = 3\n"
                         "[inference]\nmodels_dir = \"/from/file\"\n"
                         "[prices.\"gpt-4o-mini\"]\ninput = 0.15\noutput = 0.6\n");
  auto env_file = write_temp("prec.env", "OSPREY_PORT=9003\nOSPREY_THREADS=5\nOSPREY_LOG_LEVEL=debug\n");
  Loader l;
  l.set_environment({{"OSPREY_CONFIG", file}, {"OSPREY_ENV_FILE", env_file}, {"OSPREY_PORT", "9002"}});
  l.set_flag("--host", "127.0.0.2");
  auto c = l.resolve();
  EXPECT_EQ(c.server.port, 9002);        // real env beats .env and file
  EXPECT_EQ(c.server.threads, 5);        // .env beats file
  EXPECT_EQ(c.server.host, "127.0.0.2"); // flag beats everything
  EXPECT_EQ(c.inference.models_dir, "/from/file");
  EXPECT_EQ(c.log_level, "debug");
  ASSERT_EQ(c.prices.count("gpt-4o-mini"), 1u);
  EXPECT_DOUBLE_EQ(c.prices.at("gpt-4o-mini").output_per_mtok, 0.6);
}

TEST(Loader, InvalidValuesNameTheKeyAndLayer) {
  auto file = write_temp("bad.toml", "[server]\nport = 70000\n");
  Loader l;
  l.set_environment({{"OSPREY_CONFIG", file}, {"OSPREY_ENV_FILE", "/nonexistent"}});
  try {
    l.resolve();
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("server.port"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("config file"), std::string::npos) << e.what();
  }
  Loader l2;
  l2.set_environment({{"OSPREY_PORT", "eighty"}, {"OSPREY_ENV_FILE", "/nonexistent"}});
  try {
    l2.resolve();
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("OSPREY_PORT"), std::string::npos) << e.what();
  }
}

TEST(Loader, UnknownKeysAndSyntaxErrorsAreRejected) {
  Loader l;
  l.set_environment({{"OSPREY_CONFIG", write_temp("unk.toml", "[server]\nprot = 1\n")}, {"OSPREY_ENV_FILE", "/x"}});
  EXPECT_THROW(l.resolve(), ConfigError);
  Loader l2;
  l2.set_environment({{"OSPREY_CONFIG", write_temp("syn.toml", "[server\nport = 1\n")}, {"OSPREY_ENV_FILE", "/x"}});
  try {
    l2.resolve();
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("line 1"), std::string::npos) << e.what();
  }
  Loader l3;
  l3.set_environment({{"OSPREY_CONFIG", "/definitely/missing.toml"}, {"OSPREY_ENV_FILE", "/x"}});
  EXPECT_THROW(l3.resolve(), ConfigError);
}

TEST(Loader, SecretsComeFromFileVariants) {
  auto secret = write_temp("key.txt", "sk-from-file-123456\n");
  Loader l;
  l.set_environment({{"OPENAI_API_KEY_FILE", secret}, {"OSPREY_ENV_FILE", "/x"}});
  auto c = l.resolve();
  ASSERT_EQ(c.gateway.api_keys.size(), 1u);
  EXPECT_EQ(c.gateway.api_keys[0], "sk-from-file-123456");
}

TEST(Loader, CommandLineFlagsThroughCli11) {
  CLI::App app;
  Loader l;
  l.set_environment({{"OSPREY_ENV_FILE", "/x"}});
  l.add_options(app);
  std::vector<std::string> args = {"--reload", "--port", "0", "--access-log=false", "--max-body-bytes", "2m"};
  std::reverse(args.begin(), args.end());
  app.parse(args);
  auto c = l.resolve();
  EXPECT_TRUE(c.reload);
  EXPECT_EQ(c.server.port, 0);
  EXPECT_FALSE(c.server.access_log);
  EXPECT_EQ(c.server.max_body_bytes, 2u * 1024 * 1024);
}

TEST(Loader, SizeAndBoolParsers) {
  EXPECT_EQ(parse_size("16k"), 16384u);
  EXPECT_EQ(parse_size("32MiB"), 32u << 20);
  EXPECT_THROW(parse_size("12q"), std::invalid_argument);
  EXPECT_THROW(parse_size("k"), std::invalid_argument);
  EXPECT_TRUE(parse_bool("Yes"));
  EXPECT_THROW(parse_bool("maybe"), std::invalid_argument);
}

TEST(Loader, UpstreamsAreReadAndChecked) {
  auto load = [](const std::string& name, const std::string& text) {
    Loader l;
    l.set_environment({{"OSPREY_CONFIG", write_temp(name, text)}, {"OSPREY_ENV_FILE", "/x"}});
    return l.resolve();
  };
  auto c = load("ups.toml",
                "[[upstreams]]\nname = \"openai\"\nbase_url = \"https://api.openai.com/v1\"\napi_key_env = \"OPENAI_API_KEY\"\n"
                "models = [\"gpt-*\", \"o4*\"]\n\n[[upstreams]]\nname = \"local\"\nbase_url = \"http://127.0.0.1:11434/v1\"\n"
                "models = \"llama*, qwen*\"\nweight = 3\npriority = 1\ntimeout_ms = 60000\nmax_attempts = 1\n");
  ASSERT_EQ(c.upstreams.size(), 2u);
  EXPECT_EQ(c.upstreams[0].name, "openai");
  EXPECT_EQ(c.upstreams[0].api_key_env, "OPENAI_API_KEY");
  EXPECT_EQ(c.upstreams[0].models, (std::vector<std::string>{"gpt-*", "o4*"}));
  EXPECT_EQ(c.upstreams[1].models, (std::vector<std::string>{"llama*", "qwen*"}));
  EXPECT_EQ(c.upstreams[1].weight, 3);
  EXPECT_EQ(c.upstreams[1].priority, 1);
  EXPECT_EQ(c.upstreams[1].timeout_ms, 60000);
  EXPECT_EQ(c.upstreams[1].max_attempts, 1);
  EXPECT_TRUE(c.upstreams[1].api_keys.empty() && c.upstreams[1].api_key_file.empty());

  auto message = [&](const std::string& name, const std::string& text) -> std::string {
    try {
      load(name, text);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "(accepted)";
  };
  const std::string ok = "base_url = \"http://127.0.0.1:1/v1\"\n";
  EXPECT_NE(message("u1.toml", "[[upstreams]]\n" + ok).find("name' is required"), std::string::npos);
  EXPECT_NE(message("u2.toml", "[[upstreams]]\nname = \"a\"\n").find("base_url' is required"), std::string::npos);
  EXPECT_NE(message("u3.toml", "[[upstreams]]\nname = \"a b\"\n" + ok).find("letters, digits"), std::string::npos);
  EXPECT_NE(message("u4.toml", "[[upstreams]]\nname = \"a\"\n" + ok + "[[upstreams]]\nname = \"a\"\n" + ok).find("two upstreams"),
            std::string::npos);
  EXPECT_NE(message("u5.toml", "[[upstreams]]\nname = \"a\"\n" + ok + "api_key = \"k\"\napi_key_file = \"/f\"\n").find("at most one"),
            std::string::npos);
  EXPECT_NE(message("u6.toml", "[[upstreams]]\nname = \"a\"\n" + ok + "weight = 0\n").find("upstreams[0].weight"), std::string::npos);
  EXPECT_NE(message("u7.toml", "[[upstreams]]\nname = \"a\"\n" + ok + "colour = 1\n").find("unknown setting 'upstreams[0].colour'"),
            std::string::npos);
  EXPECT_NE(message("u8.toml", "upstreams = 3\n").find("[[upstreams]]"), std::string::npos);
  EXPECT_NE(message("u9.toml", "[[upstreams]]\nname = \"a\"\n" + ok + "models = [1]\n").find("upstreams[0].models"), std::string::npos);
}
