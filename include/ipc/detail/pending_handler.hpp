// ipc/detail/pending_handler.hpp - a type-erased, move-only completion handler for queued ops.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_DETAIL_PENDING_HANDLER_HPP
#define IPC_DETAIL_PENDING_HANDLER_HPP

#include "ipc/platform/config.hpp"

#include <asio/associated_executor.hpp>
#include <asio/dispatch.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>

#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

IPC_BEGIN_NAMESPACE
namespace detail {

/// Queued sends outlive the initiating call and complete in FIFO order from the channel's
/// write loop, so each handler is stored behind one virtual call. The handler's associated
/// executor is kept busy (outstanding work) until it runs, and it runs there.
template <class Executor, class... Args>
class pending_handler {
public:
  pending_handler() = default;

  template <class Handler>
  pending_handler(Handler&& h, const Executor& io_ex)
    : p_(std::make_unique<impl<std::decay_t<Handler>>>(std::forward<Handler>(h), io_ex))
  {
  }

  explicit operator bool() const noexcept { return p_ != nullptr; }

  /// Runs the handler on its executor (inline when already there).
  void dispatch(Args... args)
  {
    auto p = std::move(p_);
    p->run(false, std::move(args)...);
  }
  /// Runs the handler later, never inline: for completions decided inside an initiating call.
  void post(Args... args)
  {
    auto p = std::move(p_);
    p->run(true, std::move(args)...);
  }

private:
  struct base {
    virtual ~base() = default;
    virtual void run(bool defer, Args... args) = 0;
  };

  template <class Handler>
  struct impl final : base {
    using work_type = std::decay_t<decltype(asio::prefer(
      std::declval<asio::associated_executor_t<Handler, Executor>>(),
      asio::execution::outstanding_work.tracked))>;

    impl(Handler&& h, const Executor& io_ex)
      : handler(std::move(h)),
        work(asio::prefer(asio::get_associated_executor(handler, io_ex),
                          asio::execution::outstanding_work.tracked))
    {
    }

    void run(bool defer, Args... args) override
    {
      auto f = [h = std::move(handler), tup = std::make_tuple(std::move(args)...)]() mutable {
        std::apply(std::move(h), std::move(tup));
      };
      work_type ex = std::move(work);
      if (defer) asio::post(ex, std::move(f));
      else asio::dispatch(ex, std::move(f));
    }

    Handler handler;
    work_type work;
  };

  std::unique_ptr<base> p_;
};

} // namespace detail
IPC_END_NAMESPACE

#endif // IPC_DETAIL_PENDING_HANDLER_HPP
