"""Loading files into ``LoadedDocument``s (Markdown, AsciiDoc, HTML, text, PDF).

``walk`` finds the files under the paths to ingest; ``load_file`` reads one file (the
only I/O here) and hands its text to a pure ``parse_*`` function per format, which
returns the title and heading-path sections with the markup reduced to text.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import io
import os
import re
import signal
import stat
import threading
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assistant.errors import CorpusError, InputError
from assistant.schemas import FileIssue, LoadedDocument, Section

#: Front matter is a few kilobytes of metadata; more is not a document's header.
MAX_FRONT_MATTER_CHARS = 256_000
#: A title, heading or front-matter string longer than this is shortened.
MAX_TITLE_CHARS = 200
#: Where YAML nesting stops: PyYAML recurses per level, Python's stack does not.
MAX_YAML_DEPTH = 50


class _BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` without aliases and with a nesting limit.

    An alias repeats a node by reference; nine nested aliases of nine items each turn a
    few hundred bytes into 9**9 strings once anything walks the result (the "billion
    laughs"). Real front matter never needs them, so any alias is refused outright.
    """

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed in front matter",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"front matter nests deeper than {MAX_YAML_DEPTH} levels",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


#: libyaml's safe loader when PyYAML was built with it (``None`` falls back to Python).
_C_LOADER: Any = getattr(yaml, "CSafeLoader", None)


def load_yaml_bounded(text: str) -> Any:
    """``yaml.safe_load`` that refuses aliases and deep nesting (``yaml.YAMLError``).

    With libyaml the events are first scanned in C and checked here (no alias, no
    node deeper than ``MAX_YAML_DEPTH``), then the C loader builds the result: the same
    data and the same refusals as ``_BoundedLoader``, in a fraction of the time (the
    catalogue's front matter is a large share of a cold ``kubeplan ask``).
    """
    if _C_LOADER is None:
        return yaml.load(text, Loader=_BoundedLoader)
    _check_events(text, _C_LOADER)
    return yaml.load(text, Loader=_C_LOADER)


