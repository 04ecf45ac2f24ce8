"""Unit tests, one file per library module: tests/unit/<package>/test_<module>.py tests
src/hardpos/<package>/<module>.py (test_architecture.py holds the mirror)."""
