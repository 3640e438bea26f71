#pragma once
// The web console: GET / and /console (the page), GET /console/{file} (its
// scripts, styles and uPlot, the chart library from npm), all compiled into
// the binary from web/console/ (src/api/core.cmake), so the console works
// offline and needs no other server. Public: the page itself holds nothing;
// it asks the user for an Osprey key and sends it as Bearer on API calls.
//
//   api::add_console_routes(router);   // add_core_routes does it
//
// OSPREY_CONSOLE_DIR=web/console serves the files from that folder instead,
// read on every request (for working on the console without rebuilding).
// The page gets a Content-Security-Policy that allows only this origin:
// no script, style, image or connection elsewhere.

#include "http/router.hpp"

namespace osprey::api {

void add_console_routes(http::Router& router);

}  // namespace osprey::api
