"""What each kind of agent is configured with: one pydantic model per kind."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Configuration(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChatConfiguration(_Configuration):
    kind: Literal["chat"] = "chat"
    system_prompt: str = Field("", max_length=20_000)
    temperature: float = Field(0.7, ge=0, le=2)
    max_tokens: int = Field(1024, ge=1, le=200_000)


class WorkerConfiguration(_Configuration):
    kind: Literal["worker"] = "worker"
    queue: str = Field(min_length=1, max_length=200)
    concurrency: int = Field(1, ge=1, le=64)


class InferenceConfiguration(_Configuration):
    kind: Literal["inference"] = "inference"
    replicas: int = Field(1, ge=1, le=64)
    max_batch_size: int = Field(8, ge=1, le=1024)
    required_capability: str | None = Field(None, max_length=100)


AgentConfiguration = Annotated[
    ChatConfiguration | WorkerConfiguration | InferenceConfiguration,
    Field(discriminator="kind"),
]
CONFIGURATION = TypeAdapter(AgentConfiguration)
KINDS = ("chat", "worker", "inference")
