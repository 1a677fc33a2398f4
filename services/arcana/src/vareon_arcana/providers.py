"""Model providers: any OpenAI-compatible endpoint through the official SDK, and offline.

One factory gives the provider of a routing target. A target whose provider has no API key
is skipped; when no target is usable at all, the offline provider answers (deterministic,
free, and it says so). Providers know nothing of arcana's features: what the offline provider
answers when JSON is asked for is given to it (the analysis feature's, wired in app.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from vareon_contracts.events.cognisys import ModelTarget

from vareon_arcana import offline_tools, tokens
from vareon_arcana.settings import ArcanaSettings

if TYPE_CHECKING:
    import openai

OFFLINE = ModelTarget(
    provider="offline", model="vareon-offline-1", input_price_per_1k=0, output_price_per_1k=0
)


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of one tool call as the model streams it: its first piece names it (``id``,
    function ``name``), the next ones carry fragments of its JSON ``arguments``."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True)
class Usage:
    """Tokens as the provider reports them for one call."""

    tokens_in: int
    tokens_out: int


@dataclass(frozen=True)
class Options:
    """How the model should answer: sent with every attempt, whichever target answers."""

    max_tokens: int
    json_mode: bool = False
    """Ask for one JSON object (``response_format``) where the endpoint supports it."""
    temperature: float | None = None
    """None: the provider's default (not sent)."""
    stop: tuple[str, ...] = ()
    tools: tuple[dict[str, Any], ...] = ()
    """Function tools in OpenAI's shape, passed through; only providers with ``tools`` get any."""
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None


@dataclass(frozen=True)
class Finish:
    """Why the model stopped: ``stop`` (done, or a stop sequence), ``length`` (max_tokens),
    or what else the provider says (``content_filter``, ...)."""

    reason: str


Piece = Text | ToolCallDelta | Usage | Finish
Message = dict[str, Any]
"""A chat message in OpenAI's shape: role and content, and an assistant's ``tool_calls`` or a
tool result's ``tool_call_id``."""


