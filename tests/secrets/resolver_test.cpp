#include "secrets/resolver.hpp"

#include <gtest/gtest.h>

#include "common/log.hpp"
#include "secrets/sealed.hpp"
#include "test_env.hpp"

namespace osprey::secrets {
namespace {

using test::fake_env;
using test::write_file;

TEST(Resolver, EveryPlainSource) {
  auto dir = test::temp_dir();
  write_file(dir + "/k1", "sk-from-env-file\n");
  write_file(dir + "/k2", "sk-from-dotenv-file\r\n");
  auto dotenv = DotEnv::parse("FROM_DOTENV=sk-dotenv\nFROM_DOTENV_FILE_FILE=" + dir + "/k2\n");
  SecretResolver r(fake_env({{"FROM_ENV", "sk-env"}, {"FROM_ENV_FILE_FILE", dir + "/k1"}}), dotenv);
  EXPECT_EQ(r.resolve("FROM_ENV"), "sk-env");
  EXPECT_EQ(r.resolve("FROM_ENV_FILE"), "sk-from-env-file");  // trailing newline trimmed
  EXPECT_EQ(r.resolve("FROM_DOTENV"), "sk-dotenv");
  EXPECT_EQ(r.resolve("FROM_DOTENV_FILE"), "sk-from-dotenv-file");
  EXPECT_FALSE(r.resolve("NOWHERE"));
  EXPECT_EQ(r.lookup("FROM_ENV_FILE")->source, "environment FROM_ENV_FILE_FILE (" + dir + "/k1)");
}

TEST(Resolver, Precedence) {
  auto dir = test::temp_dir();
  write_file(dir + "/file", "from-file-value");
  auto dotenv = DotEnv::parse("K=from-dotenv-value\nK_FILE=" + dir + "/file\n");
  // Real environment wins over .env; NAME wins over NAME_FILE in each layer.
  EXPECT_EQ(SecretResolver(fake_env({{"K", "from-env-value"}, {"K_FILE", dir + "/file"}}), dotenv).resolve("K"), "from-env-value");
  EXPECT_EQ(SecretResolver(fake_env({{"K_FILE", dir + "/file"}}), dotenv).resolve("K"), "from-file-value");
  EXPECT_EQ(SecretResolver(fake_env({}), dotenv).resolve("K"), "from-dotenv-value");
  EXPECT_EQ(SecretResolver(fake_env({}), DotEnv::parse("K_FILE=" + dir + "/file\n")).resolve("K"), "from-file-value");
}

TEST(Resolver, MissingSecretFileIsAnErrorNamingTheSource) {
  SecretResolver r(fake_env({{"K_FILE", "/nonexistent/secret"}}), {});
  try {
    r.resolve("K");
    FAIL();
  } catch (const SecretError& e) {
    EXPECT_NE(std::string(e.what()).find("K_FILE"), std::string::npos);
  }
}

TEST(Resolver, SealedValuesWithMasterKeyFromEnvOrFile) {
  auto dir = test::temp_dir();
  std::string mk = MasterKey::generate();
  std::string sealed = seal("sk-sealed-secret", MasterKey::parse(mk));
  write_file(dir + "/master", mk + "\n");
  EXPECT_EQ(SecretResolver(fake_env({{"K", sealed}, {"OSPREY_MASTER_KEY", mk}}), {}).resolve("K"), "sk-sealed-secret");
  EXPECT_EQ(SecretResolver(fake_env({{"K", sealed}, {"OSPREY_MASTER_KEY_FILE", dir + "/master"}}), {}).resolve("K"), "sk-sealed-secret");
  // Sealed value in .env, master key in .env too.
  EXPECT_EQ(SecretResolver(fake_env({}), DotEnv::parse("K=" + sealed + "\nOSPREY_MASTER_KEY=" + mk + "\n")).resolve("K"), "sk-sealed-secret");
  // Explicit master key (the config's) overrides.
  SecretResolver r(fake_env({{"K", sealed}}), {});
  r.set_master_key(mk);
  EXPECT_EQ(r.resolve("K"), "sk-sealed-secret");
}

TEST(Resolver, SealedValueWithoutOrWithWrongMasterKeyFails) {
  std::string sealed = seal("sk-sealed-secret", MasterKey::parse(MasterKey::generate()));
  try {
    SecretResolver(fake_env({{"K", sealed}}), {}).resolve("K");
    FAIL();
  } catch (const SecretError& e) {
    EXPECT_NE(std::string(e.what()).find("OSPREY_MASTER_KEY"), std::string::npos) << e.what();
  }
  try {
    SecretResolver(fake_env({{"K", sealed}, {"OSPREY_MASTER_KEY", MasterKey::generate()}}), {}).resolve("K");
    FAIL();
  } catch (const SecretError& e) {
    EXPECT_NE(std::string(e.what()).find("wrong master key"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("sk-sealed"), std::string::npos);
  }
  EXPECT_THROW(SecretResolver(fake_env({{"K", sealed}, {"OSPREY_MASTER_KEY", sealed}}), {}).resolve("K"), SecretError);
}

TEST(Resolver, UpstreamKeyListsAndRotation) {
  auto mk = MasterKey::generate();
  auto key = MasterKey::parse(mk);
  std::string sealed = seal("sk-third-key-333", key);
  SecretResolver r(fake_env({{"OPENAI_API_KEY", " sk-first-key-111 , sk-second-key-222," + sealed + ","}, {"OSPREY_MASTER_KEY", mk}}), {});
  EXPECT_EQ(resolve_upstream_keys(r, {"sk-config-key-999"}),
            (std::vector<std::string>{"sk-first-key-111", "sk-second-key-222", "sk-third-key-333"}));
  // No environment: the config file's list (TOML array items, each may be a comma list or enc:).
  SecretResolver none(fake_env({{"OSPREY_MASTER_KEY", mk}}), {});
  EXPECT_EQ(resolve_upstream_keys(none, {"sk-config-a-1111", sealed + ",sk-config-b-2222"}),
            (std::vector<std::string>{"sk-config-a-1111", "sk-third-key-333", "sk-config-b-2222"}));
  EXPECT_TRUE(resolve_upstream_keys(none, {}).empty());
  // A mounted file with one key per line.
  auto dir = test::temp_dir();
  write_file(dir + "/keys", "sk-line-one-1111\nsk-line-two-2222\n");
  SecretResolver f(fake_env({{"OPENAI_API_KEY_FILE", dir + "/keys"}}), {});
  EXPECT_EQ(f.resolve_list("OPENAI_API_KEY"), (std::vector<std::string>{"sk-line-one-1111", "sk-line-two-2222"}));
}

TEST(Resolver, EveryResolvedSecretIsRegisteredForRedaction) {
  auto mk = MasterKey::generate();
  std::string sealed = seal("sk-registered-plain", MasterKey::parse(mk));
  SecretResolver r(fake_env({{"A", "osk-admin-registered"}, {"B", sealed}, {"OSPREY_MASTER_KEY", mk}}), {});
  r.resolve("A");
  r.resolve("B");
  auto text = log::redact("a=osk-admin-registered b=sk-registered-plain m=" + mk + " s=" + sealed);
  EXPECT_EQ(text.find("osk-admin-registered"), std::string::npos) << text;
  EXPECT_EQ(text.find("sk-registered-plain"), std::string::npos) << text;
  EXPECT_EQ(text.find(mk), std::string::npos) << text;
  EXPECT_EQ(text.find(sealed), std::string::npos) << text;
}

}  // namespace
}  // namespace osprey::secrets
