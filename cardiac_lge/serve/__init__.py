"""``cardiac-lge serve``: the local web page a phone opens at the console (FastAPI app in :mod:`.app`,
plain HTML/CSS/JS in ``static/``, served from the package; no CDN, no build step)."""
