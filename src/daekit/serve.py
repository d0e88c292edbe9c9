"""``daekit serve``: a local web page for cleaning photos (Starlette + uvicorn, no external requests).

One page (``web/index.html``, plain HTML/JS, nothing from a CDN): drop or pick an image, choose a
model (shipped ones and run folders named on the command line), a strength, a colour-noise strength and
the wide pass (auto / on / off, as ``--wide``), watch the progress of the tiled denoising, see which model
ran, with or without the wide pass, and how long it took, compare before/after with a slider and zoom,
download the full-resolution result in the upload's own format and bit depth.

Safety: uploads are limited in size (``--max-upload-mb``) and in pixels (``--max-pixels``, from the
header), their type is checked from the first bytes (PNG, JPEG, TIFF, BMP), and a request body that
stalls for ``BODY_STALL_S`` is dropped. Under load: ``workers`` jobs run at once and ``queue`` more wait;
beyond that an upload gets "busy, retry" (HTTP 503) at once, so memory is bounded by the workers, not
by the clients. A job whose page went away (it said so, or stopped polling for ``STALE_S``) is cancelled
between tiles. Every file lives in one temporary folder (named with the server's pid) removed when the
server stops; folders of a server that was killed are removed at the next start. Errors reach the page
as one-line messages that never name a server path.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DaekitError

SIGNATURES = {  # first bytes -> file suffix
    b"\x89PNG\r\n\x1a\n": ".png",
    b"\xff\xd8\xff": ".jpg",
    b"II*\x00": ".tif",
    b"MM\x00*": ".tif",
    b"BM": ".bmp",
}
MAX_JOBS = 32  # finished jobs kept (oldest files removed first)
WORKERS, QUEUE = 1, 4  # jobs denoised at once, and jobs waiting for a worker (more: "busy, retry")
STALE_S = 30.0  # a job nobody has asked about for this long is abandoned (its page went away)
BODY_STALL_S = 30.0  # an upload whose body sends nothing for this long is dropped
BODY_TOTAL_S = 600.0  # and one that takes longer than this in all
TMP_PREFIX = "daekit-serve-"


class Cancelled(Exception):
    """A job's page went away: it stops between tiles."""


def sniff(head: bytes) -> str | None:
    """The suffix of an image type recognised from its first bytes, else None."""
    from .images import container_kind

    for sig, suffix in SIGNATURES.items():
        if head.startswith(sig):
            return suffix
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ".webp"
    return ".heic" if container_kind(head) == "HEIC/HEIF" else None


@dataclass
class Job:
    id: str
    folder: Path
    suffix: str
    state: str = "queued"  # queued, running, done, error
    progress: float = 0.0
    message: str = ""
    size: tuple[int, int] = (0, 0)
    info: dict[str, Any] = field(default_factory=dict)
    seen: float = field(default_factory=time.monotonic)  # when its page last asked about it
    cancelled: bool = False
    stale_s: float = STALE_S

    @property
    def result_suffix(self) -> str:
        """The result's file type: the upload's, but JPEG for a HEIC photo, PNG for WebP (``images.output_name``)."""
        from .images import output_name

        return output_name(Path(f"result{self.suffix}")).suffix

    def check(self) -> None:
        if self.cancelled or time.monotonic() - self.seen > self.stale_s:
            raise Cancelled


AUTO = "auto"  # what `daekit denoise` picks (``pretrained.default_for_image``): photo-real, or photo-gray for gray with white noise
WIDE = {"auto": "auto", "on": True, "off": False}  # the page's wide-pass choices (``wide``; "auto": the model's rule)


def wide_choice(value: str | None) -> bool | str:
    """The wide pass an upload asks for ("auto" when it says nothing), or a one-line error."""
    if value in (None, ""):
        return "auto"
    if value not in WIDE:
        raise DaekitError(f"unknown wide pass {value!r}; use auto, on or off")
    return WIDE[value]


