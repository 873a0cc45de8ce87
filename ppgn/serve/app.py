"""The web app behind ``ppgn serve``: one page (``static/``), a JSON API and a stream of events.

    GET  /                          the page (no fonts, scripts or styles from elsewhere)
    GET  /api/config                the cap, whether user code is allowed, the presets
    GET  /api/models                the models: name, kind, classes, image shape
    GET  /api/layers?model=NAME     a PPGN's hidden layers and their unit counts
    POST /api/jobs                  a task's fields (``ppgn.serve.tasks.prepare``) → {"id", "position"}, or 400 {"error"}
    GET  /api/jobs/ID/events        Server-Sent Events: queued, started, frame (a picture and p(y | x) per
                                    step), then done (the grid, the commands, the files), stopped or error
    POST /api/jobs/ID/stop          the stop button
    GET  /api/jobs/ID/files/NAME    samples.npz (the contract), grid.png, and the inputs the commands read

Starlette, not FastAPI: every field is checked by the library's own checks (one line naming the
field), so request models would add a second, different set of messages and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..io import InputError, check_count
from ..models import WeightsError
from ..models.device import pick_device
from ..pipelines import load
from ..pipelines.registry import resolve, shipped_models
from ..pipelines.visualize import target_network, units_of
from ..sampling import DEFAULT_PRESET, PRESETS
from .jobs import Jobs, log
from .tasks import data_url, prepare, write

STATIC = Path(__file__).resolve().parent / "static"
MAX_WORK = 25_600  # chains × steps of one request by default: 128 chains of 200 steps
POLL = 0.05  # seconds between looks at a job's events while streaming them


@dataclass(frozen=True)
class Settings:
    """How the server was started.

    Attributes:
        models: model names or folders given on the command line (the first is selected); the
            shipped models are always offered besides.
        device: where the networks run (None: CUDA when present).
        allow_code: whether a visitor may plug in a network by ``module:factory`` (it runs code).
        max_work: the most chains × steps one request may ask for.
    """

    models: tuple[str, ...] = ()
    device: str | None = None
    allow_code: bool = False
    max_work: int = MAX_WORK


class Server:
    """The models, their pipelines (loaded on first use) and the queue of jobs."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.max_work = check_count(settings.max_work, "--max-work")
        self.allow_code, self.device = settings.allow_code, settings.device
        if settings.device:
            pick_device(settings.device)  # a device this machine lacks: one line now, not on the first request
        self._entries = {}
        for name in settings.models:
            try:
                self._entries[name] = resolve(name)
            except WeightsError as err:  # one line naming the valid ones
                raise WeightsError(f"--model {name}: {err}") from None
        for name, entry in shipped_models().items():
            if entry.path.is_file():
                self._entries.setdefault(name, entry)
        self._pipes: dict[str, object] = {}
        self._units: dict[str, object] = {}
        self._lock = threading.Lock()
        self.jobs = Jobs()
        self.folder = Path(tempfile.mkdtemp(prefix="ppgn-serve-"))

    def names(self) -> list[str]:
        return list(self._entries)

    def entry(self, name: str):
        if name not in self._entries:
            raise InputError(f"unknown model {name!r}; valid: {', '.join(self._entries)} (start 'ppgn serve --model DIR' to add a folder)")
        return self._entries[name]

    def pipeline(self, name: str):
        """The model's pipeline, loaded once (its networks load on first use)."""
        with self._lock:
            if name not in self._pipes:
                self._pipes[name] = load(name, self.device)
            return self._pipes[name]

    def unit_network(self, name: str):
        """The network whose hidden units the page lists (the shipped classifier as defined)."""
        pipe = self.pipeline(name)
        with self._lock:
            if name not in self._units:
                self._units[name] = target_network(pipe)
            return self._units[name]

    def describe(self) -> list[dict]:
        return [{"name": name, "kind": e.kind, "classes": list(e.classes), "image_shape": list(e.image_shape),
                 "dataset": e.dataset} for name, e in self._entries.items()]

    def submit(self, fields: dict):
        """Check the fields (raising a one-line ValueError or TypeError) and queue the task on its model's lane."""
        task = prepare(self, fields)

        def work(job) -> None:
            result = task.run(job)
            job.folder = self.folder / job.id
            files = write(result, job.folder)
            job.files = set(files)  # what /files/ serves: nothing else in the folder
            job.emit("done", grid=data_url(result.grid), commands=result.commands, summary=result.summary,
                     stopped_at=result.stopped_at, files={name: f"/api/jobs/{job.id}/files/{name}" for name in files})

        return self.jobs.submit(task.model, work)

    def warm(self) -> None:
        """Load the first model's networks, so that the first request starts at once (run in the background)."""
        try:
            name = self.names()[0]
            pipe = self.pipeline(name)
            if pipe.kind == "ppgn":
                pipe.generator(PRESETS[DEFAULT_PRESET].generator)
            else:
                _ = pipe.network
        except Exception:  # the first request reports it, in one line
            log.debug("warming up failed", exc_info=True)

    def close(self) -> None:
        self.jobs.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split())}, status_code=status)


