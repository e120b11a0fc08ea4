"""`lytte bench --profile DIR`: py-spy on every worker during the mixed run, and where their time goes.

py-spy records collapsed stacks (`--format raw`: one line per distinct stack, `frame;frame;... count`,
root first; speedscope and flamegraph.pl read them) with `--idle`, so that waiting shows, and `--threads`,
so that each stack starts with its thread.

Each sample goes to one step, found from the leaf up: the innermost frame that a step claims decides, so a
pydantic call made by intake counts as pydantic, and a frame of `score_batch.py` counts as aggregation only
for its own time and that of children no step claims. Layers that every step goes through (aiokafka's
connections and protocol, faust's and mode's service code) claim a sample only when no step-specific frame
is on its stack (`FALLBACK`), and asyncio only when nothing else is (`LOOP`): a produce request's socket
write counts as sends/producer, a fetch's as consumer fetch. Changelog writes go through the producer and
so count as sends/producer; durable tables is the rest of the table work. faust's Cython stream iterator
and conductor have no Python frames: their time shows in the frames around them.

Sampling is by wall clock: on a busy machine a thread that waits for a CPU is counted where it was
preempted (often on the way out of a system call such as a socket write), not as idle. So the breakdown
comes with the kernel's account of each worker's main thread over the same time (schedstat): on a CPU,
waiting for one, blocked or sleeping.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

#: (step, file path part, function name part or "" for any), tried in order on each frame, leaf first.
RULES: list[tuple[str, str, str]] = [
    ("idle", "/selectors.py", "select"),
    ("intake/parse", "streams/core/intake.py", ""),
    ("matching", "streams/core/matching.py", ""),
    ("VADER", "/vaderSentiment/", ""),
    ("VADER", "streams/sentiment/", ""),
    ("pydantic", "/pydantic/", ""),
    ("pydantic", "/pydantic_core/", ""),
    ("aggregation", "streams/core/", ""),  # aggregate*.py, score_batch.py, scoring.py, dedup.py, counters.py
    ("sends/producer", "/aiokafka/producer/", ""),
    ("sends/producer", "/faust/transport/producer.py", ""),
    ("sends/producer", "/faust/transport/drivers/aiokafka.py", "Producer"),
    ("sends/producer", "/faust/topics.py", ""),
    ("sends/producer", "/faust/", "send"),
    ("sends/producer", "/faust/", "publish"),
    ("durable tables", "streams/agents/durable_table.py", ""),
    ("durable tables", "/faust/tables/", ""),
    ("durable tables", "/faust/stores/", ""),
    ("Redis", "/redis/", ""),
    ("Redis", "streams/agents/redis_sink.py", ""),
    ("consumer fetch", "/aiokafka/consumer/", ""),
    ("faust stream/consumer", "/faust/streams.py", ""),
    ("faust stream/consumer", "/faust/transport/consumer.py", ""),
    ("faust stream/consumer", "/faust/transport/conductor.py", ""),
    ("faust stream/consumer", "/faust/transport/drivers/aiokafka.py", ""),
    ("faust stream/consumer", "/faust/agents/", ""),
    ("faust stream/consumer", "/faust/channels.py", ""),
    ("faust stream/consumer", "/faust/events.py", ""),
]
#: Claimed only when no frame of the stack matches RULES.
FALLBACK: list[tuple[str, str, str]] = [
    ("kafka client (other)", "/aiokafka/", ""),
    ("faust stream/consumer", "/faust/", ""),
    ("faust stream/consumer", "/mode/", ""),
    ("logging", "/logging/", ""),
]
#: Claimed only when nothing else is on the stack: the event loop's own work.
LOOP: list[tuple[str, str, str]] = [("asyncio loop", "/asyncio/", "")]
#: The rows of the table; a sample nothing claims is "other".
STEPS = [
    "intake/parse",
    "matching",
    "VADER",
    "pydantic",
    "aggregation",
    "sends/producer",
    "durable tables",
    "Redis",
    "faust stream/consumer",
    "consumer fetch",
    "kafka client (other)",
    "asyncio loop",
    "logging",
    "other",
    "idle",
]
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*):(?P<line>\d+)\)$")


def _claim(stack: list[str], rules: list[tuple[str, str, str]]) -> tuple[str, str] | None:
    for frame in reversed(stack):
        m = _FRAME.match(frame)
        function, file = (m["function"], m["file"]) if m else (frame, "")
        for step, part, name in rules:
            if part in file and name in function:
                return step, frame
    return None


def work_frames(stack: list[str]) -> list[str]:
    """The frames from the event loop's innermost `_run_once` on: those above it (the CLI, faust's Worker,
    `run_forever`) are on every stack of the thread and are not the work."""
    for i in range(len(stack) - 1, -1, -1):
        if "._run_once (" in stack[i] and "/asyncio/" in stack[i]:
            return stack[i:]
    return stack


def attribute(stack: list[str]) -> tuple[str, str]:
    """(step, the frame that decided it) for one sample's stack, frames root first as `function (file:line)`;
    ("other", leaf) when nothing claims it."""
    work = work_frames(stack)
    claimed = _claim(work, RULES) or _claim(work, FALLBACK) or _claim(work, LOOP)
    return claimed or ("other", stack[-1] if stack else "")


def step_of(stack: list[str]) -> str:
    return attribute(stack)[0]


def short_frame(frame: str) -> str:
    """The file path cut to the package: "f (/v/site-packages/aiokafka/conn.py:4)" -> "f (aiokafka/conn.py:4)"."""
    return re.sub(r"\((?:\S*/(?:site-packages|python3\.\d+)/|\S*/(?=(?:streams|schemas)/))", "(", frame)


@dataclass
class Breakdown:
    """Samples per step, over all threads and per thread name, and the frames that decided them."""

    total: Counter = field(default_factory=Counter)
    by_thread: dict[str, Counter] = field(default_factory=dict)
    deciding: Counter = field(default_factory=Counter)  # (step, short frame) -> samples

    def add(self, thread: str, stack: list[str], samples: int) -> None:
        step, frame = attribute(stack)
        self.total[step] += samples
        self.by_thread.setdefault(thread, Counter())[step] += samples
        self.deciding[step, short_frame(frame)] += samples

    @property
    def samples(self) -> int:
        return sum(self.total.values())

    def threads(self) -> list[str]:
        """MainThread (the event loop running the agents) first, then the others by samples not idle."""
        busy = {t: c.total() - c["idle"] for t, c in self.by_thread.items()}
        return sorted(self.by_thread, key=lambda t: (t != "MainThread", -busy[t], t))


def parse_line(line: str) -> tuple[str, list[str], int] | None:
    """One collapsed-stack line -> (thread name, frames root first, samples); None for a blank or odd line.

    >>> parse_line("thread (0x1c): MainThread;run (a.py:3);EpollSelector.select (/x/selectors.py:468) 7")
    ('MainThread', ['run (a.py:3)', 'EpollSelector.select (/x/selectors.py:468)'], 7)
    """
    stack, _, count = line.rstrip("\n").rpartition(" ")
    if not stack or not count.isdigit():
        return None
    frames = stack.split(";")
    thread = "all"
    while frames and frames[0].startswith(("process ", "thread ")):
        head = frames.pop(0)
        if head.startswith("thread "):
            thread = head.partition(": ")[2] or head
    return thread, frames, int(count)


def breakdown(lines: Iterable[str]) -> Breakdown:
    result = Breakdown()
    for line in lines:
        parsed = parse_line(line)
        if parsed is not None:
            thread, frames, samples = parsed
            result.add(thread, frames, samples)
    return result


def table(b: Breakdown, threads: int = 2) -> str:
    """Share of samples per step: MainThread, the busiest other threads, all threads together."""
    names = b.threads()[:threads]
    columns = [(name, b.by_thread[name]) for name in names] + [("all threads", b.total)]
    header = f"{'step':<24}" + "".join(f"{name[:14]:>15}" for name, _ in columns)
    rows = [header, "-" * len(header)]
    for step in STEPS:
        rows.append(f"{step:<24}" + "".join(f"{100 * c[step] / max(1, c.total()):14.1f}%" for _, c in columns))
    rows.append(f"{'samples':<24}" + "".join(f"{c.total():>15}" for _, c in columns))
    return "\n".join(rows)


def top_frames(b: Breakdown, per_step: int = 3) -> str:
    """The frames that decided most samples of each step (what the step is made of)."""
    rows = []
    for step in STEPS:
        frames = sorted(((n, f) for (s, f), n in b.deciding.items() if s == step), reverse=True)[:per_step]
        rows += [f"{step:<24}{100 * n / max(1, b.samples):6.1f}%  {frame}" for n, frame in frames]
    return "\n".join(rows)


# -- running py-spy ---------------------------------------------------------------------------------------


def find_py_spy() -> str | None:
    """py-spy beside this interpreter (the bench extra of the virtual environment), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def parse_schedstat(text: str) -> tuple[int, int]:
    """(ns on a CPU, ns runnable but waiting for a CPU) from a /proc/<pid>/task/<tid>/schedstat line.

    >>> parse_schedstat("235871573 354712306 922")
    (235871573, 354712306)
    """
    on_cpu, waiting, *_ = text.split()
    return int(on_cpu), int(waiting)


