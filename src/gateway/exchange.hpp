#pragma once
// Gateway::Exchange: one attempt at an upstream request, what it sends and
// what came of it. Private to the gateway: gateway.cpp runs the attempts
// (connect, retry, error mapping), exchange.cpp speaks HTTP/1.1 on the
// connection (Gateway::exchange).

#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/gateway.hpp"

namespace osprey::gateway {

enum class Fail { none, unreachable, reset, timeout, too_large, invalid, cancelled };

struct Gateway::Exchange {
  // Request.
  http::Verb verb = http::Verb::post;
  std::string target;
  std::string_view body;  // alive for the whole call (the caller's)
  std::shared_ptr<http::Cancellation> cancel;
  std::shared_ptr<KeyRing> ring;  // taken when the call began
  std::size_t key_index = 0;
  // Result of the last attempt.
  Fail fail = Fail::none;
  std::string detail;  // what failed, for the error message (no secrets)
  bool reused = false;
  bool header_received = false;
  bool opened = false;  // stream: on_open ran, bytes may have reached the client
  bool done = false;
  bool keep_alive = false;
  unsigned status = 0;
  std::string body_out, content_type, retry_after, retry_after_ms;
  std::exception_ptr callback_error;

  void reset() {
    fail = Fail::none;
    detail.clear();
    reused = header_received = opened = done = keep_alive = false;
    status = 0;
    body_out.clear();
    content_type.clear();
    retry_after.clear();
    retry_after_ms.clear();
    callback_error = nullptr;
  }
};

}  // namespace osprey::gateway
