"""Instructions per received event in ``Session._receive``, counted by valgrind (callgrind): a figure that does not
move with the load of a shared machine, unlike the events/s of ``throughput.py``.

It runs this script twice under callgrind, once building the session and the stream only, once also feeding the
stream through ``Session._receive``; the difference is the receive path's cost. Needs ``valgrind`` (Debian
package). Run:

    python bench/receive_instructions.py [--events 10000]

To compare two trees, run it in each (``PYTHONPATH=<tree>``): it imports ``rtwidget`` and ``throughput.py`` from
the tree it sits in.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def child(n_events: int, feed: bool) -> None:
    sys.path[:0] = [ROOT, HERE]
    import throughput

    from rtwidget import Session

    stream = throughput.make_stream(n_events)
    session = Session()
    session.on("response.done", lambda e: None)  # one handler, as in throughput.py
    if feed:
        for text in stream:
            session._receive(text)


def instructions(n_events: int, feed: bool) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={os.path.join(tmp, 'cg.out')}",
                sys.executable,
                os.path.abspath(__file__),
                "--child",
                "feed" if feed else "build",
                "--events",
                str(n_events),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])},
        )
    match = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if match is None:
        raise RuntimeError(f"valgrind printed no instruction count:\n{out.stderr[-2000:]}")
    return int(match.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--child", choices=["build", "feed"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.events, args.child == "feed")
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed: apt-get install -y valgrind")
    built = instructions(args.events, feed=False)
    fed = instructions(args.events, feed=True)
    print(f"tree: {ROOT}")
    print(f"startup + stream of {args.events} events: {built:,} instructions")
    print(f"Session._receive: {(fed - built) / args.events:,.0f} instructions per event ({fed - built:,} in all)")


if __name__ == "__main__":
    main()