def _check_events(text: str, loader: Any) -> None:
    """Raise ``yaml.YAMLError`` at the first alias or too-deep node of ``text``."""
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        mark: Any = event.start_mark  # libyaml's own Mark type, printed alike
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed in front matter", mark
            )
        if isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent):
            # A node's depth as ``_BoundedLoader`` counts it: its enclosing collections + 1.
            if depth + 1 > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"front matter nests deeper than {MAX_YAML_DEPTH} levels", mark
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split YAML (``---``) or Hugo TOML (``+++``) front matter from a document body.

    Returns ``({}, text)`` when there is none. Raises ``ValueError`` when the front
    matter is present but does not parse (naming the line), uses YAML aliases, nests
    too deep or is larger than ``MAX_FRONT_MATTER_CHARS``.
    """
    stripped = text.lstrip("\ufeff")
    for fence, parse in (("---", _parse_yaml), ("+++", _parse_toml)):
        if stripped.startswith(fence + "\n") or stripped.startswith(fence + "\r\n"):
            rest = stripped[len(fence) :].lstrip("\r\n")
            lines = rest.splitlines(keepends=True)
            for i, line in enumerate(lines):
                if line.rstrip() == fence:
                    head = "".join(lines[:i])
                    if len(head) > MAX_FRONT_MATTER_CHARS:
                        raise ValueError(
                            f"front matter is larger than {MAX_FRONT_MATTER_CHARS} characters"
                        )
                    body = "".join(lines[i + 1 :])
                    return parse(head), body
            return {}, text
    return {}, text


def flow_depth(text: str) -> int:
    """Deepest nesting of YAML/TOML flow brackets (``[`` ``{``) outside quotes."""
    depth = deepest = 0
    quote = ""
    for c in text:
        if quote:
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(0, depth - 1)
        elif c == "\n":
            quote = ""
    return deepest


def _parse_yaml(head: str) -> dict[str, Any]:
    # PyYAML's scanner is quadratic in flow nesting (5,000 "[" took 4 s): refuse first.
    if flow_depth(head) > MAX_YAML_DEPTH:
        raise ValueError(f"front matter nests deeper than {MAX_YAML_DEPTH} levels")
    try:
        data = load_yaml_bounded(head)
    except yaml.YAMLError as exc:
        raise ValueError(f"front matter is not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise ValueError("front matter nests too deep") from exc
    return data if isinstance(data, dict) else {}


def _parse_toml(head: str) -> dict[str, Any]:
    if flow_depth(head) > MAX_YAML_DEPTH:
        raise ValueError(f"front matter nests deeper than {MAX_YAML_DEPTH} levels")
    try:
        return tomllib.loads(head)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"front matter is not valid TOML: {exc}") from exc
    except RecursionError as exc:
        raise ValueError("front matter nests too deep") from exc


_ZERO_WIDTH = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\u00ad]")


def short_title(value: object, limit: int = MAX_TITLE_CHARS) -> str:
    """A title as one line of at most ``limit`` characters (never an error).

    Only strings are titles: a front-matter list or mapping is not turned into one
    (that conversion is what made alias bombs expand).
    """
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return ""
    text = _ZERO_WIDTH.sub("", str(value)[: limit * 4])
    text = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in text)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0].rstrip() + "\u2026"
    return text


# --------------------------------------------------------------------------- walking

#: Never ingested, wherever they are (licence notes beside mirrored docs).
DEFAULT_EXCLUDES: tuple[str, ...] = ("**/LICENSE-NOTE.md",)
#: Also skipped in the bundled corpus, whose README describes the format.
CORPUS_EXCLUDES: tuple[str, ...] = ("**/README.md",)


class SkippedFile(InputError):
    """A file ingest passes over (binary, empty, oversized, unreadable); not an error."""


@dataclass(frozen=True)
class FoundFile:
    """A file to load: its root folder and its path relative to that root."""

    root: Path
    rel: str

    @property
    def path(self) -> Path:
        return self.root / self.rel


@dataclass
class WalkResult:
    files: list[FoundFile] = field(default_factory=list)
    skipped: list[FileIssue] = field(default_factory=list)
    #: Roots that were walked whole (folders): sources under them that are gone get deleted.
    roots: list[Path] = field(default_factory=list)


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """``**`` spans folders, ``*`` and ``?`` stay within one path segment."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def matches(rel: str, patterns: Iterable[str]) -> bool:
    """Whether ``rel`` (posix, relative) matches a glob; globs without '/' also match names."""
    name = rel.rsplit("/", 1)[-1]
    for pattern in patterns:
        regex = glob_to_regex(pattern)
        if regex.match(rel) or ("/" not in pattern and regex.match(name)):
            return True
    return False


def walk(
    paths: Sequence[Path],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    allowed_suffixes: Sequence[str] = (),
    corpus_dir: Path | None = None,
) -> WalkResult:
    """Files to ingest under ``paths`` (folders or single files), sorted per root.

    Symbolic links are followed only while they stay inside their root; a missing path
    raises ``InputError``.
    """
    result = WalkResult()
    suffixes = {s.lower() for s in allowed_suffixes}
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists():
            raise InputError(
                f"{given} does not exist.",
                "pass a folder or file that exists (the default is the bundled corpus/).",
            )
        path = path.resolve()
        if not path.is_dir():
            # Files, and also pipes, sockets and devices: read_file says why it skips those.
            if safe_name(path.name) != path.name:
                result.skipped.append(
                    FileIssue(
                        path=safe_name(path.name),
                        reason="file name is not valid UTF-8; rename the file to ingest it",
                    )
                )
                continue
            result.files.append(FoundFile(path.parent, path.name))
            continue
        excludes = [*DEFAULT_EXCLUDES, *exclude]
        if corpus_dir is not None and path == corpus_dir.resolve():
            excludes.extend(CORPUS_EXCLUDES)
        result.roots.append(path)
        for rel in _walk_root(path, result.skipped):
            if matches(rel, excludes) or (include and not matches(rel, include)):
                continue
            if suffixes and Path(rel).suffix.lower() not in suffixes:
                continue
            result.files.append(FoundFile(path, rel))
    return result


def safe_name(name: str) -> str:
    """A path as valid UTF-8: bytes the file system gave that are not UTF-8 (kept by
    Python as lone surrogates) become U+FFFD, so reports and JSON never carry them."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _walk_root(root: Path, skipped: list[FileIssue]) -> list[str]:
    real_root = os.path.realpath(root)
    seen_dirs = {real_root}
    found: list[str] = []

    def inside(real: str) -> bool:
        return real == real_root or real.startswith(real_root + os.sep)

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        keep = []
        for d in sorted(dirnames):
            if d.startswith("."):
                continue
            real = os.path.realpath(os.path.join(dirpath, d))
            if inside(real) and real not in seen_dirs:
                seen_dirs.add(real)
                keep.append(d)
            elif not inside(real):
                rel = Path(dirpath, d).relative_to(root).as_posix()
                skipped.append(
                    FileIssue(path=safe_name(rel), reason="symbolic link leaves the root")
                )
        dirnames[:] = keep
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            full = os.path.join(dirpath, name)
            rel = Path(full).relative_to(root).as_posix()
            if not inside(os.path.realpath(full)):
                skipped.append(
                    FileIssue(path=safe_name(rel), reason="symbolic link leaves the root")
                )
                continue
            if safe_name(rel) != rel:
                skipped.append(
                    FileIssue(
                        path=safe_name(rel),
                        reason="file name is not valid UTF-8; rename the file to ingest it",
                    )
                )
                continue
            found.append(rel)
    return sorted(found)


# --------------------------------------------------------------------------- loading


_KINDS = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
}


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def read_file(found: FoundFile, *, max_file_bytes: int) -> bytes:
    """The file's bytes; ``SkippedFile`` when it is oversized, unreadable or not a regular
    file (a pipe would block the reader, and with it the ingest lock, forever)."""
    path = found.path
    try:
        kind = _not_regular(os.stat(path).st_mode)
        if kind:
            raise SkippedFile(f"not a regular file ({kind})", "only regular files are read.")
        # O_NONBLOCK: should the path turn into a pipe between stat and open, open()
        # returns at once instead of waiting for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            kind = _not_regular(info.st_mode)
            if kind:
                raise SkippedFile(f"not a regular file ({kind})", "only regular files are read.")
            if info.st_size > max_file_bytes:
                raise SkippedFile(
                    f"larger than the {max_file_bytes}-byte limit ({info.st_size} bytes)",
                    "raise KUBEPLAN_MAX_FILE_BYTES to ingest it.",
                )
            data = handle.read(max_file_bytes + 1)
        if len(data) > max_file_bytes:
            raise SkippedFile(
                f"larger than the {max_file_bytes}-byte limit (it grew while being read)",
                "raise KUBEPLAN_MAX_FILE_BYTES to ingest it.",
            )
        return data
    except OSError as exc:
        raise SkippedFile(f"unreadable: {exc.strerror or exc}") from exc


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_file(
    found: FoundFile,
    *,
    max_file_bytes: int,
    corpus_dir: Path | None = None,
    timeout: float | None = None,
) -> LoadedDocument:
    """Read and parse one file (see ``parse_file``)."""
    data = read_file(found, max_file_bytes=max_file_bytes)
    return parse_file(found, data, corpus_dir=corpus_dir, timeout=timeout)


class ParseTimeout(BaseException):
    """Parsing one file took longer than its time limit. A ``BaseException`` so that the
    ``except Exception`` of a parser library cannot swallow the interruption."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise ``ParseTimeout`` inside the block once ``seconds`` have passed.

    A timer signal interrupts even a regular expression stuck on a hostile line. Signals
    only reach the main thread, so elsewhere (the Streamlit script thread) the limit is
    checked when the block ends; the size limits bound the work there.
    """
    if not seconds or seconds <= 0:
        yield
        return
    import time

    started = time.monotonic()
    use_signal = (
        threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    )
    if not use_signal or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        yield
        if time.monotonic() - started > seconds:
            raise ParseTimeout
        return

    def expire(signum: int, frame: object) -> None:
        raise ParseTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def parse_file(
    found: FoundFile,
    data: bytes,
    *,
    corpus_dir: Path | None = None,
    timeout: float | None = None,
) -> LoadedDocument:
    """Parse a file's bytes by its suffix, within ``timeout`` seconds.

    Raises ``SkippedFile`` for files to pass over (binary, empty, no text, too slow to
    parse) and ``CorpusError`` for a curated document (under ``corpus_dir``) with invalid
    front matter.
    """
    try:
        with time_limit(timeout):
            return _parse_file(found, data, corpus_dir)
    except ParseTimeout:
        if not timeout:
            raise  # an enclosing time limit expired: it reports the file
        raise SkippedFile(
            f"parsing took longer than the {timeout:g}-second limit",
            "raise KUBEPLAN_PARSE_TIMEOUT if the file is a real document.",
        ) from None
    except RecursionError:
        raise SkippedFile("nested too deeply to parse") from None


def _parse_file(found: FoundFile, data: bytes, corpus_dir: Path | None) -> LoadedDocument:
    path = found.path
    suffix = path.suffix.lower()
    warnings: list[str] = []
    if suffix == ".pdf":
        title, sections, meta = parse_pdf(data, path.stem)
    else:
        binary = binary_reason(data)
        if binary:
            raise SkippedFile(f"binary file ({binary})")
        text, warning = decode(data)
        if text.strip() and looks_binary(text):
            raise SkippedFile(
                f"binary file (more than {MAX_CONTROL_SHARE:.0%} of the characters are "
                "control or undecodable characters)"
            )
        if warning:
            warnings.append(warning)
        if not text.strip():
            raise SkippedFile("empty file")
        parse = _PARSERS.get(suffix, parse_text)
        title, sections, meta = parse(text, path.stem)
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        raise SkippedFile("no text after removing markup")
    doc = LoadedDocument(
        path=found.rel,
        root=found.root.as_posix(),
        title=short_title(title) or short_title(path.stem) or "untitled",
        sections=sections,
        file_hash=file_hash(data),
        warnings=warnings,
        **document_fields(meta),
    )
    if corpus_dir is not None and _is_under(path, corpus_dir) and suffix in (".md", ".markdown"):
        doc = _curate(doc, found.rel, data)
    return doc


#: File signatures of formats that are not text (images, archives, executables, ...).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"BZh", "bzip2 archive"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "7z archive"),
    (b"\x7fELF", "ELF executable"),
    (b"MZ", "Windows executable"),
    (b"\xca\xfe\xba\xbe", "Java class or Mach-O binary"),
    (b"%PDF-", "PDF document"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"RIFF", "RIFF media"),
    (b"OggS", "Ogg media"),
    (b"ID3", "MP3 audio"),
    (b"\x00\x00\x01\x00", "icon"),
    (b"wOFF", "web font"),
    (b"wOF2", "web font"),
)
#: A text whose share of control or U+FFFD characters is above this is not text...
MAX_CONTROL_SHARE = 0.05
#: ... provided there are at least this many of them (one bad byte in a short note is a
#: typo in another encoding, not a binary file).
MIN_CONTROL_CHARS = 16
_SAMPLE = 65_536


def binary_reason(data: bytes) -> str | None:
    """Why ``data`` is not a text file (magic bytes, NUL bytes), or None."""
    head = data[:16]
    for magic, name in _MAGIC:
        if head.startswith(magic):
            # "MZ" and "ID3" also start ordinary words: trust them only with a NUL nearby.
            if magic in (b"MZ", b"ID3", b"BZh") and b"\x00" not in data[:512]:
                continue
            return name
    if b"\x00" in data[:8192]:
        return "contains NUL bytes"
    return None


def control_share(text: str) -> tuple[float, int]:
    """Share and number of replacement and control characters (tabs and line breaks
    excepted) in the start of ``text``: binary data decoded as UTF-8 is mostly these."""
    sample = text[:_SAMPLE]
    if not sample:
        return 0.0, 0
    bad = sum(
        1
        for c in sample
        if c == "\ufffd" or (unicodedata.category(c) == "Cc" and c not in "\t\n\r\f")
    )
    return bad / len(sample), bad


def looks_binary(text: str) -> bool:
    share, bad = control_share(text)
    return share > MAX_CONTROL_SHARE and bad >= MIN_CONTROL_CHARS


def decode(data: bytes) -> tuple[str, str | None]:
    """UTF-8 text; invalid bytes become U+FFFD with a warning."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        return (
            data.decode("utf-8", errors="replace"),
            f"not valid UTF-8 (first bad byte at offset {exc.start}); decoded with replacement",
        )


def document_fields(meta: dict[str, Any]) -> dict[str, Any]:
    """url, topic and doc_id from loose front matter (anything that is not a string is ignored)."""
    url: Any = meta.get("url") or meta.get("source")
    sources = meta.get("sources")
    if not url and isinstance(sources, list) and sources:
        first = sources[0]
        url = first.get("url") if isinstance(first, dict) else first
    def short(value: Any, limit: int) -> str | None:
        return value if isinstance(value, str) and 0 < len(value) <= limit else None

    url = short(url, 2000)
    topic = short(meta.get("topic"), 64)
    doc_id = short(meta.get("id"), 200)
    return {
        "url": url if url and url.startswith(("http://", "https://")) and url.isprintable()
        and " " not in url else None,
        "topic": short_title(topic) or None if topic else None,
        "doc_id": short_title(doc_id) or None if doc_id else None,
    }


def _is_under(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _curate(doc: LoadedDocument, rel: str, data: bytes) -> LoadedDocument:
    from assistant.ingest.catalogue import parse_document

    parsed = parse_document(rel, data.decode("utf-8", errors="replace"))
    meta = parsed.meta
    return doc.model_copy(
        update={
            "title": meta.title,
            "url": meta.sources[0].url,
            "topic": meta.topic,
            "doc_id": meta.id,
            "decision_ids": [d.id for d in meta.decisions],
            "decision_titles": {d.title: d.id for d in meta.decisions},
            "decision_sources": {d.id: list(d.sources) for d in meta.decisions},
        }
    )


# --------------------------------------------------------------------------- parsers

Parsed = tuple[str, list[Section], dict[str, Any]]


def parse_text(text: str, fallback_title: str) -> Parsed:
    return fallback_title, [Section(heading_path=[], text=_tidy(text))], {}


def parse_markdown(text: str, fallback_title: str) -> Parsed:
    """Markdown with YAML/TOML front matter, Hugo shortcodes, MkDocs and DocFX markup."""
    try:
        meta, body = split_front_matter(text)
    except ValueError:
        meta, body = {}, text
    body = _md_reduce(body)
    headings: list[tuple[int, str, int]] = []  # (level, text, line number)
    lines = body.splitlines()
    fence: str | None = None
    out_lines: list[str] = []
    for line in lines:
        stripped = line.strip()
        marker = re.match(r"^(`{3,}|~{3,})", stripped)
        if marker:
            if fence is None:
                fence = marker.group(1)[0] * 3
            elif stripped.startswith(fence):
                fence = None
            out_lines.append("")  # fences themselves carry no text
            continue
        heading = None if fence else _MD_HEADING.match(line)
        if heading and heading.group(2).strip():
            headings.append((len(heading.group(1)), heading.group(2).strip(), len(out_lines)))
            out_lines.append("\x00")
        else:
            out_lines.append(line)
    title = _title_of(meta) or (headings[0][1] if headings else fallback_title)
    return title, _sections(out_lines, headings, title), meta


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*(?:\{#[^}]*\})?\s*$")


def _title_of(meta: dict[str, Any]) -> str | None:
    title = short_title(meta.get("title"))
    return _inline(title).strip() or None if title else None


def _sections(
    lines: list[str], headings: list[tuple[int, str, int]], title: str
) -> list[Section]:
    """Cut ``lines`` at the heading markers into sections keyed by heading path."""
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    starts = [h[2] for h in headings]
    single_h1 = sum(1 for h in headings if h[0] == 1) == 1
    bounds = [0, *starts, len(lines)]
    for i in range(len(bounds) - 1):
        if i > 0:
            level, text, _ = headings[i - 1]
            while stack and stack[-1][0] >= level:
                stack.pop()
            # The page's own title heading adds nothing to every path below it.
            if not (i == 1 and (text == title or (level == 1 and single_h1))):
                stack.append((level, short_title(text) or "untitled"))
        chunk = lines[bounds[i] + (1 if i > 0 else 0) : bounds[i + 1]]
        body = _tidy("\n".join(chunk))
        if body:
            sections.append(Section(heading_path=[h for _, h in stack], text=body))
    return sections


_HEADING_NAMES = {
    "prerequisites": "Before you begin",
    "whatsnext": "What's next",
    "objectives": "Objectives",
    "cleanup": "Cleaning up",
    "synopsis": "Synopsis",
    "options": "Options",
    "seealso": "See also",
}
# Arguments never contain "{": without that bound, "{{< {{< ..." is quadratic. No "\s*"
# after them either: both would match a run of spaces, and "{{< a" followed by 20,000
# spaces and no closing took 14 s (quadratic); the arguments keep their spaces instead.
_SHORTCODE = re.compile(r"\{\{([<%])\s*(/?)\s*([\w.-]+)([^{}]*?)[>%]\}\}", re.DOTALL)
_ATTR = re.compile(r'(\w[\w-]*)\s*=\s*"([^"]*)"')
_CALLOUTS = {"note", "caution", "warning", "tip", "important"}


def reduce_shortcode(match: re.Match[str]) -> str:
    """A Hugo shortcode as the text it shows (``glossary_tooltip text="Pod"`` -> Pod)."""
    closing, name, args = match.group(2), match.group(3).lower(), match.group(4)
    if closing:
        return ""
    attrs = dict(_ATTR.findall(args))
    if "text" in attrs:
        return str(attrs["text"])
    if name == "glossary_tooltip" and "term_id" in attrs:
        return str(attrs["term_id"])
    if name == "heading":
        arg = args.strip().strip('"')
        return _HEADING_NAMES.get(arg, arg.replace("_", " ").capitalize())
    if name in _CALLOUTS:
        return f"{name.capitalize()}: "
    if name == "feature-state":
        version = attrs.get("for_k8s_version", "")
        return f"FEATURE STATE: Kubernetes {version} [{attrs.get('state', '')}]".replace(
            "  ", " "
        )
    if name == "tab" and "name" in attrs:
        return f"{attrs['name']}:"
    return ""


def _md_reduce(body: str) -> str:
    body = strip_comments(body)
    body = _SHORTCODE.sub(reduce_shortcode, body)
    body = _admonitions(body)
    body = re.sub(r"^\s*:::\s*image\b(.*?):::\s*$", _docfx_image, body, flags=re.M | re.DOTALL)
    body = re.sub(r"^\s*:::.*$", "", body, flags=re.M)
    body = re.sub(r"\[!INCLUDE\s*\[[^\]]*\]\([^)]*\)\]", "", body)
    body = re.sub(r"\[!div[^\]]*\]", "", body)
    body = re.sub(
        r"^(\s*)>\s?\[!(\w+)\]\s*$",
        lambda m: f"{m.group(1)}{m.group(2).capitalize()}:",
        body,
        flags=re.M,
    )
    body = re.sub(r"^(\s*)>\s?", r"\1", body, flags=re.M)
    return _inline(body)


def strip_comments(text: str) -> str:
    """HTML comments removed in one pass (an unclosed one stays as text); a lazy regex
    rescans the rest of the text from every "<!--" that has no end."""
    out: list[str] = []
    pos = 0
    while True:
        start = text.find("<!--", pos)
        if start < 0:
            break
        end = text.find("-->", start + 4)
        if end < 0:
            break
        out.append(text[pos:start])
        pos = end + 3
    out.append(text[pos:])
    return "".join(out)


def _docfx_image(match: re.Match[str]) -> str:
    attrs = dict(_ATTR.findall(match.group(1)))
    return str(attrs.get("alt-text", ""))


def _admonitions(body: str) -> str:
    """MkDocs ``!!! note "Title"`` plus its indented block, as ``Note: Title`` and text."""
    out: list[str] = []
    indent: int | None = None
    for line in body.splitlines():
        m = re.match(r'^(\s*)(?:!!!|\?\?\?\+?)\s+(\w[\w-]*)(?:\s+"([^"]*)")?\s*$', line)
        if m:
            label = m.group(2).capitalize()
            out.append(f"{m.group(1)}{label}: {m.group(3) or ''}".rstrip())
            indent = len(m.group(1)) + 4
            continue
        if indent is not None:
            if not line.strip():
                out.append("")
                continue
            if len(line) - len(line.lstrip()) >= indent:
                out.append(line[4:])
                continue
            indent = None
        out.append(line)
    return "\n".join(out)


def _inline(text: str) -> str:
    # Link text without "[": with it, "[[[[..." makes every "[" scan to the end (quadratic).
    text = re.sub(r"!\[([^\[\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\[\]]+)\]\((?:[^()]|\([^()]*\))*\)", r"\1", text)
    return text


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def parse_asciidoc(text: str, fallback_title: str) -> Parsed:
    """AsciiDoc: ``=`` headings, attributes, comments and block delimiters dropped."""
    out_lines: list[str] = []
    headings: list[tuple[int, str, int]] = []
    literal: str | None = None
    in_comment = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "////":
            in_comment = not in_comment
            continue
        if in_comment or stripped.startswith("//"):
            continue
        if re.fullmatch(r"(-{4,}|\.{4,}|`{3,}.*)", stripped):
            literal = None if literal else stripped[:4]
            out_lines.append("")
            continue
        if literal is None:
            if re.fullmatch(r"(={4,}|\*{4,}|_{4,}|\+{4,}|\|={3,}|--)", stripped):
                out_lines.append("")
                continue
            heading = re.match(r"^(={1,6})\s+(.+?)\s*$", line)
            if heading:
                headings.append((len(heading.group(1)), heading.group(2), len(out_lines)))
                out_lines.append("\x00")
                continue
            if re.match(r"^:[\w!-]+:", stripped) or re.fullmatch(r"\[.*\]", stripped):
                continue
            if re.match(r"^(include|ifdef|ifndef|ifeval|endif|toc)::", stripped):
                continue
            image = re.match(r"^image::[^\[]*\[([^\],]*)", stripped)
            if image:
                out_lines.append(image.group(1))
                continue
            if re.match(r"^\.[A-Za-z]", stripped):
                line = stripped[1:]
        out_lines.append(line)
    body = _adoc_inline("\n".join(out_lines))
    lines = body.split("\n")
    headings = [(level, _adoc_inline(h), n) for level, h, n in headings]
    title = headings[0][1] if headings else fallback_title
    return title, _sections(lines, headings, title), {}


def _adoc_inline(text: str) -> str:
    text = re.sub(r"(?:xref|link):[^\[\s]*\[([^\]]*)\]", r"\1", text)
    text = re.sub(r"https?://[^\s\[]+\[([^\]]*)\]", r"\1", text)
    text = re.sub(r"<<[^,<>]+,\s*([^<>]+)>>", r"\1", text)
    text = re.sub(r"<<([^<>]+)>>", r"\1", text)
    text = re.sub(r"\{[\w-]+\}", "", text)  # attribute references
    return text


_HTML_DROP = ("script", "style", "nav", "noscript", "header", "footer", "template", "svg")
_HTML_BLOCKS = (
    "p", "div", "li", "pre", "table", "tr", "br", "ul", "ol", "dd", "dt", "blockquote",
    "section", "article", "td", "th",
)


#: Deepest element nesting parsed; html.parser and BeautifulSoup slow down sharply with
#: depth (a 4 KB file of 1,000 nested <div> took 5 s) and real pages stay far below it.
MAX_HTML_DEPTH = 256
#: Void elements, and elements HTML closes implicitly (an unclosed <p> or <li> is common).
_VOID = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr", "p", "li", "td", "th", "tr", "dt", "dd", "option",
})
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]{0,30})[^<>]{0,2000}?(/?)>")


