"""The decision catalogue: every decision carried by the curated corpus's front matter."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from assistant.errors import CorpusError
from assistant.ingest.loading import split_front_matter
from assistant.schemas import CorpusFrontMatter, Decision


class CorpusDocument(BaseModel):
    """A curated document: its front matter, where it lives, and its body."""

    model_config = ConfigDict(extra="forbid")

    path: str
    meta: CorpusFrontMatter
    body: str


class Catalogue(BaseModel):
    """Decisions by id, and the documents that carry them."""

    model_config = ConfigDict(extra="forbid")

    decisions: dict[str, Decision]
    documents: dict[str, CorpusDocument]

    def by_topic(self, topic: str | None = None) -> list[Decision]:
        """Decisions of ``topic`` (all when ``None``), ordered by id."""
        return sorted(
            (d for d in self.decisions.values() if topic is None or d.topic == topic),
            key=lambda d: d.id,
        )

    def get(self, decision_id: str) -> Decision | None:
        return self.decisions.get(decision_id)

    def document_of(self, decision_id: str) -> CorpusDocument | None:
        decision = self.decisions.get(decision_id)
        return self.documents.get(decision.doc_id) if decision else None

    @property
    def topics(self) -> list[str]:
        return sorted({d.topic for d in self.decisions.values()})


def parse_document(path: str, text: str) -> CorpusDocument:
    """Validate one curated document; ``CorpusError`` names the file and the field."""
    try:
        raw, body = split_front_matter(text)
    except ValueError as exc:
        raise CorpusError(f"{path}: {exc}", "fix the front matter between the --- lines.") from exc
    if not raw:
        raise CorpusError(
            f"{path}: no YAML front matter.",
            "start the file with a --- block holding id, title, topic, summary, applies_to, "
            "reviewed, sources and decisions.",
        )
    try:
        meta = CorpusFrontMatter.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise CorpusError(f"{path}: invalid front matter: {problems}", "correct those fields.") \
            from exc
    decisions = [
        d.model_copy(update={"topic": d.id.split(".", 1)[0], "doc_id": meta.id})
        for d in meta.decisions
    ]
    for d in decisions:
        if d.topic != meta.topic:
            raise CorpusError(
                f"{path}: decision {d.id} does not start with the document's topic "
                f"{meta.topic!r}.",
                f"rename it to {meta.topic}.<slug> or move it to a document of its topic.",
            )
    meta = meta.model_copy(update={"decisions": decisions})
    return CorpusDocument(path=path, meta=meta, body=body)


def build_catalogue(documents: Iterable[CorpusDocument]) -> Catalogue:
    """Check ids are unique and alternatives exist; pure."""
    decisions: dict[str, Decision] = {}
    docs: dict[str, CorpusDocument] = {}
    for doc in documents:
        if doc.meta.id in docs:
            raise CorpusError(
                f"document id {doc.meta.id!r} is used by {docs[doc.meta.id].path} and {doc.path}.",
                "give each document its own id.",
            )
        docs[doc.meta.id] = doc
        for d in doc.meta.decisions:
            if d.id in decisions:
                raise CorpusError(
                    f"decision id {d.id!r} appears in {docs[decisions[d.id].doc_id].path} "
                    f"and {doc.path}.",
                    "decision ids must be unique across the corpus.",
                )
            decisions[d.id] = d
    for d in decisions.values():
        missing = [a for a in d.alternatives if a not in decisions]
        if missing:
            raise CorpusError(
                f"decision {d.id} names unknown alternatives {missing} "
                f"(in {docs[d.doc_id].path}).",
                "use ids of decisions that exist, or drop them.",
            )
    return Catalogue(decisions=decisions, documents=docs)


def load_catalogue(corpus_dir: Path, cache_dir: Path | None = None) -> Catalogue:
    """Read every ``*.md`` under ``corpus_dir`` (README files excepted).

    With ``cache_dir`` the parsed catalogue is kept there as JSON, keyed by the files'
    names and bytes and by the parsing code: parsing the front matter was about 90 ms
    of every cold ``kubeplan ask``, reading the JSON back is a few. A corpus that does
    not parse is never cached, so its errors are raised every time.
    """
    if not corpus_dir.is_dir():
        raise CorpusError(
            f"corpus folder {corpus_dir} does not exist.",
            "set KUBEPLAN_CORPUS_DIR to the folder of curated documents.",
        )
    texts = {}
    for file in sorted(corpus_dir.rglob("*.md")):
        if file.name.lower() == "readme.md":
            continue
        texts[file.relative_to(corpus_dir).as_posix()] = file.read_text(encoding="utf-8")
    cached = cache_dir / f"catalogue-{_texts_key(texts)}.json" if cache_dir else None
    if cached is not None and cached.is_file():
        try:
            return Catalogue.model_validate_json(cached.read_bytes())
        except (OSError, ValidationError):
            pass  # unreadable or from another shape of the models: parse again
    catalogue = build_catalogue(parse_document(rel, text) for rel, text in texts.items())
    if cached is not None:
        _write_atomic(cached, catalogue.model_dump_json().encode())
    return catalogue


def _texts_key(texts: dict[str, str]) -> str:
    """The corpus files and the code that parses them (this module, the front-matter
    reader, the schemas): a change to either parses anew."""
    import hashlib

    from assistant import schemas
    from assistant.ingest import loading

    h = hashlib.sha256()
    for module in (__file__, loading.__file__, schemas.__file__):
        h.update(Path(module).read_bytes() + b"\0")
    for rel, text in texts.items():
        h.update(rel.encode() + b"\1" + text.encode() + b"\2")
    return h.hexdigest()[:24]


def _write_atomic(path: Path, data: bytes) -> None:
    import os

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.tmp-{os.getpid()}{path.suffix}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        return  # a read-only data dir only costs parsing again next time
