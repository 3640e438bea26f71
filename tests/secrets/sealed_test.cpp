#include "secrets/sealed.hpp"

#include <gtest/gtest.h>

#include "common/strings.hpp"

namespace osprey::secrets {
namespace {

TEST(Sealed, RoundTrip) {
  auto key = MasterKey::parse(MasterKey::generate());
  EXPECT_FALSE(key.derived_from_passphrase);
  for (std::string plain : {std::string("sk-abc123"), std::string(1, '\0') + "binary\xff", std::string(5000, 'x')}) {
    auto s = seal(plain, key);
    EXPECT_TRUE(is_sealed(s));
    EXPECT_EQ(s.find(plain), std::string::npos);
    EXPECT_EQ(unseal(s, key), plain);
  }
  // Random nonce: the same plaintext seals differently.
  EXPECT_NE(seal("same", key), seal("same", key));
}

TEST(Sealed, WrongKeyOrTamperingFails) {
  auto k1 = MasterKey::parse(MasterKey::generate());
  auto k2 = MasterKey::parse(MasterKey::generate());
  auto s = seal("sk-secret", k1);
  EXPECT_THROW(unseal(s, k2), SecretError);
  std::string tampered = s;
  tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
  EXPECT_THROW(unseal(tampered, k1), SecretError);
  EXPECT_THROW(unseal("enc:!!!", k1), SecretError);
  EXPECT_THROW(unseal("enc:AAAA", k1), SecretError);
  EXPECT_THROW(unseal("plain", k1), SecretError);
}

TEST(MasterKeyFormat, Base64KeyOrPassphrase) {
  std::string b64 = MasterKey::generate();
  EXPECT_EQ(str::base64_decode(b64)->size(), 32u);
  auto a = MasterKey::parse(b64);
  auto b = MasterKey::parse("  " + b64 + "\n");  // whitespace from files is ignored
  EXPECT_EQ(a.bytes, b.bytes);
  auto p1 = MasterKey::parse("correct horse battery staple");
  auto p2 = MasterKey::parse("correct horse battery staple");
  auto p3 = MasterKey::parse("correct horse battery stapler");
  EXPECT_TRUE(p1.derived_from_passphrase);
  EXPECT_EQ(p1.bytes, p2.bytes);
  EXPECT_NE(p1.bytes, p3.bytes);
  EXPECT_EQ(unseal(seal("x-secret", p1), p2), "x-secret");
  EXPECT_THROW(MasterKey::parse("short"), SecretError);
}

}  // namespace
}  // namespace osprey::secrets
