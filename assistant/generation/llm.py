"""The ``llm`` backend: any LangChain chat model, checked against the catalogue.

The model sees numbered passages and candidate decisions and replies with JSON. Every
reply is validated (decision ids exist, citations are listed passages); a reply with
problems is repaired once by asking again with the problems listed, and whatever is
still invalid is dropped and counted in ``answer.meta``. LangChain objects stay here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from assistant.config import Settings
from assistant.errors import BackendError, BackendUnavailableError
from assistant.generation import GenerationRequest, sources_event, unique_sources
from assistant.generation.engine import analyse
from assistant.generation.grounded import declined, describe_profile
from assistant.ingest.untrusted import flatten, instruction_flags
from assistant.retrieval.passages import Passage
from assistant.schemas import AnswerEvent, AnswerMeta, PlanAnswer, Recommendation, Source

NAME = "llm"
#: Candidates the model chooses from: the shared engine's semantic pool, best first.
MAX_CANDIDATES = 20

# provider -> (python module, pip package, environment variable with the key). The pip
# packages are kubeplan's extras openai / anthropic / ollama.
PROVIDERS: dict[str, tuple[str, str, str | None]] = {
    "openai": ("langchain_openai", "langchain-openai", "OPENAI_API_KEY"),
    "anthropic": ("langchain_anthropic", "langchain-anthropic", "ANTHROPIC_API_KEY"),
    "ollama": ("langchain_ollama", "langchain-ollama", None),
    "google_genai": ("langchain_google_genai", "langchain-google-genai", "GOOGLE_API_KEY"),
    "mistralai": ("langchain_mistralai", "langchain-mistralai", "MISTRAL_API_KEY"),
    "groq": ("langchain_groq", "langchain-groq", "GROQ_API_KEY"),
}


# --------------------------------------------------------------------------- reply model


class LLMRecommendation(BaseModel):
    """One recommendation as the model writes it (lenient; checked afterwards)."""

    model_config = ConfigDict(extra="ignore")

    decision_id: str
    rationale: str = ""
    confidence: str = "medium"
    citations: list[int | str] = []


class LLMAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: str = "answered"
    summary: str = ""
    recommendations: list[LLMRecommendation] = []
    open_questions: list[str] = []


@dataclass
class Checked:
    """A parsed reply split into usable recommendations and the problems found."""

    answer: LLMAnswer | None
    recommendations: list[Recommendation] = field(default_factory=list)
    cited: list[Passage] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- prompts


@cache
def prompt_template(name: str) -> str:
    return (
        resources.files("assistant.generation")
        .joinpath(f"prompts/{name}.md")
        .read_text(encoding="utf-8")
    )


#: Longest passage text, title or heading that enters a prompt (characters).
PASSAGE_CHARS = 2400
FIELD_CHARS = 200


def _attr(value: str) -> str:
    """A document field as a quoted attribute: one line, no quotes or angle brackets."""
    return flatten(value, FIELD_CHARS).replace('"', "'").replace("<", "(").replace(">", ")")


def format_passages(passages: Sequence[Passage]) -> str:
    """Numbered passages, each delimited and flattened: whatever a document says (newlines,
    Markdown headings, zero-width characters, tags) cannot leave its <passage> element or
    pose as a section of the prompt."""
    lines = []
    for i, p in enumerate(passages, 1):
        where = " > ".join(p.chunk.heading_path)
        attrs = f'title="{_attr(p.chunk.title)}"'
        if where:
            attrs += f' section="{_attr(where)}"'
        attrs += f' origin="{_attr(p.chunk.url or p.chunk.path)}"'
        if p.chunk.flags:
            attrs += f' flagged="{_attr(",".join(p.chunk.flags))}"'
        text = flatten(p.chunk.text, PASSAGE_CHARS).replace("<", "(").replace(">", ")")
        lines.append(f"[{i}] <passage {attrs}>{text}</passage>")
    return "\n\n".join(lines) or "(no passages were retrieved)"


def format_candidates(request: GenerationRequest) -> str:
    """Candidate decisions of the shared engine (card match, passage evidence, profile
    fit), best first, with the passages that support them."""
    number = {p.chunk.id: i for i, p in enumerate(request.passages, 1)}
    lines = []
    for cand in analyse(request).candidates[:MAX_CANDIDATES]:
        d = cand.decision
        refs = sorted({number[p.chunk.id] for p, _ in cand.passages if p.chunk.id in number})
        line = (
            f"- {d.id}: {d.title}. Recommendation: {d.recommendation} "
            f"When: {'; '.join(d.when)}. Avoid when: {'; '.join(d.avoid_when) or '-'}. "
            f"Alternatives: {', '.join(d.alternatives) or '-'}. "
            f"Supported by passages: {', '.join(f'[{r}]' for r in refs) or '-'}"
        )
        # One line per candidate: the model (and the offline fake) read them line by line.
        lines.append(flatten(line))
    return "\n".join(lines) or "(no catalogue decision is explained by the passages)"


def format_history(request: GenerationRequest) -> str:
    turns = request.history[-6:]
    return "\n".join(f"- {t.role} said: {flatten(t.content, 600)}" for t in turns) or "(none)"


def build_prompt(request: GenerationRequest) -> str:
    """The user message: data only (the rules are the system message)."""
    return prompt_template("answer").format(
        profile=flatten(describe_profile(request.profile)) or "(nothing known yet)",
        history=format_history(request),
        candidates=format_candidates(request),
        passages=format_passages(request.passages),
        question=flatten(request.standalone_question, 4000),
    )


def system_prompt() -> str:
    return prompt_template("system")


# --------------------------------------------------------------------------- checking

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def parse_reply(text: str) -> tuple[LLMAnswer | None, str | None]:
    """The reply as ``LLMAnswer``, or the reason it is not one."""
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        return None, "the reply is not a JSON object"
    try:
        data = json.loads(body[start : end + 1])
    except json.JSONDecodeError as exc:
        return None, f"the reply is not valid JSON ({exc.msg} at character {exc.pos})"
    try:
        return LLMAnswer.model_validate(data), None
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        return None, f"the JSON does not have the expected form ({loc}: {first['msg']})"


def _citation(ref: int | str, passages: Sequence[Passage]) -> Passage | None:
    if isinstance(ref, str):
        stripped = ref.strip().strip("[]")
        if stripped.isdigit():
            ref = int(stripped)
        else:
            return next((p for p in passages if p.chunk.id == stripped), None)
    if isinstance(ref, int) and 1 <= ref <= len(passages):
        return passages[ref - 1]
    return None


def check_reply(text: str, request: GenerationRequest) -> Checked:
    parsed, error = parse_reply(text)
    if parsed is None:
        return Checked(answer=None, problems=[error or "unusable reply"])
    checked = Checked(answer=parsed)
    if parsed.status not in ("answered", "insufficient_evidence", "out_of_scope"):
        checked.problems.append(
            f"status {parsed.status!r} is not one of answered, insufficient_evidence, "
            "out_of_scope"
        )
    seen: set[str] = set()
    for i, rec in enumerate(parsed.recommendations, 1):
        decision = request.catalogue.get(rec.decision_id)
        if decision is None:
            checked.problems.append(
                f"recommendation {i}: decision id {rec.decision_id!r} is not in the "
                "candidate list or the catalogue"
            )
            continue
        if rec.decision_id in seen:
            continue
        cited: list[Passage] = []
        bad = []
        for ref in rec.citations:
            passage = _citation(ref, request.passages)
            if passage is None:
                bad.append(str(ref))
            elif passage not in cited:
                cited.append(passage)
        if bad:
            checked.problems.append(
                f"recommendation {i} ({rec.decision_id}): citations {', '.join(bad)} are not "
                f"numbers of listed passages (1 to {len(request.passages)})"
            )
            continue
        if not cited:
            checked.problems.append(
                f"recommendation {i} ({rec.decision_id}): cites no passage; every "
                "recommendation needs at least one"
            )
            continue
        # Flagged passages never count as support, and are not passed on as citations.
        cited = [p for p in cited if not p.chunk.flags]
        if not any(rec.decision_id in p.chunk.decision_ids for p in cited):
            checked.problems.append(
                f"recommendation {i} ({rec.decision_id}): none of its citations is a "
                "curated passage explaining that decision; cite one the candidate list "
                "names under it, or leave the decision out"
            )
            continue
        seen.add(rec.decision_id)
        confidence: Literal["high", "medium", "low"] = (
            rec.confidence if rec.confidence in ("high", "medium", "low") else "medium"  # type: ignore[assignment]
        )
        sources = [p.to_source() for p in cited]
        checked.recommendations.append(
            Recommendation(
                decision_id=decision.id,
                title=decision.title,
                recommendation=decision.recommendation,
                rationale=rec.rationale,
                tradeoffs=list(decision.tradeoffs),
                confidence=confidence,
                citations=[s.id for s in sources],
            )
        )
        checked.cited.extend(cited)
    return checked


def to_answer(
    request: GenerationRequest, checked: Checked, meta: AnswerMeta, model: str
) -> PlanAnswer:
    parsed = checked.answer
    meta = meta.model_copy(update={"model": model})
    if parsed is None:
        return PlanAnswer(
            question=request.question,
            status="insufficient_evidence",
            summary="The language model's reply could not be used; the nearest passages are "
            "listed as sources.",
            sources=[p.to_source() for p in request.passages[:3]],
            profile=request.profile,
            backend=NAME,
            meta=meta,
        )
    status = parsed.status
    recommendations = checked.recommendations if status == "answered" else []
    if status not in ("answered", "insufficient_evidence", "out_of_scope") or (
        status == "answered" and not recommendations
    ):
        status = "insufficient_evidence"
    sources: list[Source] = (
        unique_sources([p.to_source() for p in checked.cited])
        if recommendations
        else ([p.to_source() for p in request.passages[:3]] if status != "out_of_scope" else [])
    )
    scrub = _Scrubber(request, checked.cited)
    recommendations = [
        r.model_copy(
            update={
                "rationale": scrub(r.rationale, f"rationale of {r.decision_id}")
                or "The cited passages support it."
            }
        )
        for r in recommendations
    ]
    fallback = (
        "Recommended: " + "; ".join(r.title for r in recommendations) + "."
        if recommendations
        else "No retrieved passage supports a recommendation."
    )
    summary = scrub(parsed.summary, "summary") or fallback
    open_questions = [scrub(q, "open question") for q in parsed.open_questions[:5]]
    if scrub.dropped:
        meta = meta.model_copy(update={"dropped": [*meta.dropped, *scrub.dropped]})
    return PlanAnswer(
        question=request.question,
        status=status,
        summary=summary,
        recommendations=recommendations,
        open_questions=[q for q in open_questions if q],
        sources=sources,
        profile=request.profile,
        backend=NAME,
        meta=meta,
    )


_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)?")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)?")
_TAG = re.compile(r"<[^>]{0,500}>")
_URL = re.compile(r"\b(?:https?|ftp|file|data|javascript):[^\s)\]]*", re.IGNORECASE)
_WORD = re.compile(r"\w+")
#: Consecutive words a model's text may share with a passage it must not repeat.
ECHO_WORDS = 6


def _shingles(text: str, n: int = ECHO_WORDS) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


class _Scrubber:
    """The model's free text (summary, rationales, open questions) as plain sentences.

    Links, images, tags and URLs go (a rendered image is a request to its server with
    whatever the URL carries). Text that reads like instructions, or that repeats a run
    of words from a passage no kept recommendation cites (or from a flagged one), is
    what a passage told the model to say: it is dropped and recorded.
    """

    def __init__(self, request: GenerationRequest, cited: Sequence[Passage]) -> None:
        kept = {p.chunk.id for p in cited}
        self._suspect: set[tuple[str, ...]] = set()
        for p in request.passages:
            if p.chunk.flags or (p.chunk.id not in kept and not p.chunk.decision_ids):
                self._suspect |= _shingles(" ".join([p.chunk.title, p.chunk.text]))
        self.dropped: list[str] = []

    def __call__(self, text: str, field_name: str) -> str:
        clean = _MD_IMAGE.sub(r"\1", text)
        clean = _MD_LINK.sub(r"\1", clean)
        clean = _TAG.sub(" ", clean)
        clean = _URL.sub("", clean)
        clean = flatten(clean, 1200)
        if clean != " ".join(text.split()):
            self.dropped.append(f"{field_name}: links, images or markup removed")
        if not clean:
            return ""
        if instruction_flags(clean) or _shingles(clean) & self._suspect:
            self.dropped.append(
                f"{field_name}: dropped (it repeats an uncited or flagged passage, or "
                f"reads like instructions)"
            )
            return ""
        return clean


# --------------------------------------------------------------------------- the model


def build_chat_model(settings: Settings) -> Any:
    """``settings.llm_model`` as a LangChain chat model, or a clear error naming the fix."""
    spec = (settings.llm_model or "").strip()
    if not spec:
        raise BackendUnavailableError(
            "the llm backend has no model configured.",
            "set KUBEPLAN_LLM_MODEL to provider:model (e.g. openai:gpt-4o-mini, "
            "anthropic:claude-sonnet-4-5, ollama:llama3.1), or use the grounded backend.",
        )
    if spec.startswith("fake"):
        from assistant.generation.fake import fake_chat_model

        return fake_chat_model(spec)
    if ":" not in spec:
        raise BackendUnavailableError(
            f"KUBEPLAN_LLM_MODEL={spec!r} does not name a provider.",
            "write it as provider:model, e.g. openai:gpt-4o-mini or ollama:llama3.1.",
        )
    provider = spec.split(":", 1)[0]
    package, extra, key = PROVIDERS.get(provider, (None, None, None))
    if package and importlib.util.find_spec(package) is None:
        raise BackendUnavailableError(
            f"KUBEPLAN_LLM_MODEL={spec} needs the Python package {package}, which is not "
            "installed.",
            f"pip install {extra} (the kubeplan extra of that provider installs it too).",
        )
    if key and not os.environ.get(key):
        raise BackendUnavailableError(
            f"KUBEPLAN_LLM_MODEL={spec} needs an API key in {key}, which is not set.",
            f"export {key}=... (or put it in .env), or choose another KUBEPLAN_LLM_MODEL.",
        )
    from langchain.chat_models import init_chat_model

    try:
        return init_chat_model(
            spec, temperature=settings.llm_temperature, timeout=settings.llm_timeout
        )
    except (ImportError, ValueError) as exc:
        raise BackendUnavailableError(
            f"cannot create the chat model KUBEPLAN_LLM_MODEL={spec}: {exc}",
            "check the provider name and install its LangChain package.",
        ) from exc


def _call_error(exc: Exception, spec: str) -> BackendError:
    kind = type(exc).__name__.lower()
    text = str(exc).lower()
    provider = spec.split(":", 1)[0]
    if "connect" in kind or "connection" in text or "refused" in text or "timeout" in kind:
        where = (
            "OLLAMA_HOST (default http://localhost:11434); start it with `ollama serve`"
            if provider == "ollama"
            else "the provider's API"
        )
        return BackendUnavailableError(
            f"cannot reach the language model {spec}: {exc}",
            f"check the network and {where}, or use --backend grounded.",
        )
    if "auth" in kind or "permission" in kind or "401" in text or "api key" in text:
        key = PROVIDERS.get(provider, (None, None, None))[2] or "the provider's API key"
        return BackendUnavailableError(
            f"the language model {spec} rejected the credentials: {exc}",
            f"check {key}.",
        )
    return BackendError(
        f"the language model {spec} failed: {exc}",
        "retry, or use --backend grounded.",
    )


class LLMGenerator:
    """Asks a chat model, validates, repairs once, drops what is still invalid."""

    def __init__(self, settings: Settings, chat_model: Any | None = None) -> None:
        self._settings = settings
        self._model = chat_model
        self._spec = settings.llm_model or (
            f"custom:{type(chat_model).__name__}" if chat_model is not None else ""
        )

    @property
    def name(self) -> str:
        return NAME

    def model(self) -> Any:
        if self._model is None:
            self._model = build_chat_model(self._settings)
        return self._model

    def _invoke(self, messages: list[Any]) -> str:
        try:
            reply = self.model().invoke(messages)
        except BackendError:
            raise
        except Exception as exc:
            raise _call_error(exc, self._spec) from exc
        return _text(reply.content)

    def _stream(self, messages: list[Any]) -> Iterator[str]:
        try:
            for chunk in self.model().stream(messages):
                text = _text(chunk.content)
                if text:
                    yield text
        except BackendError:
            raise
        except Exception as exc:
            raise _call_error(exc, self._spec) from exc

    def generate(self, request: GenerationRequest) -> PlanAnswer:
        if analyse(request).decline is not None:
            return self._declined(request)
        messages = self._messages(request)
        return self._finish(request, messages, self._invoke(messages))

    def _declined(self, request: GenerationRequest) -> PlanAnswer:
        meta = AnswerMeta(standalone_question=request.standalone_question)
        answer = declined(request, analyse(request), meta)
        return answer.model_copy(update={"backend": self.name})

    def stream(self, request: GenerationRequest) -> Iterator[AnswerEvent]:
        if analyse(request).decline is not None:
            yield AnswerEvent(kind="answer", answer=self._declined(request))
            return
        yield sources_event(request.passages)
        messages = self._messages(request)
        parts = []
        for token in self._stream(messages):
            parts.append(token)
            yield AnswerEvent(kind="token", text=token)
        yield AnswerEvent(kind="answer", answer=self._finish(request, messages, "".join(parts)))

    def _messages(self, request: GenerationRequest) -> list[Any]:
        from langchain_core.messages import HumanMessage, SystemMessage

        return [
            SystemMessage(content=system_prompt()),
            HumanMessage(content=build_prompt(request)),
        ]

    def _finish(self, request: GenerationRequest, messages: list[Any], reply: str) -> PlanAnswer:
        from langchain_core.messages import AIMessage, HumanMessage

        checked = check_reply(reply, request)
        meta = AnswerMeta(standalone_question=request.standalone_question)
        deadline = request.extra.get("deadline")
        if checked.problems and (deadline is None or time.perf_counter() < deadline):
            repair = prompt_template("repair").format(
                errors="\n".join(f"- {p}" for p in checked.problems)
            )
            second = self._invoke(
                [*messages, AIMessage(content=reply), HumanMessage(content=repair)]
            )
            rechecked = check_reply(second, request)
            if rechecked.answer is not None or checked.answer is None:
                checked = rechecked
            meta = meta.model_copy(
                update={"repaired": True, "dropped": list(checked.problems)}
            )
        elif checked.problems:
            # No time left for a repair round: what is invalid is dropped as it is.
            meta = meta.model_copy(update={"dropped": list(checked.problems)})
        return to_answer(request, checked, meta, self._spec)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part if isinstance(part, str) else str(part.get("text", ""))
            for part in content
            if isinstance(part, str | dict)
        )
    return str(content)
