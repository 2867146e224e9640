#!/usr/bin/env python3
"""Peak memory of one service under HTTP/2 clients that never read their answers.

Starts a release binary on 127.0.0.1, opens CONNECTIONS h2c connections that each ask for
PATH on STREAMS streams and grant every stream WINDOW bytes of flow control (0: no answer byte
may move; 1: the server hands h2 each whole answer, which then waits), holds them for HOLD
seconds, and prints the process's peak RSS (VmHWM) and how many connections the server closed
meanwhile. docs/performance.md ("Refusals nobody reads") reports what it measured.

  scripts/http2-stuck-answers.py                          details, 1,100 x 15, window 1
  scripts/http2-stuck-answers.py --bin target/release/reviews --path /reviews/0
  scripts/http2-stuck-answers.py --window 0 --header-bytes 2000

Needs only Python 3 and `cargo build --release -p details` (or the service named by --bin).
"""

import argparse
import asyncio
import os
import random
import resource
import struct
import subprocess
import sys
import time
import urllib.request

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def literal(name: bytes, value: bytes) -> bytes:
    """An HPACK literal field, not indexed, with a literal name (RFC 7541 §6.2.2)."""
    def string(raw: bytes) -> bytes:
        if len(raw) < 127:
            return bytes([len(raw)]) + raw
        rest, prefix = len(raw) - 127, bytearray([127])
        while rest >= 128:
            prefix.append(rest % 128 + 128)
            rest //= 128
        prefix.append(rest)
        return bytes(prefix) + raw
    return b"\x00" + string(name) + string(value)


def request_block(path: str, header_bytes: int) -> bytes:
    # :method GET, :scheme http (static table), then :path and :authority as literals.
    block = b"\x82\x86" + literal(b":path", path.encode()) + literal(b":authority", b"x")
    if header_bytes:
        block += literal(b"x-padding", b"a" * header_bytes)
    return block


async def stuck_client(port: int, args, opened: list, closed: list) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        closed.append(1)
        return
    settings = frame(4, 0, 0, struct.pack(">HI", 4, args.window))
    block = request_block(args.path, args.header_bytes)
    streams = b"".join(frame(1, 5, 2 * n + 1, block) for n in range(args.streams))
    writer.write(PREFACE + settings + streams)
    opened.append(1)
    try:
        # Read and drop whatever arrives (HEADERS, SETTINGS); never send a WINDOW_UPDATE.
        while await reader.read(65536):
            pass
        closed.append(1)
    except OSError:
        closed.append(1)
    finally:
        writer.close()


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def attack(port: int, args) -> tuple:
    opened, closed = [], []
    tasks = []
    for start in range(0, args.connections, args.batch):
        for _ in range(start, min(start + args.batch, args.connections)):
            tasks.append(asyncio.create_task(stuck_client(port, args, opened, closed)))
        await asyncio.sleep(0.01)
    await asyncio.sleep(args.hold)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return len(opened), len(closed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default="target/release/details")
    parser.add_argument("--path", default="/details/0")
    parser.add_argument("--connections", type=int, default=1100)
    parser.add_argument("--streams", type=int, default=15)
    parser.add_argument("--window", type=int, default=1)
    parser.add_argument("--header-bytes", type=int, default=0)
    parser.add_argument("--batch", type=int, default=40, help="connections opened per 10 ms")
    parser.add_argument("--hold", type=float, default=8.0, help="seconds")
    args = parser.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port = random.randint(20000, 29999)
    env = {"PATH": "/usr/bin:/bin", "PORT": str(port), "RUST_LOG": "warn", "SERVICE_VERSION": "v1"}
    server = subprocess.Popen([args.bin], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    print(f"{args.bin} did not start on port {port}", file=sys.stderr)
                    return 1
                time.sleep(0.05)
        idle = peak_rss_mib(server.pid)
        opened, closed = asyncio.run(attack(port, args))
        print(
            f"{os.path.basename(args.bin)}: {opened} connections x {args.streams} streams, "
            f"window {args.window}: idle {idle:.1f} MiB, peak RSS {peak_rss_mib(server.pid):.1f} MiB, "
            f"{closed} closed by the server within {args.hold:g} s"
        )
        return 0
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
