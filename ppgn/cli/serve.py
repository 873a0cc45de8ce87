"""``ppgn serve``: the local web page (``ppgn.serve``); fastapi's kin are imported only when it runs."""

from __future__ import annotations

from typing import List, Optional

import typer

from .options import Device, checked, fail

app = typer.Typer()


@app.command("serve")
def serve_cmd(
    model: Optional[List[str]] = typer.Option(None, help="A shipped model name or a model folder to offer first (repeat it for several); the shipped models are offered besides."),
    host: str = typer.Option("127.0.0.1", help="The address to listen on (default: this machine only)."),
    port: int = typer.Option(7860, callback=checked(low=1, high=65535, integer=True), help="The port to listen on."),
    max_work: int = typer.Option(25_600, callback=checked(low=1, high=10**9, integer=True), help="The most chains × steps one request may ask for."),
    allow_code: bool = typer.Option(False, "--allow-code", help="Let the page plug in a network by module:factory (it imports and runs that code); only with a loopback --host."),
    device: Optional[str] = Device,
):
    """A local web page to explore the models: sample live, inpaint, the cINNs; offline, one request at a time per model."""
    from ..io.checks import InputError
    from ..serve.address import check_address, is_loopback

    if allow_code and not is_loopback(host):
        fail(f"--allow-code lets visitors run code; it needs a loopback --host such as 127.0.0.1, not {host}")
    try:
        check_address(host, port)  # a probe, closed at once: the server binds in serve()
    except InputError as err:
        fail(str(err))
    try:
        from ..serve.app import Settings, create_app, serve
    except ImportError as err:
        fail(f"ppgn serve needs starlette and uvicorn ({err}); install them with: pip install 'ppgn[serve]'")
    from ..models import WeightsError

    try:
        application = create_app(Settings(models=tuple(model or ()), device=device, allow_code=allow_code, max_work=max_work))
    except (ValueError, WeightsError) as err:
        fail(str(err))
    if not is_loopback(host):
        typer.echo(f"warning: listening on {host}: anyone who can reach this machine can use the page", err=True)
    typer.echo(f"ppgn serve: http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/ (Ctrl+C stops it)", err=True)
    serve(application, host, port)
