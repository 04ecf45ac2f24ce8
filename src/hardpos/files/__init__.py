"""Files the library writes and reads: atomic writes, image and dataset arrays, Parquet
tables and model sidecars. Every writer renames a finished temporary file into place, so a
killed job never leaves a half-written output under a finished name.

May import only :mod:`hardpos.errors`.
"""
