#pragma once
// Helpers for the access tests: a temporary data dir, and dispatching one
// request through a Router on a private io_context.

#include <gtest/gtest.h>

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "http/response.hpp"
#include "http/router.hpp"

namespace osprey::testutil {

// A fresh directory under $TMPDIR, removed when the test process exits.
inline std::string temp_dir(const std::string& prefix) {
  struct Cleanup {
    std::vector<std::filesystem::path> dirs;
    ~Cleanup() {
      std::error_code ec;
      for (auto& d : dirs) std::filesystem::remove_all(d, ec);
    }
  };
  static Cleanup cleanup;
  std::random_device rd;
  auto p = std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(p);
  cleanup.dirs.push_back(p);
  return p.string();
}

struct Call {
  http::Verb method = http::Verb::get;
  std::string target = "/";
  std::map<std::string, std::string> headers;
  std::string body;
  std::string content_type;
};

struct Result {
  http::Response res;
  http::Usage usage;
  int status() const { return static_cast<int>(res.result_int()); }
  std::string header(const std::string& name) const { return std::string(res[name]); }
  nlohmann::json json() const { return nlohmann::json::parse(res.body()); }
};

inline Result dispatch(const http::Router& r, const Call& c, const std::string& request_id = "req-test") {
  boost::asio::io_context ioc;
  http::Request req{c.method, c.target, 11};
  for (auto& [k, v] : c.headers) req.set(k, v);
  if (!c.content_type.empty()) req.set(http::Field::content_type, c.content_type);
  req.body() = c.body;
  req.prepare_payload();
  auto q = std::string_view(req.target());
  auto qpos = q.find('?');
  http::Context ctx{req, q.substr(0, qpos)};
  if (qpos != std::string_view::npos) ctx.query = http::Query::parse(q.substr(qpos + 1));
  ctx.request_id = request_id;
  ctx.executor = ioc.get_executor();
  auto fut = boost::asio::co_spawn(ioc, r.dispatch(ctx), boost::asio::use_future);
  ioc.run();
  Result out{fut.get(), ctx.usage};
  // What the server's core middleware does: every response carries
  // ctx.response_headers.
  for (auto& [k, v] : ctx.response_headers) out.res.set(k, v);
  return out;
}

inline std::map<std::string, std::string> bearer(const std::string& key) {
  return {{"Authorization", "Bearer " + key}};
}

}  // namespace osprey::testutil
