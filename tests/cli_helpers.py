"""What the command-line tests share: run a command in-process, and check a one-line error."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """What ``run`` returns, under CliRunner's names: the exit status and what was printed."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout, then stderr."""
        return self.stdout + self.stderr


def run(*args) -> Result:
    """``ppgn ARGS...`` in this process; every argument is passed as text.

    It goes through the real entry point (``ppgn.cli.app.run``, see ``invoke``), so a refusal
    is the one line ``error: ...`` that the ``ppgn`` executable prints, not click's usage box.
    """
    return Result(*invoke(*args))


def one_line_error(result, *needles):
    """The command failed with status 2 and one line ``error: ...`` on stderr that holds every needle."""
    assert result.exit_code == 2, result.output
    message = (result.stderr if isinstance(result, Result) else result.output).strip()
    assert message.startswith("error:") and "\n" not in message and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in message, message


class _RowTimeout(BaseException):
    """A command ran past its time limit (raised by the alarm, not catchable as an Exception)."""


def invoke(*args, timeout: float | None = None, memory: float | None = None) -> tuple[int, str, str]:
    """``ppgn ARGS...`` in this process through the real entry point, ``ppgn.cli.app.run``:
    (exit status, stdout, stderr), the two streams captured apart.

    Unlike ``run`` (CliRunner on the typer app), this goes through the one-line handler that
    the ``ppgn`` executable uses. An exception escaping it is printed as Python would print it
    (a traceback on stderr, status 1); past ``timeout`` seconds the command is stopped (status 124).
    With ``memory`` (GiB), the process may grow by that much address space while the command runs:
    a command that tries to allocate more gets an allocation error instead of exhausting the machine.
    """
    import contextlib
    import io
    import os
    import resource
    import signal
    import traceback

    from ppgn.cli.app import run as entry

    out, err = io.StringIO(), io.StringIO()

    def alarm(signum, frame):
        raise _RowTimeout()

    previous = signal.signal(signal.SIGALRM, alarm) if timeout else None
    limits = resource.getrlimit(resource.RLIMIT_AS)
    if memory:
        with open("/proc/self/statm") as statm:
            now = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        cap = now + int(memory * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap if limits[1] == resource.RLIM_INFINITY else min(cap, limits[1]), limits[1]))
    try:
        with _built_once(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                try:
                    if timeout:
                        signal.setitimer(signal.ITIMER_REAL, timeout)
                    code = entry([str(a) for a in args])
                finally:
                    if timeout:
                        signal.setitimer(signal.ITIMER_REAL, 0)
            except SystemExit as exc:  # what sys.exit would make of it
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except _RowTimeout:
                err.write(f"\n[still running after {timeout} s: stopped]\n")
                code = 124
            except Exception:  # noqa: BLE001 - what the `ppgn` executable would show
                traceback.print_exc(file=err)
                code = 1
    finally:
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, limits)
        if timeout:
            signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue(), err.getvalue()


_COMMANDS: dict = {}


def _built_once():
    """Typer rebuilds the click command tree of the app on every call (~0.1 s for ppgn's): while
    this is active, each app's tree is built once and reused (a click command keeps no state
    between calls). The key holds what is registered, so an app changed since is built anew."""
    import contextlib

    import typer.main

    build = typer.main.get_command

    def cached(app):
        key = (id(app), len(app.registered_commands), len(app.registered_groups))
        if key not in _COMMANDS:
            _COMMANDS[key] = build(app)
        return _COMMANDS[key]

    @contextlib.contextmanager
    def patched():
        typer.main.get_command = cached
        try:
            yield
        finally:
            typer.main.get_command = build

    return patched()
