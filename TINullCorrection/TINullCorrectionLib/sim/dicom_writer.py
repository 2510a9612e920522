"""Write a TIScout as a DICOM MR series, one file per frame, the way each vendor stores its TI scout.

Where the per-frame TI goes (docs/METHODS.md §1.6):
- Siemens "TI Scout" and GE "Cine IR": InversionTime (0018,0082);
- Philips "Look-Locker": TriggerTime (0018,1060) and NO InversionTime (as in the real Philips Look-Locker
  in ../shared/data), so readers must fall back to TriggerTime.

Geometry: the TIScout's IJK->RAS matrix ``M`` (columns i = along a row, j = down the columns) gives
DICOM (LPS = diag(-1, -1, 1) RAS):
    ImageOrientationPatient = (LPS(M[:3, 0]) / |M[:3, 0]|, LPS(M[:3, 1]) / |M[:3, 1]|)
    ImagePositionPatient    = LPS(M[:3, 3])            (centre of the first transmitted pixel)
    PixelSpacing            = (|M[:3, 1]|, |M[:3, 0]|)  (row spacing, column spacing)
Pixels are stored as uint16 with RescaleSlope/Intercept: ``value = stored * slope + intercept`` with the
intercept = floor(min) for signed (phase-sensitive) data and a slope that keeps the full 16-bit range
(``slope = 1`` when the integer values already fit; quantisation error <= slope / 2).

Patient fields are synthetic (SIMULATED^SCOUT, SIM0001): these files never hold a real identifier.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pydicom
from CardiacLGECommonLib.core.files import write_atomically
from CardiacLGECommonLib.core.geometry import LPS_TO_RAS
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from TINullCorrectionLib.core.types import TIScout

VENDORS = ("siemens", "philips", "ge")
_MANUFACTURER = {"siemens": "SIEMENS", "philips": "Philips Medical Systems", "ge": "GE MEDICAL SYSTEMS"}
_DEFAULT_DESCRIPTION = {"siemens": "TI Scout (simulated)", "philips": "Look-Locker (simulated)",
                        "ge": "Cine IR (simulated)"}
_IMAGE_TYPE = {  # (magnitude, phase-sensitive/real) as each vendor labels them
    "siemens": (["ORIGINAL", "PRIMARY", "M", "ND"], ["DERIVED", "PRIMARY", "M", "PSIR"]),
    "philips": (["ORIGINAL", "PRIMARY", "M_FFE", "M", "FFE"], ["ORIGINAL", "PRIMARY", "R_IR", "R", "IR"]),
    "ge": (["ORIGINAL", "PRIMARY", "OTHER"], ["ORIGINAL", "PRIMARY", "OTHER", "REAL"]),
}
PATIENT_NAME = "SIMULATED^SCOUT"
PATIENT_ID = "SIM0001"


def _ds(value: float) -> str:
    """A DICOM decimal string (<= 16 characters)."""
    for digits in (10, 9, 8, 7, 6):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    raise ValueError(f"{value} does not fit a DICOM decimal string.")


def quantisation(frames: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) mapping uint16 stored values to the frames: v = stored * slope + intercept."""
    low, high = float(np.min(frames)), float(np.max(frames))
    intercept = float(math.floor(low)) if low < 0 else 0.0
    span = high - intercept
    integers = bool(np.all(np.abs(frames - np.round(frames)) < 1e-3))
    if span <= 0:
        return 1.0, intercept
    if span <= 65535 and (span >= 4095 or integers):
        return 1.0, intercept
    return span / 65535.0, intercept


def geometry_tags(ijk_to_ras: np.ndarray) -> dict[str, list[float]]:
    """ImageOrientationPatient, ImagePositionPatient, PixelSpacing and the normal (LPS) of an IJK->RAS matrix."""
    matrix = np.asarray(ijk_to_ras, dtype=float)
    ras_to_lps = np.diag(LPS_TO_RAS)[:3]  # its own inverse
    column_step, row_step = matrix[:3, 0] * ras_to_lps, matrix[:3, 1] * ras_to_lps
    col_spacing, row_spacing = float(np.linalg.norm(column_step)), float(np.linalg.norm(row_step))
    if col_spacing <= 0 or row_spacing <= 0:
        raise ValueError("ijk_to_ras has a zero-length in-plane axis.")
    row_cosine, column_cosine = column_step / col_spacing, row_step / row_spacing
    if abs(float(np.dot(row_cosine, column_cosine))) > 1e-3:
        raise ValueError("ijk_to_ras in-plane axes are not orthogonal; DICOM needs an orthogonal pixel grid.")
    normal = np.cross(row_cosine, column_cosine)
    return {
        "ImageOrientationPatient": [*row_cosine.tolist(), *column_cosine.tolist()],
        "ImagePositionPatient": (matrix[:3, 3] * ras_to_lps).tolist(),
        "PixelSpacing": [row_spacing, col_spacing],
        "normal": normal.tolist(),
    }