def html_depth(text: str) -> int:
    """How deep elements nest (a linear estimate: void and self-closed tags do not nest)."""
    depth = deepest = 0
    for closing, name, self_closed in _TAG.findall(text):
        if closing:
            depth = max(0, depth - 1)
        elif not self_closed and name.lower() not in _VOID:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def parse_html(text: str, fallback_title: str) -> Parsed:
    """HTML: text and heading structure; scripts, styles and navigation dropped."""
    from bs4 import BeautifulSoup

    depth = html_depth(text)
    if depth > MAX_HTML_DEPTH:
        raise SkippedFile(
            f"HTML nests {depth} elements deep (the limit is {MAX_HTML_DEPTH})",
            "real pages nest far less; fix or convert the file.",
        )

    soup = BeautifulSoup(text, "html.parser")
    page_title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    if soup.head:
        soup.head.decompose()
    headings: list[tuple[int, str, int]] = []
    for tag in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6"]):
        heading = tag.get_text(" ", strip=True)
        tag.replace_with(f"\n\x00{tag.name[1]}\x00{heading}\n")
    for tag in soup.find_all(_HTML_BLOCKS):
        tag.insert_after("\n\n" if tag.name not in ("br", "td", "th", "li", "tr") else "\n")
    raw = html.unescape(soup.get_text())
    lines: list[str] = []
    for line in raw.split("\n"):
        m = re.match(r"^\x00(\d)\x00(.*)$", line)
        if m:
            if m.group(2).strip():
                headings.append((int(m.group(1)), m.group(2).strip(), len(lines)))
                lines.append("\x00")
            continue
        lines.append(re.sub(r"[ \t\r\f\v]+", " ", line).strip())
    title = page_title or (headings[0][1] if headings else fallback_title)
    return title, _sections(lines, headings, title), {}


