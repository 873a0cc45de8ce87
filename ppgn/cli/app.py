"""The ``ppgn`` command line: one app, one module per command group.

Every command parses its arguments, makes one library call and writes its outputs; the logic
lives in the library (``ppgn.pipelines``, ``ppgn.training``, ``ppgn.evaluation``).
"""

from __future__ import annotations

import typer

from . import bench, cinn, conditions, data, sample, train

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Plug & Play Generative Networks.")
app.registered_commands += sample.app.registered_commands  # sample, eval, real, export
app.registered_commands += conditions.app.registered_commands  # visualize, inpaint
app.registered_commands += cinn.app.registered_commands  # colorize
app.add_typer(train.train_app, name="train")
app.add_typer(bench.bench_app, name="bench")
app.add_typer(data.data_app, name="data")
app.add_typer(cinn.cinn_app, name="cinn")


def main() -> None:
    app()
