#!/usr/bin/env python3
"""Draws docs/traffic-progress.svg from a real run of `bookinfo traffic` on a terminal.

    python3 docs/traffic-picture.py URL [FLAGS...]     (with `cargo run --release` serving URL)

Runs target/release/bookinfo traffic under a pseudo-terminal 100 columns wide, so that the
tool draws its live progress line as it would for a person; keeps the line as it stood at
70 % of the run, then the report the run ended with, and writes both as an SVG picture (text
on a dark background, as a terminal shows them). Nothing in the picture is typed by hand.
"""

import html
import os
import pty
import re
import select
import shlex
import struct
import sys
import time
import fcntl
import termios

COLUMNS, ROWS = 100, 40
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run(argv):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    frames, buffer, started = [], b"", time.monotonic()
    while True:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        buffer += chunk
        frames.append((time.monotonic() - started, buffer.decode("utf-8", "replace")))
    _, status = os.waitpid(pid, 0)
    return frames, buffer.decode("utf-8", "replace"), os.waitstatus_to_exitcode(status)


def screen_line(text):
    """What a terminal shows of the last line drawn: the text after the last carriage return."""
    last = ANSI.sub("", text.replace("\r\n", "\n")).split("\n")[-1]
    return last.split("\r")[-1].rstrip()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    argv = ["target/release/bookinfo", "traffic", *sys.argv[1:]]
    frames, output, code = run(argv)
    if not frames:
        sys.exit("no output")
    ended = frames[-1][0]
    progress = ""
    for at, text in frames:
        line = screen_line(text)
        if at <= 0.7 * ended and "/s" in line:
            progress = line
    report = [ANSI.sub("", line.split("\r")[-1]).rstrip() for line in output.replace("\r\n", "\n").split("\n")]
    report = [line for line in report if line][-40:]
    start = next(i for i, line in enumerate(report) if line.startswith("http"))
    lines = (
        ["$ bookinfo traffic " + shlex.join(sys.argv[1:]), "", "while it runs (stderr, redrawn in place):", progress, "",
         "when it ends (stdout, and each --expect on stderr):"]
        + report[start:]
    )
    char_width, line_height, pad = 7.8, 17, 14
    width = int(max(len(line) for line in lines) * char_width + 2 * pad)
    height = len(lines) * line_height + 2 * pad
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f'<rect width="{width}" height="{height}" rx="6" fill="#1e1e1e"/>',
        '<g font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="13" fill="#d4d4d4">',
    ]
    for i, line in enumerate(lines):
        colour = ' fill="#9cdcfe"' if line.startswith(("$", "while", "when")) else ""
        y = pad + (i + 1) * line_height - 4
        out.append(f'<text x="{pad}" y="{y}" xml:space="preserve"{colour}>{html.escape(line)}</text>')
    out += ["</g>", "</svg>", ""]
    with open("docs/traffic-progress.svg", "w") as svg:
        svg.write("\n".join(out))
    print("\n".join(lines))
    print(f"exit {code}; wrote docs/traffic-progress.svg", file=sys.stderr)


if __name__ == "__main__":
    main()
