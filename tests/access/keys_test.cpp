// Key format, hashing with the pepper, the SQLite key store (and its
// migration from an older keys.db), expiry parsing and rotation.

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "access/key.hpp"
#include "access/key_format.hpp"
#include "access/key_store.hpp"
#include "access/pepper.hpp"
#include "access_test_util.hpp"
#include "common/error.hpp"
#include "usage/sqlite.hpp"

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

TEST(KeyExpiry, Durations) {
  EXPECT_EQ(parse_duration("3600s"), 3600);
  EXPECT_EQ(parse_duration("90m"), 5400);
  EXPECT_EQ(parse_duration("12h"), 43200);
  EXPECT_EQ(parse_duration("30d"), 30 * 86400);
  EXPECT_EQ(parse_duration(" 1d "), 86400);
  EXPECT_EQ(parse_duration("0"), 0);
  EXPECT_EQ(parse_duration("0s"), 0);
  EXPECT_EQ(parse_duration("36500d"), kMaxDurationSeconds);
  // A bare number is ambiguous (seconds? days?), so it needs a unit.
  for (auto bad : {"", "30", "s", "5x", "-5s", "+5s", "1.5h", "5 d", "5D", "d5", "36501d", "999999999999999999d"}) {
    SCOPED_TRACE(bad);
    EXPECT_THROW(parse_duration(bad), ApiError);
  }
  try {
    parse_duration("2w", "--grace");
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.param(), "--grace");
    EXPECT_NE(std::string(e.what()).find("30d"), std::string::npos);  // says what is expected
  }
}

TEST(KeyExpiry, UtcTimes) {
  EXPECT_EQ(parse_utc_time("4073545815"), 4073545815);
  EXPECT_EQ(parse_utc_time("2099-01-31T12:30:15Z"), 4073545815);
  EXPECT_EQ(parse_utc_time("2099-01-31T12:30:15+00:00"), 4073545815);
  EXPECT_EQ(parse_utc_time("2099-01-31"), 4073500800);
  EXPECT_EQ(parse_utc_time("2024-02-29T23:59:59Z"), 1709251199);
  EXPECT_EQ(utc_time(4073545815), "2099-01-31T12:30:15Z");
  EXPECT_EQ(utc_time(parse_utc_time("2027-01-31T00:00:00Z")), "2027-01-31T00:00:00Z");
  // A time of day without its zone is refused rather than guessed.
  for (auto bad : {"", "0", "-5", "yesterday", "2099-01-31T12:30:15", "2099-01-31T12:30:15+02:00",
                   "2099-02-30", "2099-01-31T24:00:00Z", "2099-1-31", "1969-12-31", "10000-01-01",
                   "99999999999999999999"}) {
    SCOPED_TRACE(bad);
    EXPECT_THROW(parse_utc_time(bad), ApiError);
  }
}

TEST(KeyExpiry, SpecFromJson) {
  const std::int64_t now = 1'800'000'000;
  auto parse = [&](const char* body) { return spec_from_json(nlohmann::json::parse(body), now); };
  EXPECT_EQ(parse(R"({"scopes":["chat"]})").expires_at, 0);
  EXPECT_EQ(parse(R"({"scopes":["chat"],"expires_at":null})").expires_at, 0);
  EXPECT_EQ(parse(R"({"scopes":["chat"],"expires_in":3600})").expires_at, now + 3600);
  EXPECT_EQ(parse(R"({"scopes":["chat"],"expires_at":4073545815})").expires_at, 4073545815);
  EXPECT_EQ(parse(R"({"scopes":["chat"],"expires_at":"2099-01-31T12:30:15Z"})").expires_at, 4073545815);
  for (auto bad : {R"({"scopes":["chat"],"expires_in":3600,"expires_at":4073545815})",  // both
                   R"({"scopes":["chat"],"expires_in":0})", R"({"scopes":["chat"],"expires_in":-5})",
                   R"({"scopes":["chat"],"expires_in":"30d"})", R"({"scopes":["chat"],"expires_in":1.5})",
                   R"({"scopes":["chat"],"expires_in":18446744073709551615})",
                   R"({"scopes":["chat"],"expires_at":0})", R"({"scopes":["chat"],"expires_at":true})",
                   R"({"scopes":["chat"],"expires_at":"soon"})",
                   R"({"scopes":["chat"],"expires_at":1799999999})",  // the past
                   R"({"scopes":["chat"],"expires_at":1800000000})",  // now: born expired
                   R"({"scopes":["chat"],"expires_at":"2020-01-01T00:00:00Z"})"}) {
    SCOPED_TRACE(bad);
    try {
      parse(bad);
      ADD_FAILURE() << "accepted";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 400);
    }
  }
}

