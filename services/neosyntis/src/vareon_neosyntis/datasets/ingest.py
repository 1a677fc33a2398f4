"""Reading an upload as it streams: row count and column schema, one pass, bounded memory.

Each format has an inspector fed chunk by chunk (from a worker thread): CSV and JSON Lines in
text_inspectors, Parquet in parquet_inspector; what they yield or refuse is in inspection.
"""

from __future__ import annotations

from vareon_neosyntis.datasets.inspection import Inspector, ParquetLimits
from vareon_neosyntis.datasets.text_inspectors import CsvInspector, JsonLinesInspector

FORMATS = ("csv", "jsonl", "parquet")


def inspector_for(fmt: str, parquet: ParquetLimits | None = None) -> Inspector:
    if fmt == "csv":
        return CsvInspector()
    if fmt == "jsonl":
        return JsonLinesInspector()
    if fmt == "parquet":  # pyarrow (~40 MB) only in a process that reads Parquet
        from vareon_neosyntis.datasets.parquet_inspector import ParquetInspector

        return ParquetInspector(parquet or ParquetLimits())
    raise ValueError(f"unknown format {fmt!r}")
