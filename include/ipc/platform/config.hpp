// ipc/platform/config.hpp - the one place that detects the OS and opens the versioned namespace.
// SPDX-License-Identifier: BSL-1.0
#ifndef IPC_PLATFORM_CONFIG_HPP
#define IPC_PLATFORM_CONFIG_HPP

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE 1
#endif

// Asio 1.22 enables co_await for clang only with libc++'s <experimental/coroutine>; clang 14
// with libstdc++'s <coroutine> works as well. Effective only when ipcxx is included before Asio.
#if defined(__clang__) && !defined(ASIO_HAS_CO_AWAIT) && !defined(ASIO_DISABLE_CO_AWAIT) && \
  defined(__cpp_impl_coroutine) && __cplusplus >= 202002L
#if __has_include(<coroutine>)
#define ASIO_HAS_CO_AWAIT 1
#endif
#endif

#if defined(_WIN32)
#define IPC_WINDOWS 1
#define IPC_POSIX 0
#else
#define IPC_WINDOWS 0
#define IPC_POSIX 1
#endif

#if IPC_POSIX && !defined(IPC_DISABLE_SCM_RIGHTS)
#define IPC_HAS_SCM_RIGHTS 1
#else
#define IPC_HAS_SCM_RIGHTS 0
#endif

#if defined(__linux__) && !defined(IPC_DISABLE_MSG_CMSG_CLOEXEC)
#define IPC_HAS_MSG_CMSG_CLOEXEC 1
#else
#define IPC_HAS_MSG_CMSG_CLOEXEC 0
#endif

/// Everything public lives in `ipc::v1`, reached as `ipc::` through the inline namespace, so
/// that a future incompatible layout links as a different symbol instead of silently mixing.
#define IPC_BEGIN_NAMESPACE \
  namespace ipc {           \
  inline namespace v1 {
#define IPC_END_NAMESPACE \
  }                       \
  }

#if defined(IPC_ENABLE_ASSERTS) || !defined(NDEBUG)
#include <cstdio>
#include <cstdlib>
/// Programming errors (use after move, broken preconditions) trip this in debug builds.
#define IPC_ASSERT(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: ipc assertion failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (false)
#else
#define IPC_ASSERT(cond) ((void)0)
#endif

#endif // IPC_PLATFORM_CONFIG_HPP
