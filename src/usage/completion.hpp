#pragma once
// complete_from_thread: lets a coroutine on an I/O thread wait for work done
// on another thread (the ledger writer, the Redis thread) without blocking
// the I/O thread.
//
//   Awaitable<int> answer() {
//     co_return co_await usage::complete_from_thread<int>([&](usage::Done<int> done) {
//       queue.push([done] { done(nullptr, 42); });   // runs later, any thread
//     });
//   }
//
// `submit` receives a Done callback; whoever calls it (from any thread, once)
// resumes the coroutine on its own executor with the value, or with the
// exception when the exception_ptr is non-null.
//
// These are plain functions returning an awaitable, not coroutines: callers
// should return them directly too where they can (g++ 12 double-destroys
// by-value coroutine parameters initialised from temporaries in some
// co_await expressions). While the coroutine waits,
// its executor counts outstanding work, so io_context::run() does not return
// early.

#include <utility>  // before any Boost.Asio header (g++ 12)
#include <exception>
#include <functional>
#include <memory>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/message.hpp"

namespace osprey::usage {

template <class T>
using Done = std::function<void(std::exception_ptr, T)>;

template <class T, class Submit>
http::Awaitable<T> complete_from_thread(Submit submit) {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(std::exception_ptr, T)>(
      [submit = std::move(submit)](auto handler) mutable {
        using H = decltype(handler);
        auto ex = boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                      boost::asio::execution::outstanding_work.tracked);
        // std::function needs a copyable target; the handler is move-only.
        auto h = std::make_shared<H>(std::move(handler));
        submit(Done<T>([h, ex](std::exception_ptr e, T value) mutable {
          boost::asio::post(ex, [h, e, value = std::move(value)]() mutable { (*h)(e, std::move(value)); });
        }));
      },
      boost::asio::use_awaitable);
}

// The same for work that yields no value.
template <class Submit>
http::Awaitable<void> complete_from_thread_void(Submit submit) {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(std::exception_ptr)>(
      [submit = std::move(submit)](auto handler) mutable {
        using H = decltype(handler);
        auto ex = boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                      boost::asio::execution::outstanding_work.tracked);
        auto h = std::make_shared<H>(std::move(handler));
        submit(std::function<void(std::exception_ptr)>([h, ex](std::exception_ptr e) mutable {
          boost::asio::post(ex, [h, e]() mutable { (*h)(e); });
        }));
      },
      boost::asio::use_awaitable);
}

}  // namespace osprey::usage
