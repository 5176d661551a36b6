"""Loading files into ``LoadedDocument``s (Markdown, AsciiDoc, HTML, text, PDF).

``walk`` finds the files under the paths to ingest; ``load_file`` reads one file (the
only I/O here) and hands its text to a pure ``parse_*`` function per format, which
returns the title and heading-path sections with the markup reduced to text.
"""

from __future__ import annotations

import hashlib
import html
import io
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import CorpusError, InputError
from .schemas import FileIssue, LoadedDocument, Section


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split YAML (``---``) or Hugo TOML (``+++``) front matter from a document body.

    Returns ``({}, text)`` when there is none. Raises ``ValueError`` when the front
    matter is present but does not parse, naming the line.
    """
    stripped = text.lstrip("\ufeff")
    for fence, parse in (("---", _parse_yaml), ("+++", _parse_toml)):
        if stripped.startswith(fence + "\n") or stripped.startswith(fence + "\r\n"):
            rest = stripped[len(fence) :].lstrip("\r\n")
            lines = rest.splitlines(keepends=True)
            for i, line in enumerate(lines):
                if line.rstrip() == fence:
                    head = "".join(lines[:i])
                    body = "".join(lines[i + 1 :])
                    return parse(head), body
            return {}, text
    return {}, text


_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse_yaml(head: str) -> dict[str, Any]:
    try:
        # libyaml when present: the catalogue's 26 front matters parse in a tenth of the
        # time, which is most of a cold `kubeplan ask`.
        data = yaml.load(head, Loader=_YAML_LOADER)  # a safe loader, C or Python
    except yaml.YAMLError as exc:
        raise ValueError(f"front matter is not valid YAML: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _parse_toml(head: str) -> dict[str, Any]:
    try:
        return tomllib.loads(head)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"front matter is not valid TOML: {exc}") from exc


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
        if path.is_file():
            root = path.parent
            result.files.append(FoundFile(root, path.name))
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
                skipped.append(FileIssue(path=rel, reason="symbolic link leaves the root"))
        dirnames[:] = keep
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            full = os.path.join(dirpath, name)
            rel = Path(full).relative_to(root).as_posix()
            if not inside(os.path.realpath(full)):
                skipped.append(FileIssue(path=rel, reason="symbolic link leaves the root"))
                continue
            found.append(rel)
    return sorted(found)


# --------------------------------------------------------------------------- loading


def read_file(found: FoundFile, *, max_file_bytes: int) -> bytes:
    """The file's bytes; ``SkippedFile`` when it is oversized or unreadable."""
    path = found.path
    try:
        size = path.stat().st_size
        if size > max_file_bytes:
            raise SkippedFile(
                f"larger than the {max_file_bytes}-byte limit ({size} bytes)",
                "raise KUBEPLAN_MAX_FILE_BYTES to ingest it.",
            )
        return path.read_bytes()
    except OSError as exc:
        raise SkippedFile(f"unreadable: {exc.strerror or exc}") from exc


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_file(
    found: FoundFile, *, max_file_bytes: int, corpus_dir: Path | None = None
) -> LoadedDocument:
    """Read and parse one file (see ``parse_file``)."""
    data = read_file(found, max_file_bytes=max_file_bytes)
    return parse_file(found, data, corpus_dir=corpus_dir)


def parse_file(found: FoundFile, data: bytes, *, corpus_dir: Path | None = None) -> LoadedDocument:
    """Parse a file's bytes by its suffix.

    Raises ``SkippedFile`` for files to pass over (binary, empty, no text) and
    ``CorpusError`` for a curated document (under ``corpus_dir``) with invalid front
    matter.
    """
    path = found.path
    suffix = path.suffix.lower()
    warnings: list[str] = []
    if suffix == ".pdf":
        title, sections, meta = parse_pdf(data, path.stem)
    else:
        if b"\x00" in data[:8192]:
            raise SkippedFile("binary file (contains NUL bytes)")
        text, warning = decode(data)
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
        title=title,
        sections=sections,
        file_hash=file_hash(data),
        warnings=warnings,
        **document_fields(meta),
    )
    if corpus_dir is not None and _is_under(path, corpus_dir) and suffix in (".md", ".markdown"):
        doc = _curate(doc, found.rel, data)
    return doc


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
    return {
        "url": url if isinstance(url, str) and url.startswith(("http://", "https://")) else None,
        "topic": meta["topic"] if isinstance(meta.get("topic"), str) else None,
        "doc_id": meta["id"] if isinstance(meta.get("id"), str) else None,
    }


def _is_under(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _curate(doc: LoadedDocument, rel: str, data: bytes) -> LoadedDocument:
    from .catalogue import parse_document

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
    title = meta.get("title")
    return _inline(str(title)).strip() or None if title else None


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
                stack.append((level, text))
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
_SHORTCODE = re.compile(r"\{\{([<%])\s*(/?)\s*([\w.-]+)([^}]*?)\s*[>%]\}\}", re.DOTALL)
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
    body = re.sub(r"<!--.*?-->", "", body, flags=re.DOTALL)
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
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)", r"\1", text)
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
    text = re.sub(r"<<[^,>]+,\s*([^>]+)>>", r"\1", text)
    text = re.sub(r"<<([^>]+)>>", r"\1", text)
    text = re.sub(r"\{[\w-]+\}", "", text)  # attribute references
    return text


_HTML_DROP = ("script", "style", "nav", "noscript", "header", "footer", "template", "svg")
_HTML_BLOCKS = (
    "p", "div", "li", "pre", "table", "tr", "br", "ul", "ol", "dd", "dt", "blockquote",
    "section", "article", "td", "th",
)


def parse_html(text: str, fallback_title: str) -> Parsed:
    """HTML: text and heading structure; scripts, styles and navigation dropped."""
    from bs4 import BeautifulSoup

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
        raise SkippedFile(f"unreadable PDF: {exc}") from exc
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
    "file_hash",
    "load_file",
    "parse_asciidoc",
    "parse_file",
    "parse_html",
    "parse_markdown",
    "parse_pdf",
    "parse_text",
    "read_file",
    "split_front_matter",
    "walk",
]
