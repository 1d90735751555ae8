// tests/consumers/consumer.cpp - the program every consumer project builds: spawn, message, fd.
// SPDX-License-Identifier: BSL-1.0
//
// Built by each project under tests/consumers/ (meson subproject, pkg-config, CMake package) as
// a user would build it, then run by scripts/consumers.sh. The program starts itself as a child
// with ipc::spawn, sends it a typed job together with the write end of a pipe, and expects the
// child to write a line into the pipe and answer with a typed result. Where the installation
// has the JSON serializer, it also round-trips a JSON message in-process, which proves that
// the consumer's build links simdjson. Exit code 0 means every step worked.
#include <ipc.hpp>
#include <ipc/version.hpp>

#include <asio/io_context.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace consumer {

struct job {
  int id = 0;
  std::vector<int> numbers;
};
IPC_DESCRIBE(job, id, numbers)

struct result {
  int id = 0;
  long sum = 0;
};
IPC_DESCRIBE(result, id, sum)

int child()
{
  asio::io_context io;
  auto up = ipc::parent_channel<ipc::binary>(io);
  if (!up) return 10;
  auto m = up->receive<job>();
  ipc::native_handle out = m.take_handle(0);
  const std::string line = "job " + std::to_string(m.value.id) + " done\n";
  if (::write(out.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    return 11;
  long sum = 0;
  for (int n : m.value.numbers) sum += n;
  up->send(result{m.value.id, sum});
  return 0;
}

int json_round_trip()
{
#if defined(IPC_SERIALIZERS_JSON_HPP)
  asio::io_context io;
  auto [a, b] = ipc::channel<ipc::json>::pair(io);
  a.send(job{7, {1, 2}});
  const auto m = b.receive<job>();
  if (m.value.id != 7 || m.value.numbers.size() != 2) return 20;
  std::printf("json: round trip ok\n");
#elif !defined(IPC_DISABLE_JSON)
#error "ipc.hpp left the JSON serializer out although IPC_DISABLE_JSON is not defined"
#else
  std::printf("json: left out (IPC_DISABLE_JSON)\n");
#endif
  return 0;
}

} // namespace consumer

int main(int argc, char** argv)
{
  if (argc > 1 && std::strcmp(argv[1], "--child") == 0) return consumer::child();

  std::printf("ipcxx %s (%d)\n", IPC_VERSION_STRING, IPC_VERSION);
  asio::io_context io;
  auto c = ipc::spawn<ipc::binary>(io, "/proc/self/exe", {"--child"});

  int fds[2];
  if (::pipe(fds) != 0) return 2;
  ipc::native_handle read_end(fds[0]);
  c.channel().send(consumer::job{42, {1, 2, 3, 4, 5}}, ipc::native_handle(fds[1]));
  const consumer::result r = c.channel().receive<consumer::result>().value;

  char buf[64] = {};
  const ssize_t n = ::read(read_end.get(), buf, sizeof buf - 1);
  const ipc::exit_status status = c.wait();
  std::printf("child: sum %ld, through the passed pipe: %s", r.sum, n > 0 ? buf : "(nothing)\n");
  if (!status.success() || r.id != 42 || r.sum != 15 || std::strcmp(buf, "job 42 done\n") != 0)
    return 3;
  return consumer::json_round_trip();
}
