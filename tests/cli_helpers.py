"""What the command-line tests share: run a command in-process, and check a one-line error."""

from typer.testing import CliRunner

from ppgn.cli import app

runner = CliRunner()


def run(*args):
    """``ppgn ARGS...`` in this process; every argument is passed as text."""
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, *needles):
    """The command failed with status 2 and one line ``error: ...`` that holds every needle."""
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert message.startswith("error:") and "\n" not in message and "Traceback" not in message, message
    for needle in needles:
        assert needle in message, message
