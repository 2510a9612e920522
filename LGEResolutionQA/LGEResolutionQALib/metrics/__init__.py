"""LGE QA metric families and their registry (core layer above ``core``/``io``: numpy/scipy only).

One file per family; each runs the ``core`` algorithms on one volume and returns a result dataclass whose
``rows()`` are the report rows (section, item, metric, value, unit, method; units declared once per core
result class in its ``ROW_UNITS``). ``registry.FAMILIES`` lists them; the study report (CLI) and the MRML
adapter (Slicer module) both iterate it, so adding a metric is one file plus one registry line.
"""
