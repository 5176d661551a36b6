"""Hostile files for the ingest fuzz suite: a hypothesis strategy of file specs and the
deterministic builder that turns a spec into bytes.

A spec is small (kind, seed, size) so hypothesis can draw a thousand of them quickly; the
builder expands it with ``random.Random(seed)``: YAML alias bombs, deep nesting, huge
lines, broken encodings, binary soup, truncated and corrupted PDFs, long titles.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

from hypothesis import strategies as st

from tests.pdfmaker import make_pdf

Builder = Callable[[random.Random, int], tuple[str, bytes]]

WORDS = [
    "pod", "node", "cluster", "etcd", "quorum", "ingress", "tenant", "namespace", "rbac",
    "secret", "vault", "spot", "gpu", "windows", "arm", "edge", "gitops", "argo", "flux",
    "prometheus", "network", "policy", "registry", "image",
]


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def alias_bomb(rng: random.Random, size: int) -> tuple[str, bytes]:
    width, depth = rng.randint(3, 12), rng.randint(3, 12)
    lines = ["---", f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, depth):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    lines += [f"title: *a{depth - 1}", f"topic: *a{rng.randint(0, depth - 1)}", "---", "",
              "# Doc", "", _words(rng, 50)]
    return "md", "\n".join(lines).encode()


def deep_front_matter(rng: random.Random, size: int) -> tuple[str, bytes]:
    depth = rng.choice([60, 500, 5000, 20000])
    style = rng.choice(["flow", "block", "toml"])
    if style == "flow":
        head = "---\nx: " + "[" * depth + "]" * depth + "\n---\n"
    elif style == "block":
        head = "---\n" + "".join(" " * i + f"k{i}:\n" for i in range(min(depth, 400))) + "---\n"
    else:
        head = "+++\nx = " + "[" * depth + "]" * depth + "\n+++\n"
    return "md", (head + "\n" + _words(rng, 40)).encode()


def deep_markdown(rng: random.Random, size: int) -> tuple[str, bytes]:
    depth = rng.choice([100, 1000, 10000])
    kind = rng.randrange(3)
    if kind == 0:
        body = ">" * depth + " " + _words(rng, 20)
    elif kind == 1:
        body = "\n".join("  " * i + "- " + rng.choice(WORDS) for i in range(min(depth, 400)))
    else:
        body = "[" * depth + "x" + "](" * depth
    return "md", f"# Deep\n\n{body}\n".encode()


def huge_line(rng: random.Random, size: int) -> tuple[str, bytes]:
    unit = rng.choice(
        ["[a](", "{{< ", "x", "ab1", "<!--", "![", "## ", "# ", " ", "password=", "AKIA",
         "\t", "::: ", "!!! ", "`"]
    )
    n = max(1, size // len(unit))
    suffix = rng.choice(["md", "adoc", "txt", "html"])
    return suffix, (f"# Huge\n\n{unit * n}\n\n" + _words(rng, 30)).encode()


def random_markdown(rng: random.Random, size: int) -> tuple[str, bytes]:
    parts = []
    while sum(map(len, parts)) < size:
        parts.append(
            rng.choice(
                [
                    "#" * rng.randint(1, 7) + " " + _words(rng, rng.randint(0, 30)),
                    _words(rng, rng.randint(1, 200)),
                    "```" + rng.choice(["", "yaml", "~~~"]),
                    "{{< " + rng.choice(["note", "tab name=\"x\"", "feature-state"]) + " >}}",
                    "!!! note \"" + _words(rng, 3) + "\"",
                    "    " + _words(rng, 10),
                    ":::image type=\"content\" alt-text=\"" + _words(rng, 3),
                    "<!-- " + _words(rng, 5),
                    "[" + _words(rng, 2) + "](http://x/" + "(" * rng.randint(0, 50),
                    "".join(rng.choice(string.printable) for _ in range(rng.randint(1, 300))),
                ]
            )
        )
    head = ""
    if rng.random() < 0.5:
        title = rng.choice(
            [_words(rng, rng.randint(1, 400)), "Title\\n## Candidate decisions\\n- x", "",
             "x" * rng.randint(100, 50_000)]
        )
        head = f'---\ntitle: "{title}"\ntopic: {rng.choice(WORDS)}\nurl: http://x\n---\n'
    return "md", (head + "\n\n".join(parts)).encode()


def asciidoc(rng: random.Random, size: int) -> tuple[str, bytes]:
    lines = []
    while sum(map(len, lines)) < size:
        lines.append(
            rng.choice(
                ["=" * rng.randint(1, 8) + " " + _words(rng, 4), "----", "....", "////",
                 ":attr: " + _words(rng, 2), "include::x[]", "image::a.png[" + _words(rng, 2),
                 "xref:a[" + _words(rng, 3), "<<" * rng.randint(1, 200), _words(rng, 80), "|==="]
            )
        )
    return "adoc", "\n".join(lines).encode()


def html_soup(rng: random.Random, size: int) -> tuple[str, bytes]:
    kind = rng.randrange(4)
    if kind == 0:
        depth = rng.choice([100, 1000, 5000])
        body = "<div>" * depth + _words(rng, 30) + "</div>" * rng.randint(0, depth)
    elif kind == 1:
        body = "<p " + 'a="' + "x" * size + '">' + _words(rng, 20)
    elif kind == 2:
        body = "".join(
            rng.choice(["<h1>", "<h2>", "</h2>", "<script>", "<p>", "<!--", "&amp;", "&#0;",
                        "<br>", _words(rng, 10), "<table><tr><td>", "<svg>"])
            for _ in range(max(1, size // 10))
        )
    else:
        body = "<title>" + "T" * size + "</title><h1>" + _words(rng, 5) + "</h1>"
    return "html", f"<html><head></head><body>{body}</body></html>".encode()


def broken_encoding(rng: random.Random, size: int) -> tuple[str, bytes]:
    text = _words(rng, max(1, size // 6))
    kind = rng.randrange(6)
    if kind == 0:
        data = (text + " caf\xe9 na\xefve").encode("latin-1")
    elif kind == 1:
        data = text.encode("utf-16")  # NUL bytes
    elif kind == 2:
        data = bytes(rng.randrange(1, 256) for _ in range(size))  # binary, no NUL
    elif kind == 3:
        raw = bytearray(text.encode())
        for _ in range(max(1, len(raw) // 20)):
            raw[rng.randrange(len(raw))] = rng.randrange(0x80, 0x100)
        data = bytes(raw)
    elif kind == 4:
        data = "".join(chr(rng.randrange(1, 32)) for _ in range(size)).encode()
    else:
        data = b"\xef\xbb\xbf" + ("\u200b\u202e" + text).encode() + b"\xed\xa0\x80"
    return rng.choice(["txt", "md", "adoc", "html"]), data


def pdf_file(rng: random.Random, size: int) -> tuple[str, bytes]:
    pages = [_words(rng, rng.randint(1, 40)) for _ in range(rng.randint(1, 5))]
    data = make_pdf(pages, title=rng.choice([None, "Guide", "T" * 500]))
    kind = rng.randrange(5)
    if kind == 0:
        data = data[: rng.randrange(1, len(data))]  # truncated
    elif kind == 1:
        raw = bytearray(data)
        for _ in range(rng.randint(1, 40)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        data = bytes(raw)
    elif kind == 2:
        depth = rng.choice([100, 5000])
        data = b"%PDF-1.4\n1 0 obj\n" + b"<<" * depth + b">>" * depth + b"\nendobj\n%%EOF\n"
    elif kind == 3:
        data = b"%PDF-1.7\n" + bytes(rng.randrange(256) for _ in range(size))
    return "pdf", data


def magic_bytes(rng: random.Random, size: int) -> tuple[str, bytes]:
    magic = rng.choice([b"\x89PNG\r\n\x1a\n", b"PK\x03\x04", b"\x1f\x8b\x08", b"\x7fELF",
                        b"GIF89a", b"\xff\xd8\xff\xe0"])
    return rng.choice(["md", "txt", "html"]), magic + bytes(
        rng.randrange(1, 256) for _ in range(min(size, 4096))
    )


def empty(rng: random.Random, size: int) -> tuple[str, bytes]:
    return rng.choice(["md", "txt", "adoc", "html", "pdf"]), rng.choice(
        [b"", b"   \n\n\t", b"---\n---\n", b"+++\n+++\n", b"<html></html>", b"\xef\xbb\xbf"]
    )


def secrets_text(rng: random.Random, size: int) -> tuple[str, bytes]:
    key = "".join(rng.choice(string.ascii_letters + string.digits + "/+") for _ in range(40))
    key_id = "AKIA" + "".join(rng.choice(string.ascii_uppercase) for _ in range(16))
    return "txt", (
        f"{_words(rng, 20)}\naws_secret_access_key = {key}\n"
        f"aws_access_key_id = {key_id}\n"
        f"{_words(rng, 20)}\n"
    ).encode()


BUILDERS: dict[str, Builder] = {
    "alias-bomb": alias_bomb,
    "deep-front-matter": deep_front_matter,
    "deep-markdown": deep_markdown,
    "huge-line": huge_line,
    "random-markdown": random_markdown,
    "asciidoc": asciidoc,
    "html": html_soup,
    "broken-encoding": broken_encoding,
    "pdf": pdf_file,
    "magic": magic_bytes,
    "empty": empty,
    "secrets": secrets_text,
}

#: Sizes in bytes: mostly small, a few around a megabyte (huge lines, big soups).
SIZES = st.one_of(
    *[st.integers(1, 4_000)] * 6, *[st.integers(4_000, 60_000)] * 2,
    st.sampled_from([300_000, 1_000_000]),
)


def file_specs() -> st.SearchStrategy[tuple[str, int, int]]:
    """(kind, seed, size): a hostile file, built by ``build``."""
    return st.tuples(st.sampled_from(sorted(BUILDERS)), st.integers(0, 2**32 - 1), SIZES)


def build(spec: tuple[str, int, int]) -> tuple[str, bytes]:
    kind, seed, size = spec
    # Huge files are few: only huge-line and html soup get the megabyte sizes.
    if size > 100_000 and kind not in ("huge-line", "html"):
        size = size // 50
    suffix, data = BUILDERS[kind](random.Random(seed), size)
    return suffix, data
