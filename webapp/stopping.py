"""Stopping what the launcher started: SIGINT, SIGTERM and SIGHUP become one orderly stop.

Children run in process groups of their own, so a terminal's Ctrl-C (sent to the whole foreground
group) reaches the launcher alone and cannot race the stop it orders: web and worker first, then
the embedded servers (webapp/embedded.py), each TERM, a wait, then KILL.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# docker stop waits 10 s before its SIGKILL; a worker finishing a job gets as long
STOP_SECONDS = float(os.environ.get("LAB_STOP_SECONDS", "10"))


class Stop(BaseException):
    """A stop signal arrived (a BaseException, as KeyboardInterrupt: `except Exception` must not swallow it)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """The first stop signal raises Stop in the main thread, or, inside `shielded()`, as that block
    ends (a server half started or half stopped would be left behind). Later signals are ignored:
    the stop they ask for is under way and must not be cut short."""

    def __init__(self):
        self.received: int | None = None
        self._raised = False
        self._shields = 0

    def install(self, signums=STOP_SIGNALS):
        for signum in signums:
            # installed even where the signal arrived ignored (a script's `cmd &`, some containers)
            signal.signal(signum, self._handle)

    def _handle(self, signum, frame):
        if self.received is None:
            self.received = signum
            self._raise_pending()

    def _raise_pending(self):
        if self.received is not None and not self._raised and not self._shields:
            self._raised = True
            raise Stop(self.received)

    @contextlib.contextmanager
    def shielded(self):
        self._shields += 1
        try:
            yield
        finally:
            self._shields -= 1
        self._raise_pending()


signals = StopSignals()


def _set_terminal_group(tty: int, pgid: int):
    # a process outside the terminal's foreground group is stopped by SIGTTOU for this unless it blocks it
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
    try:
        os.tcsetpgrp(tty, pgid)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def foreground(pgid: int | None = None):
    """Give the terminal to a process group while the block runs, as a shell gives it to a job, and
    back after; `None`: to this process, in a group of its own. A terminal's Ctrl-C then reaches that
    group only (not make, which would report "Interrupt" and exit 130 whatever the launcher does).
    Nothing happens without a terminal or in a background job."""
    try:
        tty = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        yield
        return
    try:
        before = os.tcgetpgrp(tty)
        if before != os.getpgrp():
            yield
            return
        if pgid is None:
            if os.getpgrp() != os.getpid():
                os.setpgid(0, 0)
            pgid = os.getpid()
        _set_terminal_group(tty, pgid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGCONT)  # a child that read the terminal before it was given it was stopped
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                _set_terminal_group(tty, before)
    finally:
        os.close(tty)


def exit_status(returncode: int) -> int:
    """A shell's exit status: 128 + N for a process killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


class Children:
    """Processes started in groups of their own; leaving the block stops every one still running."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        with signals.shielded():
            self.stop()

    def start(self, cmd, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, process_group=0, **kwargs)
        self.procs.append(proc)
        return proc

    def call(self, cmd, **kwargs) -> int:
        return self.start(cmd, **kwargs).wait()

    @staticmethod
    def wait_any(procs) -> subprocess.Popen:
        """The first of `procs` to exit (a stop signal interrupts the wait)."""
        ended = threading.Event()
        for proc in procs:
            threading.Thread(target=lambda p=proc: (p.wait(), ended.set()), daemon=True).start()
        ended.wait()
        return next(p for p in procs if p.poll() is not None)

    def stop(self, sig=signal.SIGTERM, group=False, timeout=STOP_SECONDS):
        """Send `sig` to each running child (to its whole group with `group`), wait up to `timeout`
        for them, then KILL what is left of their groups (a pool process its parent left behind)."""
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig) if group else proc.send_signal(sig)
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
