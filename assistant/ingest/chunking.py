"""Heading-aware chunking, bounded in the embedding model's own tokens. Pure functions.

What is embedded is ``embedding_text(chunk)``: the document title and heading path in
front of the passage. The token budget is checked on exactly that string, so the
model never truncates a chunk silently.

A section is split into paragraphs, an oversized paragraph into lines, then sentences,
then words (and a monstrous word into characters); the pieces are packed greedily.
A run without whitespace longer than ``MAX_WORD_CHARS`` is first broken with spaces:
WordPiece reads such a run as one unknown token, so it would count (and embed) as
next to nothing however long it is.
Consecutive chunks of one section share up to ``overlap`` tokens of words, a fragment
under ``min_tokens`` is merged into its neighbour when it fits, and a section that small
is folded into its first subsection.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant.schemas import Chunk, LoadedDocument, Section

CountTokens = Callable[[str], int]

_HEADING_SEP = " > "
_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
#: A heading path longer than this share of the budget is shortened in the prefix.
_PREFIX_SHARE = 0.4
#: BERT's WordPiece gives up on words longer than 100 characters (one [UNK] token).
MAX_WORD_CHARS = 100
_LONG_RUN = re.compile(r"\S{" + str(MAX_WORD_CHARS + 1) + ",}")


def break_long_runs(text: str, limit: int = MAX_WORD_CHARS) -> str:
    """``text`` with every whitespace-free run over ``limit`` characters cut by spaces."""

    def cut(match: re.Match[str]) -> str:
        run = match.group(0)  # once: each call copies the whole run
        return " ".join(run[i : i + limit] for i in range(0, len(run), limit))

    return _LONG_RUN.sub(cut, text)


def context_prefix(title: str, heading_path: list[str]) -> str:
    """What goes in front of a passage when it is embedded."""
    return _HEADING_SEP.join([title, *heading_path]) + ": "


def embedding_text(chunk: Chunk) -> str:
    """The exact string embedded for ``chunk`` (its token count is within the limit)."""
    return context_prefix(chunk.title, chunk.heading_path) + chunk.text


def source_key(root: str, path: str) -> str:
    """The root-qualified path chunk ids and the manifest are keyed by."""
    return f"{root.rstrip('/')}/{path}" if root else path


def chunk_id(collection: str, source: str, heading_path: list[str], ordinal: int,
             content_hash: str) -> str:
    """Stable id: position (collection, source, heading path, ordinal) + content hash."""
    key = "\x1f".join([collection, source, _HEADING_SEP.join(heading_path), str(ordinal)])
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16] + "-" + content_hash[:12]


@dataclass(frozen=True)
class _Piece:
    text: str
    tokens: int
    joiner: str  # what separates this piece from the one before it


def chunk_document(
    doc: LoadedDocument,
    *,
    collection: str,
    count_tokens: CountTokens,
    max_tokens: int,
    overlap: int = 0,
    min_tokens: int = 30,
) -> list[Chunk]:
    """Split ``doc`` into chunks whose ``embedding_text`` has at most ``max_tokens`` tokens."""
    source = source_key(doc.root, doc.path)
    ordinals: dict[str, int] = {}
    chunks: list[Chunk] = []
    title = fit_title(doc.title, count_tokens, max_tokens)
    for section in merge_tiny_sections(doc.sections, count_tokens, min_tokens):
        headings = _fit_headings(title, section.heading_path, count_tokens, max_tokens)
        prefix = context_prefix(title, headings)
        budget = max_tokens - count_tokens(prefix)
        decisions = _decisions_for(doc, section.heading_path)
        url = section_url(doc, decisions)
        key = _HEADING_SEP.join(section.heading_path)
        for text in split_text(section.text, count_tokens, budget, overlap, min_tokens):
            ordinal = ordinals.get(key, 0)
            ordinals[key] = ordinal + 1
            # The hash covers what a chunk carries besides its text, so a changed URL,
            # topic or decision mapping re-stores the chunk too.
            content = "\x1f".join(
                [prefix + text, url or "", doc.topic or "", doc.doc_id or "", *decisions]
            )
            content_hash = hashlib.sha256(content.encode("utf-8")).hexdigest()
            chunks.append(
                Chunk(
                    id=chunk_id(collection, source, section.heading_path, ordinal, content_hash),
                    text=text,
                    collection=collection,
                    path=doc.path,
                    root=doc.root,
                    title=title,
                    heading_path=headings,
                    ordinal=ordinal,
                    content_hash=content_hash,
                    file_hash=doc.file_hash,
                    url=url,
                    topic=doc.topic,
                    doc_id=doc.doc_id,
                    decision_ids=decisions,
                    tokens=count_tokens(prefix + text),
                )
            )
    return chunks


def merge_tiny_sections(
    sections: list[Section], count_tokens: CountTokens, min_tokens: int
) -> list[Section]:
    """Fold a section under ``min_tokens`` into the next one when that is its subsection.

    Pages often open a heading with one line before its subheadings; alone, such a line
    makes a passage too small to retrieve well. Its words move under the subheading.
    """
    out: list[Section] = []
    carry: Section | None = None
    for section in sections:
        if carry is not None:
            depth = len(carry.heading_path)
            if section.heading_path[:depth] == carry.heading_path:
                section = Section(
                    heading_path=section.heading_path, text=f"{carry.text}\n\n{section.text}"
                )
            else:
                out.append(carry)
            carry = None
        if count_tokens(section.text) < min_tokens:
            carry = section
        else:
            out.append(section)
    if carry is not None:
        out.append(carry)
    return out


def _decisions_for(doc: LoadedDocument, heading_path: list[str]) -> list[str]:
    for heading in heading_path:
        if heading in doc.decision_titles:
            return [doc.decision_titles[heading]]
    return list(doc.decision_ids)


def section_url(doc: LoadedDocument, decisions: list[str]) -> str | None:
    """The upstream page a passage cites: for a curated section, a source of the decisions
    it explains (the one most of them list, else the first decision's first); otherwise
    the document's own URL."""
    lists = [doc.decision_sources[d] for d in decisions if doc.decision_sources.get(d)]
    if not lists:
        return doc.url
    counts: dict[str, int] = {}
    for urls in lists:
        for url in dict.fromkeys(urls):
            counts[url] = counts.get(url, 0) + 1
    order = list(dict.fromkeys(u for urls in lists for u in urls))
    return max(order, key=lambda u: (counts[u], -order.index(u)))


def _shorten(text: str, fits: Callable[[str], bool]) -> str:
    """The longest word-prefix of ``text`` (then character prefix) that ``fits``."""
    if fits(text):
        return text
    words = text.split()
    lo, hi = 0, len(words)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(" ".join(words[:mid]) + "\u2026"):
            lo = mid
        else:
            hi = mid - 1
    if lo:
        return " ".join(words[:lo]) + "\u2026"
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(text[:mid] + "\u2026"):
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "\u2026" if lo else ""


def fit_title(title: str, count_tokens: CountTokens, max_tokens: int) -> str:
    """``title`` shortened (by words, then characters) to leave room for the passage: a
    long title never fails its file."""
    limit = int(max_tokens * _PREFIX_SHARE)
    title = break_long_runs(" ".join(title.split()))
    return _shorten(title, lambda t: count_tokens(context_prefix(t, [])) <= limit)


def _fit_headings(
    title: str, headings: list[str], count_tokens: CountTokens, max_tokens: int
) -> list[str]:
    """Drop outer headings (then the innermost's words) until the prefix is small enough."""
    limit = int(max_tokens * _PREFIX_SHARE)
    fitted = list(headings)
    while fitted and count_tokens(context_prefix(title, fitted)) > limit:
        if len(fitted) > 1:
            fitted.pop(0)
        else:
            words = fitted[0].split()
            fitted = [" ".join(words[: len(words) // 2])] if len(words) > 1 else []
    return fitted


def split_text(
    text: str, count_tokens: CountTokens, budget: int, overlap: int = 0, min_tokens: int = 30
) -> list[str]:
    """Split ``text`` into passages of at most ``budget`` tokens each, in order.

    Dropping each passage's first ``overlap``-token run of words that repeats the end
    of the passage before it gives back the text's words in order.
    """
    if budget < 8:
        raise ValueError(f"chunk budget of {budget} tokens is too small")
    overlap = max(0, min(overlap, budget // 4))
    pieces = _pieces(break_long_runs(text.strip()), count_tokens, budget - overlap)
    if not pieces:
        return []
    groups = _pack(pieces, budget - overlap)
    groups = _merge_small(groups, budget - overlap, min_tokens)
    passages = ["".join(_render(g)) for g in groups]
    if overlap:
        passages = _add_overlap(passages, count_tokens, overlap)
    out: list[str] = []
    for passage in passages:
        # Token counts of joined pieces can exceed their sum at odd boundaries; re-check.
        if count_tokens(passage) > budget:
            out.extend(split_text(passage, count_tokens, budget, 0, 0))
        else:
            out.append(passage)
    return out


def _render(group: list[_Piece]) -> list[str]:
    return [group[0].text, *(p.joiner + p.text for p in group[1:])]


def _pieces(text: str, count_tokens: CountTokens, budget: int) -> list[_Piece]:
    out: list[_Piece] = []
    for i, para in enumerate(p for p in _PARAGRAPH_BREAK.split(text) if p.strip()):
        joiner = "\n\n" if i else ""
        out.extend(_split_unit(para.strip("\n"), joiner, count_tokens, budget, level=0))
    return out


_LEVELS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\n"), "\n"),
    (_SENTENCE_END, " "),
    (re.compile(r"\s+"), " "),
)


def _split_unit(
    text: str, joiner: str, count_tokens: CountTokens, budget: int, level: int
) -> list[_Piece]:
    tokens = count_tokens(text)
    if tokens <= budget:
        return [_Piece(text, tokens, joiner)]
    if level == len(_LEVELS):
        return _split_chars(text, joiner, count_tokens, budget)
    pattern, inner = _LEVELS[level]
    parts = [p for p in pattern.split(text) if p.strip()]
    if len(parts) <= 1:
        return _split_unit(text, joiner, count_tokens, budget, level + 1)
    if level == len(_LEVELS) - 1 and len(parts) > _MANY_WORDS:
        return _pack_words(parts, joiner, count_tokens, budget, level)
    out: list[_Piece] = []
    for j, part in enumerate(parts):
        out.extend(
            _split_unit(part.strip() if level else part, joiner if j == 0 else inner,
                        count_tokens, budget, level + 1)
        )
    return out


#: Above this many words in one unit, words are packed by searching prefix lengths instead
#: of being counted one by one (a megabyte line of short words is half a million counts).
_MANY_WORDS = 256


def _pack_words(
    words: list[str], joiner: str, count_tokens: CountTokens, budget: int, level: int
) -> list[_Piece]:
    """Consecutive words joined into pieces of at most ``budget`` tokens: for each piece,
    the longest run of words that fits, found by doubling then bisecting its length."""
    out: list[_Piece] = []
    i, n = 0, len(words)

    def fits(k: int) -> bool:
        return count_tokens(" ".join(words[i : i + k])) <= budget

    while i < n:
        first = joiner if not out else " "
        if not fits(1):
            out.extend(_split_unit(words[i], first, count_tokens, budget, level + 1))
            i += 1
            continue
        good, step = 1, 1
        while i + good < n and fits(min(good + step, n - i)):
            good = min(good + step, n - i)
            step *= 2
        bad = min(good + step, n - i + 1)
        while bad - good > 1:
            mid = (good + bad) // 2
            if fits(mid):
                good = mid
            else:
                bad = mid
        piece = " ".join(words[i : i + good])
        out.append(_Piece(piece, count_tokens(piece), first))
        i += good
    return out


def _split_chars(text: str, joiner: str, count_tokens: CountTokens, budget: int) -> list[_Piece]:
    out: list[_Piece] = []
    rest = text
    while rest:
        lo, hi = 1, len(rest)
        while lo < hi:  # the longest prefix within budget
            mid = (lo + hi + 1) // 2
            if count_tokens(rest[:mid]) <= budget:
                lo = mid
            else:
                hi = mid - 1
        out.append(_Piece(rest[:lo], count_tokens(rest[:lo]), joiner if not out else ""))
        rest = rest[lo:]
    return out


def _pack(pieces: list[_Piece], budget: int) -> list[list[_Piece]]:
    groups: list[list[_Piece]] = []
    current: list[_Piece] = []
    used = 0
    for piece in pieces:
        if current and used + piece.tokens > budget:
            groups.append(current)
            current, used = [], 0
        current.append(piece)
        used += piece.tokens
    if current:
        groups.append(current)
    return groups


def _merge_small(groups: list[list[_Piece]], budget: int, min_tokens: int) -> list[list[_Piece]]:
    merged: list[list[_Piece]] = []
    for group in groups:
        size = sum(p.tokens for p in group)
        last = sum(p.tokens for p in merged[-1]) if merged else 0
        if merged and (size < min_tokens or last < min_tokens) and last + size <= budget:
            merged[-1] = merged[-1] + group
        else:
            merged.append(group)
    return merged


def _add_overlap(passages: list[str], count_tokens: CountTokens, overlap: int) -> list[str]:
    out = [passages[0]]
    for prev, passage in itertools.pairwise(passages):
        tail = _tail_words(prev, count_tokens, overlap)
        if tail and out[-1] == prev and tail == " ".join(prev.split()):
            # A tiny passage that got no overlap of its own would be repeated whole by the
            # next one's overlap: absorb it rather than keep a passage the next contains.
            out[-1] = f"{tail} {passage}"
            continue
        out.append(f"{tail} {passage}" if tail else passage)
    return out


def _tail_words(text: str, count_tokens: CountTokens, limit: int) -> str:
    words = text.split()
    taken: list[str] = []
    used = 0
    for word in reversed(words):
        cost = count_tokens(word)
        if used + cost > limit:
            break
        taken.append(word)
        used += cost
    return " ".join(reversed(taken))