TEST(KeyExpiry, StoredShownAndPastRefused) {
  auto dir = testutil::temp_dir("osprey-keys");
  KeyStore s(dir, resolve_pepper("", dir));
  KeySpec spec;
  spec.scopes = {"chat"};
  auto never = s.create(spec);
  EXPECT_TRUE(never.record.to_json()["expires_at"].is_null());
  EXPECT_TRUE(never.record.to_json()["rotated_from"].is_null());
  spec.expires_at = unix_now() + 3600;
  auto soon = s.create(spec);
  auto k = s.get(soon.record.id);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->expires_at, spec.expires_at);
  EXPECT_EQ(k->to_json()["expires_at"], spec.expires_at);
  EXPECT_FALSE(k->expired(unix_now()));
  EXPECT_TRUE(k->expired(spec.expires_at));
  EXPECT_FALSE(k->expired(spec.expires_at - 1));
  spec.expires_at = unix_now() - 1;
  EXPECT_THROW(s.create(spec), ApiError);
  EXPECT_EQ(s.list().size(), 2u);
}

TEST(KeyRotation, NewKeySameSettingsOldOneShortened) {
  auto dir = testutil::temp_dir("osprey-keys");
  KeyStore s(dir, resolve_pepper("", dir));
  KeySpec spec;
  spec.name = "ci";
  spec.scopes = {"detect", "chat"};
  spec.models = {"yolov8n"};
  spec.limits.rpm = 7;
  spec.limits.usd_per_month = 3.5;
  spec.expires_at = unix_now() + 30 * 86400;
  auto old = s.create(spec);
  auto before = unix_now();
  auto r = s.rotate(old.record.id, 3600);
  ASSERT_TRUE(r);
  const auto& k = r->key.record;
  EXPECT_NE(k.id, old.record.id);
  EXPECT_NE(r->key.plaintext, old.plaintext);
  EXPECT_TRUE(is_well_formed_key(r->key.plaintext));
  EXPECT_EQ(k.hash, s.hash(r->key.plaintext));
  EXPECT_EQ(k.rotated_from, old.record.id);
  EXPECT_EQ(k.name, "ci");
  EXPECT_EQ(k.scopes, spec.scopes);
  EXPECT_EQ(k.models, spec.models);
  EXPECT_EQ(k.limits.rpm, 7);
  EXPECT_DOUBLE_EQ(k.limits.usd_per_month, 3.5);
  EXPECT_EQ(k.expires_at, spec.expires_at);  // the old key's own expiry, not the grace
  // The old key: now + grace, as stored.
  EXPECT_EQ(r->previous.id, old.record.id);
  EXPECT_GE(r->previous.expires_at, before + 3600);
  EXPECT_LE(r->previous.expires_at, unix_now() + 3600);
  EXPECT_FALSE(r->previous.revoked());
  EXPECT_EQ(s.get(old.record.id)->expires_at, r->previous.expires_at);
  auto stored = s.get(k.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->rotated_from, old.record.id);
  EXPECT_EQ(stored->to_json()["rotated_from"], old.record.id);

  // Rotating the same key again is a mistake: rotate its successor.
  try {
    s.rotate(old.record.id, 60);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 409);
    EXPECT_NE(std::string(e.what()).find(k.id), std::string::npos);
  }
  // Rotation never extends an expiry: the successor expires in 30 days, a
  // grace of 60 days leaves it so.
  auto r2 = s.rotate(k.id, 60 * 86400);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->previous.expires_at, spec.expires_at);
  EXPECT_EQ(s.get(k.id)->expires_at, spec.expires_at);
  EXPECT_EQ(s.list().size(), 3u);
}

