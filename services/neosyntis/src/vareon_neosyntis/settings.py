"""Neosyntis settings: every field is the environment variable ``NEOSYNTIS_<FIELD>``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import SettingsConfigDict
from vareon_chassis.settings import ServiceSettings

from vareon_neosyntis.datasets.inspection import ParquetLimits

MIB = 1024 * 1024


class NeosyntisSettings(ServiceSettings):
    model_config = SettingsConfigDict(extra="ignore", env_prefix="NEOSYNTIS_")

    service_name: str = "neosyntis"
    port: int = 8106
    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/neosyntis"

    storage_backend: Literal["local", "s3"] = "local"
    storage_dir: Path = Path("var/neosyntis/storage")
    """Local backend: objects live here, uploads in progress under ``.incoming/``."""
    s3_bucket: str = "vareon-neosyntis"
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    """An S3-compatible endpoint (MinIO, moto...); None means AWS."""
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_part_size: int = 8 * MIB
    """Multipart upload part size (S3 needs at least 5 MiB for every part but the last)."""

    max_upload_bytes: int = 1024 * MIB
    body_limit_exempt: tuple[str, ...] = ("/api/v1/neosyntis/datasets",)
    """The upload streams under max_upload_bytes; the chassis's 1 MiB body limit is not its."""
    upload_chunk_bytes: int = 1 * MIB

    parquet_max_uncompressed_bytes: int = 4096 * MIB
    """A Parquet upload whose footer says it decompresses past this is refused (413)."""
    parquet_max_compression_ratio: float = 500.0
    """...and one compressed beyond this ratio (uncompressed / compressed) too (422)."""

    quota_max_dataset_bytes: int = 10 * 1024 * MIB
    """Stored bytes of one user's live dataset versions, all together."""
    quota_max_dataset_versions: int = 1_000
    """Live dataset versions one user may keep (across all their datasets)."""

    lab_max_rows: int = 100_000
    """Open-lab operations read at most this many rows of a dataset (the first ones)."""
    lab_preview_max_rows: int = 100
    reader_max_bytes: int = 512 * MIB
    """Byte budget of the rows a dataset reader loads (preview, profile, baseline, evaluate,
    training): past it the read stops with an error instead of decompressing on."""
    reader_memory_bytes: int = 3072 * MIB
    """Address-space limit of the reader processes that run previews and lab operations
    for the API (a bomb that slips past the metadata checks kills one of them, not the API)."""
    reader_processes: int = 1
    lab_max_folds: int = 10
    lab_max_running_per_user: int = 2
    """Open-lab operations one user may have queued or running at once (429 beyond)."""

    training_lease_s: float = 30.0
    """A worker's claim on a job lasts this long unless renewed by a heartbeat."""
    training_heartbeat_s: float | None = None
    """How often a worker renews its lease and looks for a cancel; default lease / 4."""
    training_max_attempts: int = 3
    """A job whose worker crashed is queued again until it has been claimed this many times."""
    training_poll_interval_s: float = 5.0
    """A fallback: the outbox's NOTIFY wakes workers when a job is queued."""
    training_sweep_interval_s: float = 1.0
    training_price_micro_per_cpu_s: int = 2_000
    """Compute price in micro-credits per CPU-second, recorded on each job when submitted."""
    training_max_rows: int = 1_000_000
    workflow_retry_poll_s: float = 0.5

    def parquet_limits(self) -> ParquetLimits:
        return ParquetLimits(
            self.parquet_max_uncompressed_bytes, self.parquet_max_compression_ratio
        )