class App:
    """The server's state: models (loaded lazily), jobs, the temporary folder."""

    def __init__(self, models: list[str], max_upload_mb: float = 100.0, device: str = "auto", tile: int | None = None,
                 ensemble: int = 1, precision: str = "auto", max_pixels: int | None = None, workers: int = WORKERS,
                 queue: int = QUEUE) -> None:
        from . import checks
        from .ensemble import check_size
        from .images import max_pixels as pixel_limit
        from .pretrained import list_pretrained
        from .runtime import check_precision

        self.ensemble, self.precision = check_size(ensemble), check_precision(precision)  # before any model loads
        max_upload_mb = checks.rate(max_upload_mb, "--max-upload-mb")
        self.max_pixels = pixel_limit(max_pixels)
        self.tile = None if tile is None else checks.count(tile, "--tile")
        workers, queue = checks.positive(workers, "workers"), checks.count(queue, "queue")
        self._running = threading.Semaphore(workers)  # jobs denoised at once
        self._slots, self._in_flight = workers + queue, 0  # jobs running or waiting, and the most there may be

        # "auto" (first, the default): what `daekit denoise` picks without --model (gray or colour photo)
        self.choices = [AUTO] + [p.name for p in list_pretrained() if p.name.startswith("photo")] + list(models)
        # run folders load now (a bad one fails at start, not on the first upload); shipped models on first use
        self._models: dict[str, Any] = {m: self._load(m, device) for m in models}
        self.max_bytes = int(max_upload_mb * 1024 * 1024)
        self.device = device
        self.stale_s, self.body_stall_s = STALE_S, BODY_STALL_S
        remove_orphans()
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-"))
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def _load(self, name: str, device: str) -> Any:
        from .api import Denoiser

        return Denoiser.load(name, device=device, ensemble=self.ensemble, precision=self.precision)

    def model(self, name: str) -> Any:
        if name == AUTO:
            return None  # chosen once the upload is decoded
        if name not in self.choices:
            raise DaekitError(f"unknown model {name!r}; choose one of {', '.join(self.choices)}")
        with self._lock:
            if name not in self._models:
                self._models[name] = self._load(name, self.device)
            return self._models[name]

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def new_job(self, data: bytes, model: str, strength: float, color_strength: float | None = None,
                wide: bool | str = "auto") -> Job:
        from . import checks
        from .api import check_strength

        suffix = sniff(data[:16])
        if suffix is None:
            raise DaekitError("not an image: upload a PNG, JPEG, TIFF, BMP, WebP or HEIC file")
        strength = check_strength(strength)
        color_strength = None if color_strength is None else check_strength(color_strength, "colour strength")
        wide = checks.switch(wide, "wide pass")
        den = self.model(model)
        self._admit()
        try:
            self._prune()
            job = Job(uuid.uuid4().hex, self.tmp / uuid.uuid4().hex, suffix, stale_s=self.stale_s)
            job.folder.mkdir()
            (job.folder / f"input{suffix}").write_bytes(data)
            self.jobs[job.id] = job
            threading.Thread(target=self._run, args=(job, den, strength, color_strength, wide), daemon=True).start()
        except BaseException:
            self._leave()
            raise
        return job

    def cancel(self, job: Job) -> None:
        job.cancelled = True

    def _prune(self) -> None:
        done = [j for j in self.jobs.values() if j.state in ("done", "error", "cancelled")]
        for j in done[: max(0, len(self.jobs) - MAX_JOBS)]:
            shutil.rmtree(j.folder, ignore_errors=True)
            self.jobs.pop(j.id, None)

    def busy(self) -> bool:
        """Whether every worker and queue place is taken (a new upload would be refused)."""
        return self._in_flight >= self._slots

    def _admit(self) -> None:
        with self._lock:
            if self._in_flight >= self._slots:
                raise Busy
            self._in_flight += 1

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _run(self, job: Job, den: Any, strength: float, color_strength: float | None, wide: bool | str) -> None:
        try:
            with self._running:  # waits here while `workers` other jobs run
                self._denoise(job, den, strength, color_strength, wide)
        finally:
            self._leave()

    def _denoise(self, job: Job, den: Any, strength: float, color_strength: float | None, wide: bool | str) -> None:
        from .api import denoise_path
        from .images import write_image
        from .pretrained import default_for_image

        def pick(img: np.ndarray) -> Any:  # "auto": the model `daekit denoise` would pick (gray or colour)
            job.size = (img.shape[1], img.shape[0])
            return den if den is not None else self.model(default_for_image(img))

        def on_band(done: float) -> None:
            job.progress = done
            job.check()  # a cancelled or abandoned job stops between bands

        def on_wide(on: bool) -> None:  # this job's own answer: the denoiser may be shared with other jobs
            job.info["wide"] = on

        try:
            job.check()
            job.state = "running"
            t0 = time.perf_counter()
            # the same path as `daekit denoise` (--strength / --color-strength / --wide are this job's); not
            # streamed, since the previews need the whole result
            used, img, out = denoise_path(job.folder / f"input{job.suffix}", job.folder / f"result{job.result_suffix}",
                                          pick, tile=self.tile, max_pixels=self.max_pixels, strength=strength,
                                          color_strength=color_strength, wide=wide, on_wide=on_wide, on_band=on_band,
                                          stream=False)
            job.info.update(model=used.info.get("name", "?"), use=used.info.get("use", ""),
                            seconds=round(time.perf_counter() - t0, 2))
            write_image(job.folder / "preview_in.png", img)  # 8-bit PNGs for the browser; the result keeps its depth
            write_image(job.folder / "preview_out.png", out)
            job.state, job.progress = "done", 1.0
        except Cancelled:  # its files go first: a cancelled job holds nothing
            shutil.rmtree(job.folder, ignore_errors=True)
            job.state, job.message = "cancelled", "cancelled: the page went away"
        except DaekitError as e:  # the server's own paths stay on the server
            job.state, job.message = "error", _without_paths(str(e).replace(str(job.folder / f"input{job.suffix}"), "the upload"))
        except Exception as e:  # never a stack trace on the page
            job.state, job.message = "error", f"could not process the image ({type(e).__name__})"