def write_scout_dicom(
    scout: TIScout,
    out_dir: str | Path,
    vendor: str = "siemens",
    series_number: int = 1,
    series_description: str | None = None,
    study_uid: str | None = None,
    field_strength_t: float | None = None,
    uid_entropy: str | None = None,
    first_instance: int = 1,
) -> list[Path]:
    """Write ``scout`` as one MR image file per frame in ``out_dir`` (IM_0001.dcm ...); returns the paths.

    first_instance: InstanceNumber (and file number) of the first frame; write the slices of a multi-slice
    scout as one series by giving each slice the same series_number/study_uid/uid_entropy and consecutive
    instance ranges (e.g. 1, 21, 41 for 20 frames).

    vendor: "siemens" | "philips" | "ge" (decides the TI field, Manufacturer and ImageType).
    study_uid: share one study between several series; generated when None.
    uid_entropy: any string to make the generated UIDs reproducible (random when None).
    """
    key = str(vendor).lower()
    if key not in VENDORS:
        raise ValueError(f"vendor must be one of {VENDORS}; got {vendor!r}.")
    if not isinstance(scout, TIScout):
        raise ValueError("write_scout_dicom needs a TIScout.")
    if int(series_number) < 0:
        raise ValueError(f"series_number must be >= 0; got {series_number}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frames = np.asarray(scout.frames, dtype=np.float64)
    slope, intercept = (float(_ds(v)) for v in quantisation(frames))  # exactly what the header says
    stored = np.clip(np.round((frames - intercept) / slope), 0, 65535).astype(np.uint16)
    geometry = geometry_tags(scout.ijk_to_ras)
    thickness = float(scout.slice_thickness_mm)

    def uid(name: str) -> str:
        return generate_uid(entropy_srcs=[uid_entropy, name]) if uid_entropy is not None else generate_uid()

    study = study_uid or uid("study")
    series = uid(f"series{series_number}")
    frame_of_reference = uid("frame-of-reference")
    description = series_description or _DEFAULT_DESCRIPTION[key]
    image_type = _IMAGE_TYPE[key][1 if scout.phase_sensitive else 0]
    slice_location = float(np.dot(geometry["ImagePositionPatient"], geometry["normal"]))
    low_display = float(np.percentile(frames, 1))
    high_display = float(np.percentile(frames, 99.5))
    paths = []
    if int(first_instance) < 1:
        raise ValueError(f"first_instance must be >= 1; got {first_instance}.")
    for frame_index in range(scout.n_frames):
        index = int(first_instance) - 1 + frame_index
        sop = uid(f"sop{series_number}-{index}")
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
        ds = Dataset()
        ds.file_meta = meta
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = image_type
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = sop
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20000101"
        ds.StudyTime = ds.SeriesTime = "120000"
        ds.ContentTime = f"1200{index:02d}"[:6]
        ds.AccessionNumber = ""
        ds.Modality = "MR"
        ds.Manufacturer = _MANUFACTURER[key]
        ds.ManufacturerModelName = "CardiacLGE simulator"
        ds.ReferringPhysicianName = ""
        ds.StudyDescription = "Simulated cardiac MRI"
        ds.SeriesDescription = description
        ds.PatientName = PATIENT_NAME
        ds.PatientID = PATIENT_ID
        ds.PatientBirthDate = ""
        ds.PatientSex = "O"
        ds.BodyPartExamined = "HEART"
        ds.ScanningSequence = ["GR", "IR"]
        ds.SequenceVariant = ["SP", "MP"]
        ds.ScanOptions = ""
        ds.MRAcquisitionType = "2D"
        ds.SliceThickness = _ds(thickness)
        ds.RepetitionTime = "2.8"
        ds.EchoTime = "1.2"
        ds.FlipAngle = "10"
        if field_strength_t is not None:
            ds.MagneticFieldStrength = _ds(float(field_strength_t))
        ti = float(scout.ti_ms[frame_index])
        if key == "philips":
            ds.TriggerTime = _ds(ti)  # Philips Look-Locker: the TI lives here, InversionTime is absent
        else:
            ds.InversionTime = _ds(ti)
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.StudyID = "1"
        ds.SeriesNumber = int(series_number)
        ds.AcquisitionNumber = 1
        ds.InstanceNumber = index + 1
        ds.ImagePositionPatient = [_ds(v) for v in geometry["ImagePositionPatient"]]
        ds.ImageOrientationPatient = [_ds(v) for v in geometry["ImageOrientationPatient"]]
        ds.FrameOfReferenceUID = frame_of_reference
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = _ds(slice_location)
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = int(stored.shape[1]), int(stored.shape[2])
        ds.PixelSpacing = [_ds(v) for v in geometry["PixelSpacing"]]
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.WindowCenter = _ds((low_display + high_display) / 2)
        ds.WindowWidth = _ds(max(high_display - low_display, 1.0))
        ds.RescaleIntercept = _ds(intercept)
        ds.RescaleSlope = _ds(slope)
        ds.RescaleType = "US"
        ds.PixelData = stored[frame_index].tobytes()
        path = out / f"IM_{index + 1:04d}.dcm"
        # atomically (temporary file + rename): a full disk leaves no half-written DICOM file behind
        write_atomically(path, lambda temporary, ds=ds: ds.save_as(temporary, enforce_file_format=True))
        paths.append(path)
    return paths
