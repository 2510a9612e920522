"""The web application of ``cardiac-lge serve``: a phone photographs the console's mosaic (or one frame)
and gets the TI. Both modes call cardiac_lge.phone, as ``ti-correct --mosaic / --single-frame`` does, so the
page shows the CLI's numbers for the same picture.

Privacy and robustness (tested in Testing/cli/test_serve.py and Testing/cli/test_serve_browser.py):
* photos arrive as the raw request body and stay in memory (no multipart spooling to disk, nothing saved);
  no file name is sent; the log has the route, the status and the time only (no query, no image, no token);
* with a token (``--host``), every API call and the page need it (header ``X-Access-Token`` or ``?token=``);
* uploads over ``max_upload_bytes`` (413) or that are not pictures (415) are refused with a clear message;
* a bounded pool of ``workers`` threads runs the analyses; beyond ``workers + queue`` requests in flight the
  server answers 503 "busy" at once instead of piling work up.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from cardiac_lge.phone import PhoneModels, analyse_mosaic_bytes, analyse_single_frame_bytes

LOG = logging.getLogger("cardiac_lge.serve")
STATIC_FILES = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class ServeSettings:
    token: str | None = None
    max_upload_bytes: int = 20 * 1024 * 1024
    workers: int = 2
    queue: int = 6


class _Refused(Exception):
    def __init__(self, status: int, message: str, **extra):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def _static(name: str) -> str:
    return resources.files("cardiac_lge.serve").joinpath("static", name).read_text(encoding="utf-8")


def _number(request: Request, name: str, required: bool = False) -> float | None:
    text = request.query_params.get(name, "").strip()
    if not text:
        if required:
            raise _Refused(400, f"Enter {name.replace('_', ' ').replace(' ms', '')} (ms).")
        return None
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise _Refused(400, f"{name}: {text[:20]!r} is not a number.") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise _Refused(400, f"{name} must be a finite number.")
    return value


def _numbers(request: Request, name: str) -> list[float] | None:
    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    try:
        return [float(part.replace(",", ".")) for part in text.replace(";", " ").replace("|", " ").split() if part]
    except ValueError:
        raise _Refused(400, f"{name}: give numbers separated by spaces.") from None


def create_app(models: PhoneModels, settings: ServeSettings = ServeSettings(), analysers: dict | None = None) -> FastAPI:
    """The FastAPI application (``models`` shared by all requests).

    analysers: {"mosaic": f(data, models, settings, **options), "single-frame": f(data, ti_ms, models, settings,
    chosen_ti_ms=)} (default: cardiac_lge.phone's; the tests give a slow one to check the worker pool).
    """
    analysers = {"mosaic": analyse_mosaic_bytes, "single-frame": analyse_single_frame_bytes, **(analysers or {})}
    from TINullCorrectionLib.core.recommendation import RecommendationSettings
    from TINullCorrectionLib.core.types import ScoutError
    from TINullCorrectionLib.io.mosaic import TIsNeeded

    pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="cardiac-lge-analysis")

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="CardiacLGE at the scanner", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    state = {"in_flight": 0}
    capacity = settings.workers + settings.queue

    def authorised(request: Request) -> bool:
        if settings.token is None:
            return True
        given = request.headers.get("x-access-token") or request.query_params.get("token") or ""
        return secrets.compare_digest(given.encode(), settings.token.encode())

    @app.middleware("http")
    async def log_requests(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        # route, status and duration only: no query string (TIs, token), no body, no client address
        LOG.info("%s %s %d %.2f s", request.method, request.url.path, response.status_code, time.perf_counter() - started)
        return response

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request):
        if not authorised(request):
            return HTMLResponse("<h1>Access token needed</h1><p>Open the link (or scan the QR code) that "
                                "<code>cardiac-lge serve</code> printed when it started.</p>", status_code=401)
        return HTMLResponse(_static("index.html"), headers={"Cache-Control": "no-store"})

    @app.get("/static/{name}")
    async def static(name: str):
        if name not in STATIC_FILES:
            return Response("not found", status_code=404)
        return Response(_static(name), media_type=STATIC_FILES[name])

    @app.get("/api/health")
    async def health(request: Request):
        if not authorised(request):
            return JSONResponse({"error": "Access token missing or wrong: open the link printed by cardiac-lge serve."}, 401)
        return {"ok": True, "workers": settings.workers, "in_flight": state["in_flight"]}

    async def read_picture(request: Request) -> bytes:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if not kind.startswith("image/"):
            raise _Refused(415, f"Send a photo (JPEG or PNG); got {kind or 'no content type'}.")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > settings.max_upload_bytes:
            raise _Refused(413, f"The photo is too large ({int(declared) / 1e6:.1f} MB; at most {settings.max_upload_bytes / 1e6:.0f} MB).")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > settings.max_upload_bytes:
                raise _Refused(413, f"The photo is too large (more than {settings.max_upload_bytes / 1e6:.0f} MB).")
        if not body:
            raise _Refused(400, "No photo received.")
        return bytes(body)

    def recommendation_settings(request: Request) -> RecommendationSettings:
        lge_offset = _number(request, "lge_offset_ms")
        return RecommendationSettings(lge_offset_ms=lge_offset or 0.0)

    async def run(request: Request, job) -> JSONResponse:
        if not authorised(request):
            return JSONResponse({"error": "Access token missing or wrong: open the link printed by cardiac-lge serve."}, 401)
        if state["in_flight"] >= capacity:
            return JSONResponse({"error": "The server is busy with other photos: try again in a few seconds."}, 503)
        state["in_flight"] += 1
        try:
            data = await read_picture(request)
            answer = await asyncio.get_running_loop().run_in_executor(pool, job, data)
        except _Refused as refused:
            return JSONResponse({"error": refused.message, **refused.extra}, refused.status)
        except TIsNeeded as error:
            tiles = [t.as_dict() for t in error.reading.tiles]
            return JSONResponse({"error": str(error), "needs_tis": True, "n_tiles": len(tiles), "tiles": tiles}, 422)
        except ScoutError as error:
            status = 415 if "picture" in str(error) or "pictures are not accepted" in str(error) else 422
            return JSONResponse({"error": str(error)}, status)
        except ValueError as error:
            return JSONResponse({"error": str(error)}, 422)
        finally:
            state["in_flight"] -= 1
        return JSONResponse({"result": answer.result, "report": answer.report, "display": answer.display,
                             "annotated_jpeg_base64": base64.b64encode(answer.annotated_jpeg).decode("ascii")},
                            headers={"Cache-Control": "no-store"})

    @app.post("/api/mosaic")
    async def mosaic(request: Request):
        try:
            options = dict(ti_ms=_numbers(request, "ti_ms"), first_ti_ms=_number(request, "first_ti_ms"),
                           spacing_ms=_number(request, "spacing_ms"), chosen_ti_ms=_number(request, "chosen_ti_ms"),
                           field_of_view_mm=_number(request, "field_of_view_mm"))
            settings_ = recommendation_settings(request)
        except _Refused as refused:
            return JSONResponse({"error": refused.message}, refused.status)
        return await run(request, lambda data: analysers["mosaic"](data, models, settings_, **options))

    @app.post("/api/single-frame")
    async def single_frame(request: Request):
        try:
            ti_ms = _number(request, "ti_ms", required=True)
            chosen = _number(request, "chosen_ti_ms")
            settings_ = recommendation_settings(request)
        except _Refused as refused:
            return JSONResponse({"error": refused.message}, refused.status)
        return await run(request, lambda data: analysers["single-frame"](data, ti_ms, models, settings_, chosen_ti_ms=chosen))

    return app