TEST(KeyRotation, GraceZeroRevokesAndBadIdsAreRefused) {
  auto dir = testutil::temp_dir("osprey-keys");
  KeyStore s(dir, resolve_pepper("", dir));
  KeySpec spec;
  spec.scopes = {"chat"};
  auto old = s.create(spec);
  auto gen = s.generation().current();
  auto r = s.rotate(old.record.id, 0);
  ASSERT_TRUE(r);
  EXPECT_NE(s.generation().current(), gen);  // the running server reloads
  EXPECT_TRUE(r->previous.revoked());
  EXPECT_TRUE(s.get(old.record.id)->revoked());
  EXPECT_EQ(s.get(old.record.id)->expires_at, 0);
  EXPECT_EQ(r->key.record.expires_at, 0);
  // Revoked or unknown: nothing to rotate.
  EXPECT_FALSE(s.rotate(old.record.id, 60));
  EXPECT_FALSE(s.rotate("key_nope", 60));
  EXPECT_THROW(s.rotate(r->key.record.id, -1), ApiError);
  EXPECT_THROW(s.rotate(r->key.record.id, kMaxDurationSeconds + 1), ApiError);
  EXPECT_EQ(s.list().size(), 2u);

  // An expired key cannot be rotated (its successor would be born expired).
  auto expiring = s.create(spec);
  {
    usage::sql::Db db(dir + "/keys.db");
    usage::sql::Stmt u(db, "UPDATE keys SET expires_at = ?1 WHERE id = ?2");
    u.bind(1, unix_now() - 10);
    u.bind(2, expiring.record.id);
    u.step();
  }
  try {
    s.rotate(expiring.record.id, 60);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 409);
    EXPECT_EQ(e.code(), "key_expired");
  }
  EXPECT_EQ(s.list().size(), 3u);  // nothing half-done
}

TEST(KeyStore, MigratesAKeysDbWithoutTheNewColumns) {
  auto dir = testutil::temp_dir("osprey-keys");
  auto pepper = resolve_pepper("", dir);
  const std::string plaintext = generate_key();
  {
    // keys.db as the first release created it, with one key in it.
    usage::sql::Db db(dir + "/keys.db");
    db.exec(R"sql(
CREATE TABLE IF NOT EXISTS keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  hash BLOB NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  last4 TEXT NOT NULL,
  scopes TEXT NOT NULL,
  models TEXT NOT NULL,
  rpm INTEGER NOT NULL DEFAULT 0,
  tpm INTEGER NOT NULL DEFAULT 0,
  ipm INTEGER NOT NULL DEFAULT 0,
  concurrency INTEGER NOT NULL DEFAULT 0,
  tokens_per_day INTEGER NOT NULL DEFAULT 0,
  usd_per_month REAL NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL DEFAULT 0
);)sql");
    usage::sql::Stmt ins(db,
                         "INSERT INTO keys (id, name, hash, prefix, last4, scopes, models, rpm, created_at) "
                         "VALUES ('key_old000000001', 'legacy', ?1, ?2, ?3, 'chat', '', 5, 1700000000)");
    ins.bind_blob(1, hash_key(pepper, plaintext));
    ins.bind(2, key_prefix(plaintext));
    ins.bind(3, key_last4(plaintext));
    ins.step();
  }
  for (int open = 0; open < 2; ++open) {  // the second open finds nothing to add
    SCOPED_TRACE(open);
    KeyStore s(dir, pepper);
    auto k = s.get("key_old000000001");
    ASSERT_TRUE(k);
    EXPECT_EQ(k->name, "legacy");
    EXPECT_EQ(k->limits.rpm, 5);
    EXPECT_EQ(k->expires_at, 0);
    EXPECT_TRUE(k->rotated_from.empty());
    EXPECT_EQ(k->hash, s.hash(plaintext));
  }
  KeyStore s(dir, pepper);
  auto r = s.rotate("key_old000000001", 3600);
  ASSERT_TRUE(r);
  EXPECT_EQ(s.get(r->key.record.id)->rotated_from, "key_old000000001");
  EXPECT_GT(s.get("key_old000000001")->expires_at, 0);
  EXPECT_EQ(s.list().size(), 2u);
}
