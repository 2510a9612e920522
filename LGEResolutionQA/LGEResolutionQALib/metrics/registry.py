"""The registry of LGE QA metric families, iterated by the study report (CLI ``qa``) and by the MRML adapter
(the LGEResolutionQA module). Adding a metric family: write its file (see ``base.py`` for what it defines)
and add it to ``FAMILIES``; both front ends then run it on the inputs it declares."""

from __future__ import annotations

from LGEResolutionQALib.metrics import bar_resolution, edge_mtf, lge, line_profiles, regions, uniformity

#: in report order
FAMILIES = (line_profiles, bar_resolution, edge_mtf, regions, uniformity, lge)


def families(input_kind: str | None = None, section: str | None = None) -> tuple:
    """Families measuring ``input_kind`` ("line", "regions", "mtf_roi") and/or run by panel ``section``."""
    return tuple(f for f in FAMILIES if (input_kind is None or f.INPUT == input_kind) and (section is None or f.SECTION == section))


def family(name: str):
    for candidate in FAMILIES:
        if candidate.NAME == name:
            return candidate
    raise KeyError(f"No metric family '{name}'; known: {[f.NAME for f in FAMILIES]}.")


def check_registry() -> list[str]:
    """Problems with the registry (unique names, known inputs, a run function): [] when well formed."""
    problems, names = [], set()
    for module in FAMILIES:
        for attribute in ("NAME", "INPUT", "SECTION", "run"):
            if not hasattr(module, attribute):
                problems.append(f"{module.__name__} defines no {attribute}")
        name = getattr(module, "NAME", None)
        if name in names:
            problems.append(f"two families are called {name!r}")
        names.add(name)
        if getattr(module, "INPUT", None) not in ("line", "regions", "mtf_roi"):
            problems.append(f"{module.__name__}: unknown INPUT {getattr(module, 'INPUT', None)!r}")
        if getattr(module, "INPUT", None) == "line" and not getattr(module, "LINE_KINDS", ()):
            problems.append(f"{module.__name__}: a line family must declare LINE_KINDS")
    return problems
