#pragma once
// The HTTP message types used across Osprey: Beast's string-bodied request and
// response. Include this (not Beast directly) so that <utility> always comes
// before Asio, which g++ 12 needs.

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/http.hpp>

namespace osprey::http {

namespace beast_http = boost::beast::http;
using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;
using Verb = beast_http::verb;
using Field = beast_http::field;
using Status = beast_http::status;

template <class T>
using Awaitable = boost::asio::awaitable<T>;

}  // namespace osprey::http
