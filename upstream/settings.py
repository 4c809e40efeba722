"""Settings of the push (one pydantic model, environment overrides for the CLI and the DAGs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_CONN_ID = "sgs_province"


class PushSettings(BaseModel):
    """How to reach the province and how hard to try."""

    model_config = ConfigDict(extra="forbid")

    conn_id: str = Field(default=DEFAULT_CONN_ID, description="Airflow connection id of the provincial platform")
    mode: Literal["http", "file"] = "http"
    batch_size: int = Field(default=200, ge=1, le=5000, description="records per request / per file")
    max_batches: int | None = Field(default=None, ge=1, description="stop after this many batches (None: until empty)")
    timeout: float = Field(default=30.0, gt=0, description="seconds per HTTP request")
    max_attempts: int = Field(default=6, ge=1, le=50, description="HTTP attempts per batch before the run gives up")
    backoff_initial: float = Field(default=1.0, ge=0)
    backoff_max: float = Field(default=60.0, ge=0)
    jitter: float = Field(default=0.25, ge=0, le=1, description="random extra share of each back-off delay")
    lease_seconds: int = Field(
        default=60, ge=5,
        description="a push whose heartbeat is older is taken as dead (a running push beats every third of it)",
    )
    exchange_dir: Path | None = Field(default=None, description="file mode: the exchange folder")
    header: Literal["zh", "code"] = Field(default="zh", description="file mode: Chinese template headers or national codes")
    exchange_group: bool = Field(
        default=False,
        description="file mode: exchange folders 0770 and files 0640 (the province's transfer agent runs as another OS user "
        "in the platform's group); default owner only, 0700/0600 (docs/upstream.md, 'File permissions')",
    )
    max_response_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024,
        description="largest answer read from the province (an HTTP response body, a receipt file); more is that batch's/file's error",
    )
    max_bad_answers: int = Field(
        default=3, ge=1, description="consecutive batches answered with no usable receipt after which the run stops",
    )

    @classmethod
    def from_env(cls, **overrides: object) -> PushSettings:
        """Defaults, then ``SGS_UPSTREAM_*`` environment variables, then explicit ``overrides`` (CLI options)."""
        env: dict[str, object] = {}
        for key, var in (
            ("conn_id", "SGS_UPSTREAM_CONN_ID"),
            ("mode", "SGS_UPSTREAM_MODE"),
            ("batch_size", "SGS_UPSTREAM_BATCH_SIZE"),
            ("timeout", "SGS_UPSTREAM_TIMEOUT"),
            ("max_attempts", "SGS_UPSTREAM_MAX_ATTEMPTS"),
            ("lease_seconds", "SGS_UPSTREAM_LEASE_SECONDS"),
            ("exchange_dir", "SGS_UPSTREAM_EXCHANGE_DIR"),
            ("exchange_group", "SGS_UPSTREAM_EXCHANGE_GROUP"),
            ("max_response_bytes", "SGS_UPSTREAM_MAX_RESPONSE_BYTES"),
        ):
            if os.environ.get(var):
                env[key] = os.environ[var]
        env.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(env)
