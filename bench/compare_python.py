# bench/compare_python.py - Python multiprocessing, measured for bench/compare: round trips,
# one-way streams, descriptor passing and spawn-to-first-message over multiprocessing.Pipe.
# SPDX-License-Identifier: BSL-1.0
#
#   python3 compare_python.py [--quick]
#
# The same work as channel_bench's rows, in two flavours of the same duplex Pipe (a socketpair):
#   py-pickle  Connection.send / recv of a bytes object (pickled)
#   py-bytes   Connection.send_bytes / recv_bytes
# Descriptor passing is multiprocessing.reduction.send_handle / recv_handle (SCM_RIGHTS), in
# chunks of 64 announced by a send_bytes so that the child knows how many follow. Spawn is the
# 'spawn' start method (a fresh interpreter, as ipc::spawn and Node's fork start a fresh
# program) up to the first message received. Measuring children are forked. Prints lines
# "row metric size value", like channel_bench --machine.
import multiprocessing as mp
import os
import sys
import time
from multiprocessing import reduction

QUICK = "--quick" in sys.argv
MS = (dict(warm=8, latency=25, stream=40, fd=40, spawns=5) if QUICK else
      dict(warm=30, latency=150, stream=250, fd=250, spawns=15))
CHUNK = 64


def now_us():
    return time.perf_counter_ns() / 1000.0


def echo_child(conn, as_bytes):
    try:
        while True:
            if as_bytes:
                conn.send_bytes(conn.recv_bytes())
            else:
                conn.send(conn.recv())
    except EOFError:
        pass


def count_child(conn, as_bytes):
    n = 0
    try:
        while True:
            m = conn.recv_bytes() if as_bytes else conn.recv()
            if not m:
                conn.send_bytes(str(n).encode()) if as_bytes else conn.send(n)
                n = 0
            else:
                n += 1
    except EOFError:
        pass


def fd_child(conn):
    n = 0
    try:
        while True:
            k = int(conn.recv_bytes() or b"0")
            if k == 0:
                conn.send_bytes(str(n).encode())
                n = 0
                continue
            for _ in range(k):
                os.close(reduction.recv_handle(conn))
            n += k
    except EOFError:
        pass


def ready_child(conn):
    conn.send_bytes(b"ready")


def run_child(parent_end, target, conn, *args):
    parent_end.close()  # the fork copied it: without this the child never sees end of stream
    target(conn, *args)


def with_child(target, *args):
    """Starts a forked child running target(child_end, *args); returns (process, parent_end)."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=run_child, args=(parent, target, child) + args)
    p.start()
    child.close()
    return p, parent


def finish(p, conn):
    conn.close()
    p.join()


def round_trips(name, as_bytes, size):
    p, conn = with_child(echo_child, as_bytes)
    payload = b"x" * size
    send = conn.send_bytes if as_bytes else conn.send
    recv = conn.recv_bytes if as_bytes else conn.recv

    def loop(budget_ms, max_count, samples):
        end = now_us() + budget_ms * 1000
        i = 0
        while i < max_count and now_us() < end:
            t0 = now_us()
            send(payload)
            m = recv()
            if samples is not None:
                samples.append(now_us() - t0)
            if len(m) != size:
                raise RuntimeError("echo of wrong size")
            i += 1

    loop(MS["warm"], 200, None)
    us = []
    loop(MS["latency"], 20000, us)
    finish(p, conn)
    us.sort()
    pct = lambda q: us[min(len(us) - 1, int(q * len(us)))]
    print(f"{name} rt_p50_us {size} {pct(0.5):.3f}")
    print(f"{name} rt_p99_us {size} {pct(0.99):.3f}")


def timed_batches(batch, budget_ms):
    """A warm-up batch, then a measured one: (messages, seconds) of the measured batch."""
    batch(MS["warm"])
    t0 = now_us()
    n = batch(budget_ms)
    return n, (now_us() - t0) / 1e6


def stream(name, as_bytes, size):
    p, conn = with_child(count_child, as_bytes)
    payload = b"x" * size
    send = conn.send_bytes if as_bytes else conn.send

    def batch(budget_ms):
        end = now_us() + budget_ms * 1000
        i = 0
        while now_us() < end:
            send(payload)
            i += 1
        send(b"")
        n = int(conn.recv_bytes()) if as_bytes else conn.recv()
        if n != i:
            raise RuntimeError("lost messages")
        return n

    n, s = timed_batches(batch, MS["stream"])
    finish(p, conn)
    print(f"{name} tp_mb_s {size} {n * size / s / 1e6:.3f}")
    print(f"{name} tp_msgs_s {size} {n / s:.1f}")


def pass_fds(name):
    p, conn = with_child(fd_child)
    fd = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)

    def batch(budget_ms):
        end = now_us() + budget_ms * 1000
        n = 0
        while now_us() < end:
            conn.send_bytes(str(CHUNK).encode())
            for _ in range(CHUNK):
                reduction.send_handle(conn, fd, p.pid)
            n += CHUNK
        conn.send_bytes(b"0")
        if int(conn.recv_bytes()) != n:
            raise RuntimeError("lost descriptors")
        return n

    n, s = timed_batches(batch, MS["fd"])
    finish(p, conn)
    os.close(fd)
    print(f"{name} fd_per_s 8 {n / s:.1f}")


def spawn_to_first_message(name):
    ctx = mp.get_context("spawn")

    def once():
        t0 = now_us()
        parent, child = ctx.Pipe()
        p = ctx.Process(target=ready_child, args=(child,))
        p.start()
        parent.recv_bytes()
        us = now_us() - t0
        child.close()
        parent.close()
        p.join()
        return us

    once()
    us = sorted(once() for _ in range(MS["spawns"]))
    print(f"{name} spawn_us 0 {us[len(us) // 2]:.1f}")


def main():
    for size in (8, 1024, 65536, 1048576):
        round_trips("py-pickle", False, size)
        round_trips("py-bytes", True, size)
    for size in (64, 1048576):
        stream("py-pickle", False, size)
        stream("py-bytes", True, size)
    pass_fds("py-bytes")
    spawn_to_first_message("py-bytes")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
