#include "api/console_routes.hpp"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "http/response.hpp"

extern "C" {
#include "console_assets_decl.inc"
}

namespace osprey::api {

using http::Context;
using http::Response;

namespace {

struct Asset {
  std::string_view name;
  const char* begin;
  const char* end;
};

const Asset kAssets[] = {
#include "console_assets_table.inc"
};

std::string_view content_type(std::string_view name) {
  auto ext = name.substr(name.rfind('.') + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "ico") return "image/x-icon";
  if (ext == "json") return "application/json";
  return "application/octet-stream";
}

// A plain file name: no folder, no dot first (no "..", no hidden file).
bool plain_name(std::string_view n) {
  if (n.empty() || n.size() > 128 || n.front() == '.') return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') return false;
  return true;
}

std::optional<std::string> from_dir(const std::string& dir, std::string_view name) {
  std::ifstream in(dir + "/" + std::string(name), std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<std::string> find(std::string_view name) {
  static const char* dir = std::getenv("OSPREY_CONSOLE_DIR");
  if (dir && *dir && name != "uplot.js" && name != "uplot.css") return from_dir(dir, name);
  for (const auto& a : kAssets)
    if (a.name == name) return std::string(a.begin, a.end);
  return std::nullopt;
}

Response serve(const Context& ctx, std::string_view name) {
  if (!plain_name(name)) throw not_found("no such console file");
  auto body = find(name);
  if (!body) {
    if (name == "index.html") throw not_found("this build has no console (web/console/index.html was missing)");
    throw not_found("no such console file");
  }
  auto res = http::make_response(ctx, 200, std::move(*body), content_type(name));
  // The page is small and changes with the binary: always revalidated.
  res.set(http::Field::cache_control, "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  if (name.ends_with(".html")) {
    res.set("Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
            "connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; "
            "base-uri 'none'; frame-ancestors 'none'");
    res.set("X-Frame-Options", "DENY");
  }
  return res;
}

}  // namespace

void add_console_routes(http::Router& router) {
  for (const char* path : {"/", "/console"}) {
    http::Route r;
    r.method = http::Verb::get;
    r.path = path;
    r.sync_handler = [](Context& ctx) { return serve(ctx, "index.html"); };
    r.summary = "Web console (sign in with an Osprey key)";
    r.tag = "Console";
    r.responses = {{"200", "The console page"}};
    router.add(std::move(r));
  }
  http::Route r;
  r.method = http::Verb::get;
  r.path = "/console/{file}";
  r.sync_handler = [](Context& ctx) { return serve(ctx, ctx.param("file")); };
  r.summary = "Web console files (scripts, styles, the uPlot chart library)";
  r.tag = "Console";
  r.responses = {{"200", "The file"}, {"404", "No such file"}};
  router.add(std::move(r));
}

}  // namespace osprey::api