class ProviderUnavailable(Exception):
    """429, 5xx, timeout or a broken connection: another target may answer."""

    def __init__(self, detail: str, retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class ProviderRejected(Exception):
    """The provider refused the request itself (4xx other than 429): no target will differ."""


class Provider(Protocol):
    name: str
    tools: bool
    """Whether the provider's models take tools (and tool messages in the history)."""

    def stream(
        self, model: str, messages: list[Message], options: Options
    ) -> AsyncIterator[Piece]: ...


def _retry_after(response: object) -> float | None:
    headers = getattr(response, "headers", None) or {}
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class OpenAICompatible:
    def __init__(
        self, name: str, client: openai.AsyncOpenAI, *, json_mode: bool = True, tools: bool = True
    ) -> None:
        self.name = name
        self.client = client
        self.json_mode = json_mode
        """Whether the endpoint accepts response_format={"type": "json_object"}."""
        self.tools = tools

    async def stream(
        self, model: str, messages: list[Message], options: Options
    ) -> AsyncIterator[Piece]:
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "max_tokens": options.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if options.json_mode and self.json_mode:
            body["response_format"] = {"type": "json_object"}
        if options.temperature is not None:
            body["temperature"] = options.temperature
        if options.stop:
            body["stop"] = list(options.stop)
        if options.tools:
            body["tools"] = list(options.tools)
            if options.tool_choice is not None:
                body["tool_choice"] = options.tool_choice
            if options.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = options.parallel_tool_calls
        # Imported at first use: the SDK is ~15 MB of an idle arcana (bench/idle.py).
        import openai
        from openai.types.chat import ChatCompletion, ChatCompletionChunk

        try:
            # The SDK's own `chat.completions.create` walks every message through its
            # TypedDict transform first: ~0.7 ms a message here, 27 ms for a 40-message
            # history, all before the request leaves (bench/chat_ttft.py). Our messages are
            # already in the wire shape it would produce, so they go as they are.
            stream = await self.client.post(
                "/chat/completions",
                body=body,
                cast_to=ChatCompletion,
                stream=True,
                stream_cls=openai.AsyncStream[ChatCompletionChunk],
            )
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        yield Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                    for choice in chunk.choices:
                        if choice.delta and choice.delta.content:
                            yield Text(choice.delta.content)
                        for call in (choice.delta and choice.delta.tool_calls) or ():
                            function = call.function
                            yield ToolCallDelta(
                                call.index,
                                call.id,
                                function.name if function else None,
                                (function.arguments if function else None) or "",
                            )
                        if choice.finish_reason:
                            yield Finish(choice.finish_reason)
        except openai.RateLimitError as exc:
            raise ProviderUnavailable(
                f"{self.name}: rate limited", _retry_after(exc.response)
            ) from exc
        except (
            openai.InternalServerError,
            openai.APITimeoutError,
            openai.APIConnectionError,
        ) as exc:
            raise ProviderUnavailable(f"{self.name}: {type(exc).__name__}") from exc
        except openai.APIStatusError as exc:
            raise ProviderRejected(f"{self.name}: HTTP {exc.status_code}") from exc
        except (openai.APIError, OSError, ValueError) as exc:
            raise ProviderUnavailable(f"{self.name}: {type(exc).__name__}") from exc
        except Exception as exc:  # the HTTP library's own errors when a stream breaks
            if type(exc).__module__.split(".")[0] in {"httpx", "httpx2", "httpcore", "httpcore2"}:
                raise ProviderUnavailable(f"{self.name}: {type(exc).__name__}") from exc
            raise


OfflineJSON = Callable[[str], object]
"""The JSON the offline provider answers for a user message when JSON is asked for."""


class Offline:
    """Answers without any model: used when no provider has an API key. With tools it calls
    one deterministically (offline_tools)."""

    name = "offline"
    tools = True

    def __init__(self, json_answer: OfflineJSON | None = None) -> None:
        self.json_answer = json_answer

    async def stream(
        self, model: str, messages: list[Message], options: Options
    ) -> AsyncIterator[Piece]:
        last = messages[-1]
        prompt = tokens.count_prompt(messages, options.tools)
        function = offline_tools.chosen(options.tools, options.tool_choice, last["role"])
        if function is not None:
            call_id, name, arguments = offline_tools.call(function, messages)
            yield ToolCallDelta(0, call_id, name)
            yield ToolCallDelta(0, arguments=arguments)
            yield Finish("tool_calls")
            yield Usage(prompt, tokens.count(name + arguments))
            return
        asked = " ".join((last["content"] or "").split())
        finish = "stop"
        if options.json_mode and self.json_answer is not None:
            reply = json.dumps(self.json_answer(last["content"] or ""))
        else:
            said = "The tool answered" if last["role"] == "tool" else "You asked"
            whole = (
                "Vareon is offline: no model provider is configured, so this is a fixed answer "
                f"and nothing was charged. {said}: {asked}"
            )
            reply = tokens.truncate(whole, options.max_tokens)
            finish = "stop" if reply == whole else "length"
        words = reply.split(" ")
        for i, word in enumerate(words):
            yield Text(word if i == 0 else " " + word)
            await asyncio.sleep(0)
        yield Finish(finish)
        yield Usage(prompt, tokens.count(reply))


class Providers:
    """The factory: one SDK client per configured provider, created on first use."""

    def __init__(
        self, settings: ArcanaSettings, *, offline_json: OfflineJSON | None = None
    ) -> None:
        self.settings = settings
        self._clients: dict[str, OpenAICompatible] = {}
        self.offline = Offline(offline_json)

    def configured(self, name: str) -> bool:
        config = self.settings.providers.get(name)
        return name == OFFLINE.provider or bool(config and config.api_key)

    def supports_tools(self, name: str) -> bool:
        provider = self.get(name)
        return provider is not None and provider.tools

    def get(self, name: str) -> Provider | None:
        if name == OFFLINE.provider:
            return self.offline
        if not self.configured(name):
            return None
        if name not in self._clients:
            import openai

            config = self.settings.providers[name]
            client = openai.AsyncOpenAI(
                api_key=config.api_key,
                base_url=config.base_url,
                timeout=self.settings.provider_timeout_s,
                max_retries=0,
            )  # fallback and Retry-After are ours (fallback.py)
            self._clients[name] = OpenAICompatible(
                name, client, json_mode=config.json_mode, tools=config.tools
            )
        return self._clients[name]

    async def close(self) -> None:
        for provider in self._clients.values():
            await provider.client.close()
