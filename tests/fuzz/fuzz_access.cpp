// libFuzzer target for the access area's parsers of outside input. The first
// byte picks the parser, the rest is its input:
//   0  redis_url (RedisEndpoint::parse): port in 1..65535 or invalid_argument
//   1  /v1/usage time bounds (parse_time_bound): nullopt or a value >= 0
//   2  presented API keys (is_well_formed_key, key_prefix/last4): never more
//      than a third / a quarter of the key is revealed
//   3  admin key specs (spec_from_json): valid spec or ApiError 400
//   4  a request's key and model (presented_key, requested_model) from
//      "<content-type>\n<authorization>\n<body>" on a DeepStack route
//
//   cmake -DOSPREY_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... && ./fuzz_access -max_total_time=60

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "access/key.hpp"
#include "access/key_format.hpp"
#include "access/middleware.hpp"
#include "access/redis_client.hpp"
#include "api/usage_routes.hpp"
#include "common/error.hpp"
#include "common/log.hpp"

using namespace osprey;

namespace {
// Prints what broke an invariant (escaped) before aborting, so a replay
// failure is readable without a debugger.
[[noreturn]] void fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "fuzz_access: %s for input:", what);
  for (unsigned char c : input) std::fprintf(stderr, c >= 32 && c < 127 ? "%c" : "\\x%02x", c);
  std::fprintf(stderr, "\n");
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      try {
        auto ep = access::RedisEndpoint::parse(std::string(in));
        if (ep.port < 1 || ep.port > 65535 || ep.host.empty() || ep.db < 0) fail("bad endpoint", in);
      } catch (const std::invalid_argument&) {
      }
      log::forget_all_secrets();  // parse registers passwords
      break;
    case 1:
      if (auto t = api::parse_time_bound(in); t && *t < 0) fail("negative time", in);
      break;
    case 2: {
      bool ok = access::is_well_formed_key(in);
      if (ok && in.size() != access::kKeyLength) fail("bad key length", in);
      auto p = access::key_prefix(in);
      auto l = access::key_last4(in);
      if (p.size() > in.size() / 3 || l.size() > in.size() / 4) fail("reveals too much", in);
      break;
    }
    case 3: {
      auto j = nlohmann::json::parse(in, nullptr, false);
      try {
        auto spec = access::spec_from_json(j);
        if (spec.scopes.empty() || spec.limits.rpm < 0 || spec.limits.usd_per_month < 0) fail("bad spec", in);
      } catch (const ApiError& e) {
        if (e.status() != 400) fail("not a 400", in);
      }
      break;
    }
    case 4: {
      auto a = in.find('\n');
      auto b = a == std::string_view::npos ? a : in.find('\n', a + 1);
      if (b == std::string_view::npos) break;
      http::Request req{http::Verb::post, "/v1/vision/detection", 11};
      try {
        req.set(http::Field::content_type, in.substr(0, a));
        req.set(http::Field::authorization, in.substr(a + 1, b - a - 1));
      } catch (const std::exception&) {
        break;  // Beast rejects header values with CR/LF
      }
      req.body() = std::string(in.substr(b + 1));
      http::Context ctx{req, "/v1/vision/detection"};
      auto key = access::presented_key(ctx);
      auto model = access::requested_model(ctx);
      if (key.size() > req.body().size() + in.size()) fail("key from nowhere", in);
      (void)model;
      break;
    }
  }
  return 0;
}
