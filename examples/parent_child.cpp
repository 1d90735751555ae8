// examples/parent_child.cpp - a parent and its child exchange typed messages and a descriptor.
// SPDX-License-Identifier: BSL-1.0
//
// The parent opens a channel pair, forks, and sends the child a job together with the write
// end of a pipe; the child writes its log line into the pipe and answers with a typed result.
#include <ipc.hpp>

#include <asio/io_context.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace app {

struct job {
  int id = 0;
  std::vector<int> numbers;
};
IPC_DESCRIBE(job, id, numbers)

struct result {
  int id = 0;
  long sum = 0;
  std::string worker;
};
IPC_DESCRIBE(result, id, sum, worker)

} // namespace app

int main()
{
  asio::io_context io;
  auto [parent, child] = ipc::channel<ipc::binary>::pair(io.get_executor());

  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    return 1;
  }
  if (pid == 0) {
    // Child: keep only its own end; its io_context is the parent's copy, which is fine for
    // the sync calls used here.
    parent.close();
    auto m = child.receive<app::job>();
    ipc::native_handle log = m.take_handle(0);
    long sum = 0;
    for (int n : m.value.numbers) sum += n;
    const std::string line = "child " + std::to_string(::getpid()) + " summed job " +
                             std::to_string(m.value.id) + "\n";
    if (::write(log.get(), line.data(), line.size()) < 0) return 1;
    child.send(app::result{m.value.id, sum, "pid " + std::to_string(::getpid())});
    return 0;
  }

  child.close();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return 1;
  ipc::native_handle log_read(fds[0]);

  // The job travels with the pipe's write end; ownership moves into the message.
  parent.send(app::job{42, {1, 2, 3, 4, 5}}, ipc::native_handle(fds[1]));
  app::result r = parent.receive<app::result>().value;

  char buf[128];
  const ssize_t n = ::read(log_read.get(), buf, sizeof buf);
  std::printf("parent got result for job %d: sum=%ld from %s\n", r.id, r.sum, r.worker.c_str());
  std::printf("through the passed pipe: %.*s", int(n > 0 ? n : 0), buf);

  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 && r.sum == 15 ? 0 : 1;
}
