"""Peak resident memory of a process, as Linux reports it.

``VmHWM`` in ``/proc/<pid>/status`` is the high-water mark of the process's resident set, so
reading it just before a process is stopped gives its peak over the whole run. For a process
that exits on its own, :func:`run_measured` takes the peak from ``wait4`` instead.

    python -m bench.rss PID [PID ...]    print the peak RSS of running processes
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


def peak_rss_kib(pid: int) -> int | None:
    """VmHWM of a running process in KiB, or None when it is gone (or not Linux)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a running process has used so far (its threads included), or
    None when it is gone: unlike wall time, it hardly moves with the machine's other load."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float | None:
    """CPU time of this machine's PostgreSQL so far: every ``postgres`` process's own, plus
    what the postmaster's ended children (closed connections) used. None when none runs here."""
    tick = os.sysconf("SC_CLK_TCK")
    total, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, _, rest = stat.read_text().rpartition(")")
        except OSError:
            continue
        if not head.endswith("(postgres"):
            continue
        fields = rest.split()
        found = True
        total += int(fields[11]) + int(fields[12])
        if fields[1] == "1" or not _is_postgres(fields[1]):  # the postmaster
            total += int(fields[13]) + int(fields[14])
    return total / tick if found else None


def _is_postgres(pid: str) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
    except OSError:
        return False


def mib(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.1f} MiB"


@dataclass(frozen=True)
class Measured:
    returncode: int
    seconds: float
    peak_rss_kib: int
    stdout: str
    stderr: str


def run_measured(cmd: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float) -> Measured:
    """Run ``cmd`` to completion; return its exit code, wall time and peak RSS (from wait4).

    The process is killed if it outlives ``timeout`` seconds."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), env=dict(env), cwd=cwd, stdout=out, stderr=err, start_new_session=True
        )
        timer = threading.Timer(timeout, _kill_group, (proc.pid,))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait again
        out.seek(0)
        err.seek(0)
        return Measured(
            returncode=proc.returncode,
            seconds=seconds,
            peak_rss_kib=int(usage.ru_maxrss),  # KiB on Linux
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    if not argv or not all(arg.isdigit() for arg in argv):
        print(__doc__)
        return 2
    for arg in argv:
        print(f"{arg}: peak RSS {mib(peak_rss_kib(int(arg)))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
