"""LGEReaderStudyLib: the MRML side of the blinded reader study (the session and scoring core lives in
LGEResolutionQALib.study.reader_session, shared with the ``cardiac-lge reader-session`` command)."""
