// Key format, hashing with the pepper, and the SQLite key store.

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "access/key.hpp"
#include "access/key_format.hpp"
#include "access/key_store.hpp"
#include "access/pepper.hpp"
#include "access_test_util.hpp"
#include "common/error.hpp"

using namespace osprey;
using namespace osprey::access;

TEST(KeyFormat, ShapeChecksumAndDisplay) {
  auto k = generate_key();
  EXPECT_EQ(k.size(), kKeyLength);
  EXPECT_EQ(k.substr(0, 4), "osk_");
  EXPECT_TRUE(is_well_formed_key(k));
  EXPECT_NE(generate_key(), k);
  // Any single-character change breaks the checksum.
  for (std::size_t i = 4; i < k.size(); ++i) {
    auto t = k;
    t[i] = t[i] == 'a' ? 'b' : 'a';
    EXPECT_FALSE(is_well_formed_key(t)) << i;
  }
  EXPECT_FALSE(is_well_formed_key(k.substr(1)));
  EXPECT_FALSE(is_well_formed_key(""));
  EXPECT_EQ(key_prefix(k), k.substr(0, 8));
  EXPECT_EQ(key_last4(k), k.substr(k.size() - 4));
  // A short odd key reveals at most a third (prefix) and a quarter (last4).
  EXPECT_EQ(key_prefix("abcdefghijkl"), "abcd");
  EXPECT_EQ(key_last4("abcdefghijkl"), "jkl");
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);  // the standard check value
  EXPECT_EQ(base62_fixed(61, 3), "00z");
}

TEST(Pepper, GeneratedOnceWith0600AndStable) {
  auto dir = testutil::temp_dir("osprey-pepper");
  auto p1 = resolve_pepper("", dir);
  auto p2 = resolve_pepper("", dir);
  EXPECT_EQ(p1, p2);
  EXPECT_EQ(p1.size(), 64u);
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/pepper").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(resolve_pepper("configured-pepper-value", dir), "configured-pepper-value");
  EXPECT_NE(hash_key("pepper-a", "k"), hash_key("pepper-b", "k"));
  EXPECT_EQ(hash_key("pepper-a", "k").size(), 32u);
  EXPECT_TRUE(hashes_equal(hash_key("p", "k"), hash_key("p", "k")));
  EXPECT_FALSE(hashes_equal(hash_key("p", "k"), hash_key("p", "j")));
}

TEST(KeyStore, CreateListShowRevokeAndNoPlaintextOnDisk) {
  auto dir = testutil::temp_dir("osprey-keys");
  std::string plaintext, id;
  {
    KeyStore s(dir, resolve_pepper("", dir));
    KeySpec spec;
    spec.name = "ci";
    spec.scopes = {"detect", "chat"};
    spec.models = {"yolov8n"};
    spec.limits.rpm = 10;
    spec.limits.usd_per_month = 2.5;
    auto c = s.create(spec);
    plaintext = c.plaintext;
    id = c.record.id;
    EXPECT_EQ(id.substr(0, 4), "key_");
    EXPECT_EQ(c.record.hash, s.hash(plaintext));
  }
  {
    KeyStore s(dir, resolve_pepper("", dir));
    auto all = s.list();
    ASSERT_EQ(all.size(), 1u);
    auto k = s.get(id);
    ASSERT_TRUE(k);
    EXPECT_EQ(k->name, "ci");
    EXPECT_EQ(k->scopes, (std::set<std::string>{"chat", "detect"}));
    EXPECT_EQ(k->models, std::vector<std::string>{"yolov8n"});
    EXPECT_EQ(k->limits.rpm, 10);
    EXPECT_DOUBLE_EQ(k->limits.usd_per_month, 2.5);
    EXPECT_EQ(k->display(), plaintext.substr(0, 8) + "..." + plaintext.substr(plaintext.size() - 4));
    EXPECT_FALSE(k->to_json().dump().find(plaintext) != std::string::npos);
    EXPECT_FALSE(k->revoked());
    EXPECT_TRUE(s.revoke(id));
    EXPECT_TRUE(s.revoke(id));  // idempotent
    EXPECT_TRUE(s.get(id)->revoked());
    EXPECT_FALSE(s.revoke("key_nope"));
    EXPECT_FALSE(s.get("key_nope"));
  }
  // Neither the key nor its body appears anywhere in the database files.
  for (auto name : {"keys.db", "keys.db-wal"}) {
    std::ifstream in(dir + "/" + name, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_EQ(ss.str().find(plaintext.substr(4, 20)), std::string::npos) << name;
  }
}

TEST(KeyStore, ImportIsIdempotentAndValidates) {
  auto dir = testutil::temp_dir("osprey-keys");
  KeyStore s(dir, "a-pepper-of-sufficient-length-0123456789");
  KeySpec spec;
  spec.scopes = {"admin"};
  EXPECT_TRUE(s.import("my-bootstrap-admin-key", spec));
  EXPECT_FALSE(s.import("my-bootstrap-admin-key", spec));
  EXPECT_EQ(s.list().size(), 1u);
  KeySpec bad;
  bad.scopes = {"root"};
  EXPECT_THROW(s.create(bad), ApiError);
  KeySpec neg;
  neg.scopes = {"chat"};
  neg.limits.rpm = -1;
  EXPECT_THROW(s.create(neg), ApiError);
}

TEST(KeySpecJson, ParsesAndRejects) {
  auto spec = spec_from_json(nlohmann::json::parse(
      R"({"name":"x","scopes":["detect","CHAT"],"models":["m"],"limits":{"rpm":5,"usd_per_month":1.5}})"));
  EXPECT_EQ(spec.scopes, (std::set<std::string>{"chat", "detect"}));
  EXPECT_EQ(spec.limits.rpm, 5);
  EXPECT_THROW(spec_from_json(nlohmann::json::parse(R"({"scopes":[]})")), ApiError);
  EXPECT_THROW(spec_from_json(nlohmann::json::parse(R"({"scopes":["detect"],"rpm":"5"})")), ApiError);
  EXPECT_THROW(spec_from_json(nlohmann::json::parse(R"({"scopes":["detect"],"rpm":-5})")), ApiError);
  EXPECT_THROW(spec_from_json(nlohmann::json::parse(R"({"scopes":"detect","models":[1]})")), ApiError);
  EXPECT_THROW(spec_from_json(nlohmann::json::parse(R"([1,2])")), ApiError);
  EXPECT_THROW(parse_scopes("detect,root"), ApiError);
}
