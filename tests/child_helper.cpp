// tests/child_helper.cpp - the program the process tests spawn; argv[1] picks what it does.
// SPDX-License-Identifier: BSL-1.0
#include "ipc/process.hpp"
#include "ipc/serializers/binary.hpp"
#include "ipc/serializers/raw.hpp"

#include <asio/io_context.hpp>

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

using channel = ipc::channel<ipc::binary>;

std::vector<int> open_descriptors()
{
  std::vector<int> fds;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return fds;
  const int own = ::dirfd(d);
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const int fd = std::atoi(e->d_name);
    if (fd != own) fds.push_back(fd);
  }
  ::closedir(d);
  return fds;
}

channel up(asio::io_context& io)
{
  auto ch = ipc::parent_channel<ipc::binary>(io.get_executor());
  if (!ch) {
    std::fprintf(stderr, "child_helper: no parent channel\n");
    std::exit(90);
  }
  return std::move(*ch);
}

} // namespace

int main(int argc, char** argv)
{
  const std::string mode = argc > 1 ? argv[1] : "";
  asio::io_context io;

  if (mode == "echo") {
    channel ch = up(io);
    for (;;) {
      std::error_code ec;
      auto m = ch.receive<std::string>(ec);
      if (ec) return 3;
      if (m.value == "quit") return 0;
      ch.send("echo:" + m.value);
    }
  }
  if (mode == "fds") {
    // Descriptors open before anything else is created.
    const std::vector<int> before = open_descriptors();
    channel ch = up(io);
    ch.send(before);
    return 0;
  }
  if (mode == "env") {
    channel ch = up(io);
    std::vector<std::string> values;
    for (int i = 2; i < argc; ++i) {
      const char* v = std::getenv(argv[i]);
      values.push_back(v != nullptr ? std::string(v) : std::string("<unset>"));
    }
    ch.send(values);
    return 0;
  }
  if (mode == "cwd") {
    channel ch = up(io);
    char buf[4096];
    ch.send(std::string(::getcwd(buf, sizeof buf) != nullptr ? buf : "?"));
    return 0;
  }
  if (mode == "exit") return argc > 2 ? std::atoi(argv[2]) : 0;
  if (mode == "abort") {
    std::signal(SIGABRT, SIG_DFL);
    std::abort();
  }
  if (mode == "sleep") {
    const int ms = argc > 2 ? std::atoi(argv[2]) : 60000;
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return 0;
  }
  if (mode == "stdio") {
    std::string line;
    std::getline(std::cin, line);
    std::cout << "out:" << line << std::endl;
    std::cerr << "err:" << line << std::endl;
    return 0;
  }
  if (mode == "pass-fd") {
    channel ch = up(io);
    auto m = ch.receive<std::string>();
    ipc::native_handle w = m.take_handle(0);
    const std::string text = "child says " + m.value;
    if (::write(w.get(), text.data(), text.size()) != ssize_t(text.size())) return 4;
    int p[2];
    if (::pipe(p) != 0) return 5;
    if (::write(p[1], "back", 4) != 4) return 6;
    ::close(p[1]);
    ch.send(std::string("here"), ipc::native_handle(p[0]));
    return ch.receive<std::string>().value == "done" ? 0 : 7;
  }
  if (mode == "no-channel") {
    std::error_code ec;
    auto ch = ipc::parent_channel<ipc::binary>(io.get_executor(), ec);
    return ec == ipc::errc::no_parent_channel ? 0 : 8;
  }
  if (mode == "wrong-serializer") {
    std::error_code ec;
    // The parent set up a binary channel: asking for another serializer must fail clearly.
    auto ch = ipc::parent_channel<ipc::raw>(io.get_executor(), ec);
    return ec == ipc::errc::serializer_mismatch ? 0 : 9;
  }
  std::fprintf(stderr, "child_helper: unknown mode '%s'\n", mode.c_str());
  return 99;
}