def parse_pdf(data: bytes, fallback_title: str) -> Parsed:
    """PDF: one section per page with text, headed ``Page N``."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise SkippedFile(f"unreadable PDF: {str(exc)[:300]}") from exc
    except Exception as exc:
        raise SkippedFile(f"unreadable PDF ({type(exc).__name__}: {str(exc)[:300]})") from exc
    title = str(info.title) if info is not None and info.title else fallback_title
    sections = [
        Section(heading_path=[f"Page {n}"], text=_tidy(t))
        for n, t in enumerate(pages, start=1)
        if t.strip()
    ]
    return title, sections, {}


_PARSERS: dict[str, Callable[[str, str], Parsed]] = {
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".adoc": parse_asciidoc,
    ".asciidoc": parse_asciidoc,
    ".html": parse_html,
    ".htm": parse_html,
    ".txt": parse_text,
}

__all__ = [
    "CORPUS_EXCLUDES",
    "DEFAULT_EXCLUDES",
    "CorpusError",
    "FoundFile",
    "SkippedFile",
    "WalkResult",
    "binary_reason",
    "control_share",
    "file_hash",
    "load_file",
    "load_yaml_bounded",
    "parse_asciidoc",
    "parse_file",
    "parse_html",
    "parse_markdown",
    "parse_pdf",
    "parse_text",
    "read_file",
    "safe_name",
    "short_title",
    "split_front_matter",
    "time_limit",
    "walk",
]
