"""Self-test scenario shared by the LGEReaderStudy module's Test class and the pytest suite (slicer-core).

``run_reading_scenario`` writes a small simulated study list (two patients, NR and HR of the project's
septum scene, ``phantom.make_septum_pair``) into ``folder``, creates a blinded session with blinded
copies and one reader, shows the reader's first case in the scene (``reading.load_case``), scores
every criterion of it through the reader file, re-opens the file as a restarted application would,
and shows the next unscored case. It returns what the checks need: the reading volumes in the scene,
their names and attributes, the series names that must not appear, the resumed position.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SERIES = ("NR-IR", "HR-IR")


def write_simulated_study_list(folder, n_patients: int = 2, seed: int = 0) -> Path:
    """NR/HR NRRD series of ``n_patients`` simulated patients and their study list (CSV)."""
    from LGEResolutionQALib.io.definitions import write_volume
    from LGEResolutionQALib.sim.phantom import make_septum_pair

    folder = Path(folder)
    rng = np.random.default_rng(seed)
    rows = ["study,sequence,path"]
    for index in range(n_patients):
        study = f"PATIENT{index + 1}"
        pair = make_septum_pair(rng, markers=False, fov_mm=80.0, supersample_mm=0.25)
        for sequence, key in zip(SERIES, ("nr", "hr")):
            path = folder / "series" / f"{study}_{sequence}.nrrd"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_volume(path, pair[key].image, pair[key].ijk_to_ras)
            rows.append(f"{study},{sequence},series/{path.name}")
    listing = folder / "studies.csv"
    listing.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return listing


def run_reading_scenario(scene, folder, seed: int = 0) -> dict:
    from LGEResolutionQALib.study import reader_session as rs

    from LGEReaderStudyLib.mrml import reading

    folder = Path(folder)
    entries = rs.read_study_list(write_simulated_study_list(folder, seed=seed))
    files = rs.create_session(entries, folder / "session", seed=seed, blinded_copies=True, readers=["R1"])
    session = rs.load_session(files.session)
    scores = rs.ReaderScores.open(session, "R1")
    first = scores.order[scores.first_unscored()]
    node = reading.load_case(scene, session, first)
    first_name = node.GetName()
    for criterion in session.criteria_keys:
        scores.score(first, criterion, 4)
    resumed = rs.ReaderScores.open(session, "R1")  # as after a restart of the application
    index = resumed.first_unscored()
    second = resumed.order[index]
    node = reading.load_case(scene, session, second)
    volumes = reading.reading_volumes(scene)
    texts = []
    for volume in volumes:
        texts += [volume.GetName(), volume.GetDescription() or ""]
        texts += [f"{name}={volume.GetAttribute(name)}" for name in volume.GetAttributeNames() or ()]
    return {"first_case": first, "first_name": first_name, "second_case": second, "resumed_index": index,
            "reading_volumes": len(volumes), "node_name": node.GetName(), "node_texts": texts,
            "hidden_words": [e.study for e in entries] + list(SERIES), "progress": resumed.progress(),
            "window_level": (node.GetDisplayNode().GetWindow(), node.GetDisplayNode().GetLevel()),
            "auto_window_level": bool(node.GetDisplayNode().GetAutoWindowLevel()),
            "reader_file": str(resumed.path), "session": session}
