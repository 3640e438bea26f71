#pragma once
// format_request_head: the head of a request to the upstream, formatted by
// hand (Beast's serializer cost more than the socket call it feeds).
//
//   std::string out;
//   format_request_head(out, Verb::post, "/v1/chat/completions", "api.openai.com", key,
//                       "application/json", /*with_body=*/true, body.size());
//   // out ends with the blank line; the body follows it on the wire.
//
// Appends to `out`. `with_body` adds Content-Type: application/json and
// Content-Length: body_bytes.

#include <cstddef>
#include <string>
#include <string_view>

#include "http/message.hpp"

namespace osprey::gateway {

void format_request_head(std::string& out, http::Verb verb, std::string_view target, std::string_view host,
                         std::string_view key, std::string_view accept, bool with_body, std::size_t body_bytes);

}  // namespace osprey::gateway
