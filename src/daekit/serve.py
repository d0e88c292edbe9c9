"""``daekit serve``: a local web page for cleaning photos (Starlette + uvicorn, no external requests).

One page (``web/index.html``, plain HTML/JS, nothing from a CDN): drop or pick an image, choose a
model (shipped ones and run folders named on the command line) and a strength, watch the progress of
the tiled denoising, compare before/after with a slider and zoom, download the full-resolution result
in the upload's own format and bit depth.

Safety: uploads are limited in size (``--max-upload-mb``), their type is checked from the first bytes
(PNG, JPEG, TIFF, BMP), decompression bombs are refused by the reader, and every file lives in one
temporary folder removed when the server stops. Errors reach the page as one-line messages.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
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


def sniff(head: bytes) -> str | None:
    """The suffix of an image type recognised from its first bytes, else None."""
    for sig, suffix in SIGNATURES.items():
        if head.startswith(sig):
            return suffix
    return None


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


AUTO = "auto"  # photo-real for colour photos, photo-gray for gray ones


class App:
    """The server's state: models (loaded lazily), jobs, the temporary folder."""

    def __init__(self, models: list[str], max_upload_mb: float = 100.0, device: str = "auto", tile: int | None = None,
                 ensemble: int = 1, precision: str = "auto") -> None:
        from .ensemble import check_size
        from .pretrained import list_pretrained
        from .train import check_precision

        self.ensemble, self.precision = check_size(ensemble), check_precision(precision)  # before any model loads

        # "auto" (first, the default): what `daekit denoise` picks without --model, by the photo's channels
        self.choices = [AUTO] + [p.name for p in list_pretrained() if p.name.startswith("photo")] + list(models)
        # run folders load now (a bad one fails at start, not on the first upload); shipped models on first use
        self._models: dict[str, Any] = {m: self._load(m, device) for m in models}
        self.max_bytes = int(max_upload_mb * 1024 * 1024)
        self.device, self.tile = device, tile
        self.tmp = Path(tempfile.mkdtemp(prefix="daekit-serve-"))
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

    def new_job(self, data: bytes, model: str, strength: float, color_strength: float | None = None) -> Job:
        from .api import check_strength

        suffix = sniff(data[:16])
        if suffix is None:
            raise DaekitError("not an image: upload a PNG, JPEG, TIFF or BMP file")
        strength = check_strength(strength)
        color_strength = None if color_strength is None else check_strength(color_strength, "colour strength")
        den = self.model(model)
        self._prune()
        job = Job(uuid.uuid4().hex, self.tmp / uuid.uuid4().hex, suffix)
        job.folder.mkdir()
        (job.folder / f"input{suffix}").write_bytes(data)
        self.jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, den, strength, color_strength), daemon=True).start()
        return job

    def _prune(self) -> None:
        done = [j for j in self.jobs.values() if j.state in ("done", "error")]
        for j in done[: max(0, len(self.jobs) - MAX_JOBS)]:
            shutil.rmtree(j.folder, ignore_errors=True)
            self.jobs.pop(j.id, None)

    def _run(self, job: Job, den: Any, strength: float, color_strength: float | None) -> None:
        from .api import blend
        from .images import read_image, write_image

        try:
            job.state = "running"
            img, info = read_image(job.folder / f"input{job.suffix}")
            if den is None:
                from .pretrained import default_for

                den = self.model(default_for(img.shape[2]))
            h, w = img.shape[:2]
            job.size = (w, h)
            out = np.empty_like(img)
            for y0, band in den.denoise_bands(img, self.tile):
                out[y0 : y0 + band.shape[0]] = band
                job.progress = (y0 + band.shape[0]) / h
            out = blend(img, out, strength, color_strength)  # what --strength / --color-strength do in the CLI
            write_image(job.folder / f"result{job.suffix}", out, info)
            write_image(job.folder / "preview_in.png", img)  # 8-bit PNGs for the browser; the result keeps its depth
            write_image(job.folder / "preview_out.png", out)
            job.state, job.progress = "done", 1.0
        except DaekitError as e:  # the server's own paths stay on the server
            job.state, job.message = "error", str(e).replace(str(job.folder / f"input{job.suffix}"), "the upload")
        except Exception as e:  # never a stack trace on the page
            job.state, job.message = "error", f"could not process the image ({type(e).__name__})"


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

    async def create(request: Request) -> JSONResponse:
        limit = f"file too large: the limit is {state.max_bytes / 2**20:.0f} MB"
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            return error("the upload must state its length", 411)
        if int(length) > state.max_bytes + 65536:  # refused unread: drained and dropped, so the client hears why
            async for _ in request.stream():
                pass
            return error(limit, 413)
        try:
            # Starlette's parser caps each part too: a body longer than its Content-Length cannot pass
            form = await request.form(max_files=1, max_fields=5, max_part_size=state.max_bytes + 1)
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                return error("no file in the upload")
            data = await upload.read()
            if len(data) > state.max_bytes:
                return error(limit, 413)
            if not data:
                return error("the file is empty")
            color = form.get("color_strength")
            job = state.new_job(data, str(form.get("model") or state.choices[0]), float(form.get("strength") or 1.0),
                                None if color in (None, "") else float(color))
        except DaekitError as e:
            return error(str(e), 415 if str(e).startswith("not an image") else 400)
        except Exception as e:  # malformed multipart, a strength that is not a number, ...: a message, not a trace
            return error(f"malformed upload ({type(e).__name__})")
        return JSONResponse({"id": job.id})

    def job_of(request: Request) -> Job | None:
        return state.jobs.get(request.path_params["job"])

    async def status(request: Request) -> JSONResponse:
        job = job_of(request)
        if job is None:
            return error("no such job", 404)
        return JSONResponse({"state": job.state, "progress": round(job.progress, 4), "message": job.message,
                             "width": job.size[0], "height": job.size[1]})

    async def file(request: Request):
        job = job_of(request)
        if job is None or job.state != "done":
            return error("no result yet", 404)
        which = request.path_params["which"]
        names = {"result": f"result{job.suffix}", "before": "preview_in.png", "after": "preview_out.png"}
        if which not in names:
            return error("unknown file", 404)
        path = job.folder / names[which]
        if which == "result":
            return FileResponse(path, filename=f"denoised{job.suffix}")
        return FileResponse(path, media_type="image/png")

    routes = [
        Route("/", index), Route("/api/models", models), Route("/api/jobs", create, methods=["POST"]),
        Route("/api/jobs/{job}", status), Route("/api/jobs/{job}/{which}", file),
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
          device: str = "auto", tile: int | None = None, ensemble: int = 1, precision: str = "auto") -> None:
    """Runs the server until interrupted; prints the address first."""
    try:
        import uvicorn
    except ImportError:
        raise DaekitError("daekit serve needs the serve extra: pip install 'daekit[serve]'") from None
    state = App(models, max_upload_mb, device, tile, ensemble, precision)
    port = port or free_port(host)
    print(f"daekit serve: open http://{host}:{port}/  (Ctrl+C to stop)", flush=True)
    try:
        uvicorn.run(build_app(state), host=host, port=port, log_level="warning")
    finally:
        state.close()


__all__ = ["App", "build_app", "serve", "sniff", "free_port"]