def cpu_line(name: str, wall_s: float, on_cpu_ns: int, waiting_ns: int) -> str:
    """What a thread did with the wall-clock time that the samples cover.

    >>> cpu_line("worker 7 MainThread", 10.0, 3 * 10**9, 6 * 10**9)
    'worker 7 MainThread: on a CPU 30%, waiting for a CPU 60%, blocked or sleeping 10% of 10.0 s'
    """
    on, waiting = on_cpu_ns / 1e9 / wall_s, waiting_ns / 1e9 / wall_s
    return (
        f"{name}: on a CPU {on:.0%}, waiting for a CPU {waiting:.0%}, "
        f"blocked or sleeping {max(0.0, 1 - on - waiting):.0%} of {wall_s:.1f} s"
    )


def _schedstat(pid: int) -> tuple[int, int] | None:
    try:
        return parse_schedstat(Path(f"/proc/{pid}/task/{pid}/schedstat").read_text())
    except (OSError, ValueError):
        return None


class Profiler:
    """One `py-spy record` per worker process, into DIR/worker-<pid>.txt; a py-spy that cannot attach
    (no ptrace rights, say) is reported and left out, and the run goes on."""

    RATE = 100  # samples per second

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files: list[Path] = []
        self._running: list[tuple[subprocess.Popen, Path, Path]] = []
        self._sched_start: dict[int, tuple[float, tuple[int, int] | None]] = {}
        #: per worker, how its main thread spent the profiled time (the kernel's schedstat)
        self.cpu: list[str] = []

    def start(self, pids: list[int]) -> None:
        py_spy = find_py_spy()
        if py_spy is None:
            print("bench: no py-spy (pip install -e '.[bench]'); going on without the profile", flush=True)
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        self._sched_start = {pid: (time.monotonic(), _schedstat(pid)) for pid in pids}
        for pid in pids:
            out, log = self.directory / f"worker-{pid}.txt", self.directory / f"py-spy-{pid}.log"
            command = [py_spy, "record", "--pid", str(pid), "--idle", "--threads", "--full-filenames"]
            command += ["--nonblocking", "--rate", str(self.RATE), "--format", "raw", "--output", str(out)]
            process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
            self._running.append((process, out, log))
        time.sleep(1.0)
        for process, _, log in list(self._running):
            if process.poll() is not None:
                self._running.remove((process, _, log))
                why = log.read_text(errors="replace").strip().splitlines()
                print(f"bench: py-spy could not profile ({why[-1] if why else process.returncode}); going on without")

    def stop(self) -> None:
        for pid, (t0, before) in self._sched_start.items():
            after = _schedstat(pid)
            if before is not None and after is not None:
                wall = time.monotonic() - t0
                self.cpu.append(cpu_line(f"worker {pid} MainThread", wall, after[0] - before[0], after[1] - before[1]))
        for process, _, _ in self._running:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGINT)  # py-spy writes its file on Ctrl-C
        for process, out, log in self._running:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if out.exists() and out.stat().st_size > 0:
                self.files.append(out)
            else:
                print(f"bench: py-spy wrote no profile (see {log})", flush=True)
        self._running = []

    def write_breakdown(self) -> str | None:
        """The table over every worker's samples, also written to DIR/breakdown.txt with the frames behind each
        step and, with several workers, a table per worker; None without samples."""
        result = breakdown(line for path in self.files for line in path.read_text().splitlines())
        if not result.samples:
            return None
        text = "\n".join([table(result), *self.cpu])
        parts = [text, "the frames that decided the most samples (share of all samples):\n" + top_frames(result)]
        if len(self.files) > 1:
            for path in self.files:
                parts.append(f"{path.stem}:\n" + table(breakdown(path.read_text().splitlines())))
        (self.directory / "breakdown.txt").write_text("\n\n".join(parts) + "\n")
        return text
