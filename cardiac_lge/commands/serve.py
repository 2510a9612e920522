"""``cardiac-lge serve``: a local web page that a phone opens at the console: photograph the mosaic (or one
frame) on the scanner monitor and get the TI. Same analysis and numbers as ``ti-correct --mosaic /
--single-frame``. Works without internet (no CDN); photos stay in memory.

By default it listens on this computer only (127.0.0.1). With --host (e.g. --host 0.0.0.0 for the hospital
network) it requires a random access token, printed at start with the link and a QR code for the phone.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="web page for phones at the console (photo of the mosaic -> TI)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=None,
                        help="address to listen on (default 127.0.0.1: this computer only); any other value requires the access token")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=int, default=2, help="analyses run at the same time (default 2; more wait or get 'busy')")
    parser.add_argument("--queue", type=int, default=6, help="requests allowed to wait for a worker before 'busy' (default 6)")
    parser.add_argument("--max-upload-mb", type=float, default=20.0, help="largest photo accepted (default 20 MB)")
    parser.add_argument("--no-warm-up", action="store_true", help="do not load the models and run them once before serving")
    parser.add_argument("--no-ocr", action="store_true", help="do not read TIs from the tiles (the user enters them)")
    parser.add_argument("--model", default=None, help="TI-offset model file (default: the shipped weights)")
    parser.add_argument("--myocardium-model", default=None, help="myocardium U-Net file (default: the shipped weights)")
    parser.add_argument("--single-frame-model", default=None, help="single-frame model file (default: the shipped weights)")
    parser.set_defaults(func=run)


def local_addresses() -> list[str]:
    """This computer's IPv4 addresses from its own host name (no network traffic)."""
    import socket

    try:
        addresses = socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:
        addresses = []
    return [a for a in dict.fromkeys(addresses) if not a.startswith("127.")]


def qr_text(url: str) -> str:
    """The URL as a QR code drawn with text characters (the ``qrcode`` package)."""
    import io

    import qrcode

    code = qrcode.QRCode(border=1)
    code.add_data(url)
    code.make(fit=True)
    out = io.StringIO()
    code.print_ascii(out=out, invert=True)
    return out.getvalue()


def run(args: argparse.Namespace) -> int:
    import logging
    import os
    import secrets
    import sys

    from cardiac_lge.phone import PhoneModels, require_phone_profile

    require_phone_profile("serve")
    import uvicorn

    from cardiac_lge.serve.app import ServeSettings, create_app

    if args.workers < 1 or args.queue < 0 or args.max_upload_mb <= 0:
        raise ValueError("--workers must be >= 1, --queue >= 0 and --max-upload-mb > 0.")
    host = args.host or "127.0.0.1"
    token = secrets.token_urlsafe(18) if args.host is not None else None
    threads = max(1, (os.cpu_count() or 2) // args.workers)  # onnxruntime threads of each worker's networks and OCR
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    models = PhoneModels(args.model, args.myocardium_model, args.single_frame_model, use_ocr=not args.no_ocr, threads=threads)
    if not args.no_warm_up:
        print("loading the models and running them once ...", flush=True)
        models.warm_up()
    app = create_app(models, ServeSettings(token=token, max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
                                           workers=args.workers, queue=args.queue))
    hosts = local_addresses() if host in ("0.0.0.0", "::") else [host]
    urls = [f"http://{h}:{args.port}/" + (f"?token={token}" if token else "") for h in hosts or [host]]
    print("CardiacLGE at the scanner: open on the phone (same network)" if token else
          "CardiacLGE at the scanner (this computer only; --host to let phones connect):")
    for url in urls:
        print(f"  {url}")
    if token:
        print(f"access token: {token}")
        print(qr_text(urls[0]))
    print("Stop with Ctrl+C.", flush=True)
    uvicorn.run(app, host=host, port=args.port, log_level="warning", access_log=False, server_header=False)
    return 0
