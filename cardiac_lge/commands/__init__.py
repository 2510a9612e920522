"""Sub-commands of ``cardiac-lge``.

Each module here exposes ``register(subparsers) -> None`` that adds one sub-command whose
parser sets ``func=<callable(args) -> int>``. ``cardiac_lge.cli`` discovers them automatically.
"""
