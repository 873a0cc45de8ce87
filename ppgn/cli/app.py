"""The ``ppgn`` command line: one app, one module per command group.

Every command parses its arguments, makes one library call and writes its outputs; the logic
lives in the library (``ppgn.pipelines``, ``ppgn.training``, ``ppgn.evaluation``).
"""

from __future__ import annotations

import sys

import typer

from . import bench, cinn, conditions, data, sample, serve, train

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Plug & Play Generative Networks.")
app.registered_commands += sample.app.registered_commands  # sample, eval, real, export
app.registered_commands += conditions.app.registered_commands  # visualize, inpaint
app.registered_commands += cinn.app.registered_commands  # colorize
app.registered_commands += serve.app.registered_commands  # serve
app.add_typer(train.train_app, name="train")
app.add_typer(bench.bench_app, name="bench")
app.add_typer(data.data_app, name="data")
app.add_typer(cinn.cinn_app, name="cinn")


def main(args: list[str] | None = None) -> None:
    """Run the command line and exit with its status: 0 done, 2 refused (one line on stderr)."""
    sys.exit(run(args))


def run(args: list[str] | None = None) -> int:
    """The command line's exit status, every refusal as one line ``error: ...`` on stderr.

    Argument errors (click's) and the library's declared faults (``ValueError`` and its kin:
    ``InputError``, ``WeightsError``, ``UserNetworkError``, ``DataNotFoundError``; ``OSError``;
    running out of memory) end the same way; anything else is a bug in ppgn and keeps its
    traceback, as does everything with ``PPGN_DEBUG=1``.
    """
    usage_error, click_error, no_args_is_help = _click_errors()
    try:
        result = app(args=args, prog_name="ppgn", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except no_args_is_help as err:  # `ppgn train` alone: its help, as with --help
        typer.echo(err.ctx.get_help())
        return 0
    except usage_error as err:
        where = err.ctx.command_path if err.ctx is not None else "ppgn"
        return _refuse(f"{err.format_message()} (see `{where} --help`)")
    except click_error as err:
        return _refuse(err.format_message(), err.exit_code)
    except typer.Abort:
        return _refuse("aborted", 1)
    except Exception as err:
        if not _declared(err) or _debug():
            raise
        return _refuse(str(err) or type(err).__name__)


def _click_errors() -> tuple[type, type, type | tuple]:
    """Click's UsageError, ClickException and NoArgsIsHelpError, from click or typer's own copy of it."""
    usage = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
    module = sys.modules[usage.__module__]
    return usage, module.ClickException, getattr(module, "NoArgsIsHelpError", ())


def _declared(err: Exception) -> bool:
    """A fault the library reports to users (bad input, missing or corrupt files, out of memory)."""
    oom = getattr(sys.modules.get("torch"), "OutOfMemoryError", ())
    return isinstance(err, (ValueError, OSError, MemoryError)) or (oom and isinstance(err, oom))


def _debug() -> bool:
    from ..io.checks import env_flag

    return env_flag("PPGN_DEBUG")


def _refuse(message: str, code: int = 2) -> int:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return code
