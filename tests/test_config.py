from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings, load_settings
from assistant.errors import ConfigError


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.data_dir == Path(".kubeplan")
    assert s.chroma_url is None and s.collection == "kubeplan"
    assert s.store_dir == Path(".kubeplan/chroma")
    assert all(i.source == "default" for i in s.describe())


def test_environment_and_env_file_are_named_as_sources(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("KUBEPLAN_TOP_K=5\n")
    monkeypatch.setenv("KUBEPLAN_COLLECTION", "team-a")
    monkeypatch.setenv("KUBEPLAN_ALLOWED_SUFFIXES", "md, .TXT")
    s = load_settings(chunk_tokens=128)
    sources = {i.name: i.source for i in s.describe()}
    assert s.collection == "team-a" and s.top_k == 5
    assert s.allowed_suffixes == (".md", ".txt")
    assert sources["collection"] == "environment (KUBEPLAN_COLLECTION)"
    assert sources["top_k"] == ".env (KUBEPLAN_TOP_K)"
    assert sources["chunk_tokens"] == "argument"
    assert sources["backend"] == "default"


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("KUBEPLAN_CHROMA_URL", "localhost:8000", "KUBEPLAN_CHROMA_URL"),
        ("KUBEPLAN_CHUNK_TOKENS", "999", "KUBEPLAN_CHUNK_TOKENS"),
        ("KUBEPLAN_TOP_K", "many", "KUBEPLAN_TOP_K"),
        ("KUBEPLAN_EMBEDDER", "openai", "KUBEPLAN_EMBEDDER"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: str, value: str, named: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert named in info.value.problem
    assert info.value.fix


def test_overlap_must_be_smaller_than_half_a_chunk() -> None:
    with pytest.raises(ConfigError, match="chunk_overlap"):
        load_settings(chunk_tokens=64, chunk_overlap=40, _env_file=None)


def test_server_url_is_normalised() -> None:
    s = Settings(chroma_url="http://127.0.0.1:8000/", _env_file=None)  # type: ignore[call-arg]
    assert s.chroma_url == "http://127.0.0.1:8000"
