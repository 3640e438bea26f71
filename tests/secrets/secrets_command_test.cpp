#include "api/secrets_command.hpp"

#include <sstream>

#include <gtest/gtest.h>

#include "secrets/resolver.hpp"
#include "secrets/sealed.hpp"
#include "test_env.hpp"

namespace osprey::api {
namespace {

TEST(SecretsCommand, KeygenPrintsAUsableKey) {
  std::stringstream in, out, err;
  EXPECT_EQ(run_secrets_command({"keygen"}, "", in, out, err), 0);
  std::string key = out.str();
  ASSERT_FALSE(key.empty());
  key.pop_back();  // newline
  EXPECT_FALSE(secrets::MasterKey::parse(key).derived_from_passphrase);
}

TEST(SecretsCommand, EncryptFromValueAndStdinRoundTrips) {
  auto mk = secrets::MasterKey::generate();
  auto dir = secrets::test::temp_dir();
  auto env_file = secrets::test::write_file(dir + "/.env", "OSPREY_MASTER_KEY=" + mk + "\n");
  {
    std::stringstream in, out, err;
    ASSERT_EQ(run_secrets_command({"encrypt", "--value", "sk-cli-value"}, env_file, in, out, err), 0) << err.str();
    std::string sealed = out.str().substr(0, out.str().size() - 1);
    EXPECT_EQ(secrets::unseal(sealed, secrets::MasterKey::parse(mk)), "sk-cli-value");
  }
  {
    std::stringstream in("sk-from-stdin\n"), out, err;
    ASSERT_EQ(run_secrets_encrypt(std::nullopt, "", mk, in, out, err), 0) << err.str();
    std::string sealed = out.str().substr(0, out.str().size() - 1);
    EXPECT_EQ(secrets::unseal(sealed, secrets::MasterKey::parse(mk)), "sk-from-stdin");
  }
}

TEST(SecretsCommand, EncryptWithoutMasterKeyFailsClearly) {
  std::stringstream in, out, err;
  EXPECT_EQ(run_secrets_encrypt(std::string("x"), "/nonexistent/.env", "", in, out, err), 1);
  EXPECT_NE(err.str().find("OSPREY_MASTER_KEY"), std::string::npos);
  EXPECT_TRUE(out.str().empty());
  std::stringstream in2, out2, err2;
  EXPECT_EQ(run_secrets_command({"bogus"}, "", in2, out2, err2), 1);
}

}  // namespace
}  // namespace osprey::api