def create_app(settings: Settings | None = None) -> Starlette:
    """The app for ``settings``; the models are resolved now (WeightsError: one line), their networks on first use."""
    server = Server(settings or Settings())

    def index(request: Request):
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    def config(request: Request):
        return JSONResponse({"max_work": server.max_work, "allow_code": server.allow_code, "device": server.device,
                             "presets": {name: {"description": p.description, "steps": p.sampler.steps, "eps1": p.sampler.eps1,
                                                "eps2": p.sampler.eps2, "eps3": p.sampler.eps3} for name, p in PRESETS.items()},
                             "default_preset": DEFAULT_PRESET, "selected": server.names()[0] if server.names() else None})

    def models(request: Request):
        return JSONResponse(server.describe())

    def layers(request: Request):
        name = request.query_params.get("model", "")
        try:
            if server.entry(name).kind != "ppgn":
                return _error(f"{name} is a {server.entry(name).kind} model; hidden units are listed for PPGN models")
            pipe = server.pipeline(name)
            return JSONResponse(units_of(pipe, server.unit_network(name)))
        except (ValueError, WeightsError) as err:
            return _error(str(err))

    async def submit(request: Request):
        try:
            fields = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error("the request body must be a JSON object of fields")
        try:
            job = await asyncio.to_thread(server.submit, fields)  # checking may load a network
        except (ValueError, TypeError) as err:
            return _error(str(err))
        return JSONResponse({"id": job.id, "position": job.events[0]["position"]})

    def _job(request: Request):
        return server.jobs.get(request.path_params["id"])

    async def events(request: Request):
        job = _job(request)
        if job is None:
            return _error("no such job (finished jobs are kept for a while, then forgotten)", 404)

        async def stream():
            seen = 0
            while True:
                new = job.events[seen:]
                seen += len(new)
                for event in new:
                    yield f"data: {json.dumps(event)}\n\n"
                if new and job.finished and seen == len(job.events):
                    return
                if await request.is_disconnected():
                    return
                await asyncio.sleep(POLL)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    def stop(request: Request):
        job = server.jobs.cancel(request.path_params["id"])
        if job is None:
            return _error("no such job", 404)
        return JSONResponse({"id": job.id, "finished": job.finished})

    def files(request: Request):
        job, name = _job(request), request.path_params["name"]
        if job is None or name not in job.files:
            return _error(f"no file {name!r} for this job", 404)
        media = "application/octet-stream" if name.endswith(".npz") else "image/png"
        return FileResponse(job.folder / name, media_type=media, filename=name)

    @asynccontextmanager
    async def lifespan(app):
        threading.Thread(target=server.warm, name="ppgn-serve-warm", daemon=True).start()
        yield
        server.close()

    app = Starlette(routes=[
        Route("/", index),
        Route("/api/config", config),
        Route("/api/models", models),
        Route("/api/layers", layers),
        Route("/api/jobs", submit, methods=["POST"]),
        Route("/api/jobs/{id}/events", events),
        Route("/api/jobs/{id}/stop", stop, methods=["POST"]),
        Route("/api/jobs/{id}/files/{name}", files),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ], lifespan=lifespan)  # fmt: skip
    app.state.server = server
    return app


def serve(app: Starlette, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve ``app`` until Ctrl+C."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning")