class Busy(Exception):
    """Every worker and queue place is taken: the client should retry later."""


def _without_paths(message: str) -> str:
    """A message with any absolute path left in it replaced (the page never learns the server's files)."""
    return re.sub(r"(?:/[^\s/:]+)+/?", "<path>", message) if "/" in message else message


def remove_orphans() -> None:
    """Removes temporary folders of daekit servers that were killed (their pid no longer runs)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}*-*"):
        m = re.match(rf"{TMP_PREFIX}(\d+)-", folder.name)
        if not m or not folder.is_dir() or int(m[1]) == os.getpid():
            continue
        try:
            os.kill(int(m[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:  # another user's live server
            pass


def build_app(state: App):
    """The Starlette application around `state`."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse
    from starlette.routing import Route

    page = (Path(__file__).parent / "web" / "index.html").read_text()

    def error(msg: str, code: int = 400) -> JSONResponse:
        return JSONResponse({"error": msg}, status_code=code)

    async def index(_: Request) -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": "default-src 'self'; img-src 'self' blob:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'"})

    async def models(_: Request) -> JSONResponse:
        return JSONResponse({"models": state.choices, "max_upload_mb": state.max_bytes / 2**20})

    async def read_body(request: Request, keep: bool) -> bytes | None:
        """The request body, or None if it stalled for BODY_STALL_S or took BODY_TOTAL_S (a slow client
        cannot hold a connection and its memory forever); with keep=False it is drained and dropped."""
        loop = asyncio.get_running_loop()
        deadline, body = loop.time() + BODY_TOTAL_S, bytearray()
        chunks = request.stream().__aiter__()
        while True:
            try:
                chunk = await asyncio.wait_for(chunks.__anext__(), max(0.01, min(state.body_stall_s, deadline - loop.time())))
            except StopAsyncIteration:
                return bytes(body)
            except asyncio.TimeoutError:
                return None
            if keep:
                body += chunk

    async def create(request: Request) -> JSONResponse:
        limit = f"file too large: the limit is {state.max_bytes / 2**20:.0f} MB"
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            return error("the upload must state its length", 411)
        too_big, busy = int(length) > state.max_bytes + 65536, state.busy()
        body = await read_body(request, keep=not (too_big or busy))  # refused ones are drained, so the client hears why
        if body is None:
            return error(f"the upload stalled (nothing for {state.body_stall_s:g} s) or took too long", 408)
        if too_big:
            return error(limit, 413)
        if busy:
            return JSONResponse({"error": "busy: other photos are being cleaned; retry in a moment"}, status_code=503,
                                headers={"Retry-After": "5"})
        if len(body) > state.max_bytes + 65536:  # more than its Content-Length said
            return error(limit, 413)
        request._body = body  # what Starlette's form parser reads next  # noqa: SLF001
        try:
            # Starlette's parser caps each part too: a body longer than its Content-Length cannot pass
            form = await request.form(max_files=1, max_fields=6, max_part_size=state.max_bytes + 1)
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                return error("no file in the upload")
            data = await upload.read()
            if len(data) > state.max_bytes:
                return error(limit, 413)
            if not data:
                return error("the file is empty")
            color = form.get("color_strength")
            wide = form.get("wide")
            job = state.new_job(data, str(form.get("model") or state.choices[0]), float(form.get("strength") or 1.0),
                                None if color in (None, "") else float(color), wide_choice(None if wide is None else str(wide)))
        except Busy:
            return JSONResponse({"error": "busy: other photos are being cleaned; retry in a moment"}, status_code=503,
                                headers={"Retry-After": "5"})
        except DaekitError as e:
            return error(_without_paths(str(e)), 415 if str(e).startswith("not an image") else 400)
        except Exception as e:  # malformed multipart, a strength that is not a number, ...: a message, not a trace
            return error(f"malformed upload ({type(e).__name__})")
        return JSONResponse({"id": job.id})

    def job_of(request: Request) -> Job | None:
        return state.jobs.get(request.path_params["job"])

    async def status(request: Request) -> JSONResponse:
        job = job_of(request)
        if job is None:
            return error("no such job", 404)
        job.seen = time.monotonic()  # its page is still there
        return JSONResponse({"state": job.state, "progress": round(job.progress, 4), "message": job.message,
                             "width": job.size[0], "height": job.size[1], **job.info})

    async def file(request: Request):
        job = job_of(request)
        if job is None or job.state != "done":
            return error("no result yet", 404)
        which = request.path_params["which"]
        names = {"result": f"result{job.result_suffix}", "before": "preview_in.png", "after": "preview_out.png"}
        if which not in names:
            return error("unknown file", 404)
        path = job.folder / names[which]
        if which == "result":
            return FileResponse(path, filename=f"denoised{job.result_suffix}")
        return FileResponse(path, media_type="image/png")

    async def cancel(request: Request) -> JSONResponse:
        job = job_of(request)
        if job is None:
            return error("no such job", 404)
        state.cancel(job)
        return JSONResponse({"state": "cancelled"})

    routes = [
        Route("/", index), Route("/api/models", models), Route("/api/jobs", create, methods=["POST"]),
        Route("/api/jobs/{job}", status), Route("/api/jobs/{job}/cancel", cancel, methods=["POST"]),
        Route("/api/jobs/{job}/{which}", file),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette):
        yield
        state.close()  # the temporary folder goes when the server stops

    return Starlette(routes=routes, lifespan=lifespan)


def free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve(models: list[str], host: str = "127.0.0.1", port: int | None = None, max_upload_mb: float = 100.0,
          device: str = "auto", tile: int | None = None, ensemble: int = 1, precision: str = "auto",
          max_pixels: int | None = None, workers: int = WORKERS, queue: int = QUEUE) -> None:
    """Runs the server until interrupted; prints the address once the port is bound and listening."""
    from . import checks

    try:
        import uvicorn
    except ImportError:
        raise DaekitError("daekit serve needs the serve extra: pip install 'daekit[serve]'") from None
    port = 0 if port is None else checks.port(port)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise DaekitError(f"cannot listen on {host}:{port} ({e.strerror or e})") from None
    state = App(models, max_upload_mb, device, tile, ensemble, precision, max_pixels, workers, queue)
    port = sock.getsockname()[1]
    print(f"daekit serve: open http://{host}:{port}/  (Ctrl+C to stop)", flush=True)
    try:
        uvicorn.Server(uvicorn.Config(build_app(state), log_level="warning")).run(sockets=[sock])
    finally:
        sock.close()
        state.close()


__all__ = ["App", "build_app", "serve", "sniff", "free_port"]
