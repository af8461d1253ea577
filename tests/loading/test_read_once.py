"""Defect 1 and 13 of issue #13: the model file is read once; hash, format and model come from
those bytes. A FIFO that serves other bytes on each open and a file renamed over while we load
must never get code past ``--sha256``; old pickle protocols are recognised; the size is bounded."""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from tests.cli.hostile_models import TouchOnLoad

ROOT = Path(__file__).resolve().parents[2]


def _inspect(
    *args: object, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inspectcli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def files(tmp_path):
    X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    good = tmp_path / "good.joblib"
    joblib.dump(LinearRegression().fit(X, X["a"] * 2), good)
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.joblib"
    evil.write_bytes(pickle.dumps(TouchOnLoad(str(marker)), protocol=4))
    return good, evil, marker, hashlib.sha256(good.read_bytes()).hexdigest()


# After each served copy the writer waits, so that the reader has closed the FIFO before the next
# open (otherwise two copies could go to one reader).
WRITER = """
import sys, time
fifo, *payloads = sys.argv[1:]
data = [open(p, 'rb').read() for p in payloads]
i = 0
while True:
    try:
        with open(fifo, 'wb') as fh:
            fh.write(data[min(i, len(data) - 1)])
    except BrokenPipeError:
        pass
    i += 1
    time.sleep(0.3)
"""


def _serve_fifo(fifo: Path, *payloads: Path) -> subprocess.Popen:
    os.mkfifo(fifo)
    return subprocess.Popen([sys.executable, "-c", WRITER, str(fifo), *map(str, payloads)])


def test_fifo_serving_other_bytes_on_each_open_cannot_pass_sha256(files, tmp_path):
    good, evil, marker, digest = files
    fifo = tmp_path / "model.joblib"
    writer = _serve_fifo(fifo, good, evil)  # good bytes on the first open, evil ones after
    try:
        r = _inspect("info", fifo, "--sha256", digest)
    finally:
        writer.kill()
        writer.wait()
    assert not marker.exists(), "the evil payload ran although --sha256 pinned the good file"
    assert r.returncode == 0, r.stderr
    assert "LinearRegression" in r.stdout


def test_fifo_serving_evil_bytes_first_is_refused_by_sha256(files, tmp_path, cli):
    good, evil, marker, digest = files
    fifo = tmp_path / "model.joblib"
    writer = _serve_fifo(fifo, evil, good)
    try:
        r = cli("info", fifo, "--sha256", digest)
    finally:
        writer.kill()
        writer.wait()
    assert not marker.exists()
    assert r.exit_code == 3, r.stderr
    assert "does not match --sha256" in r.stderr


SWAPPER = """
import os, sys
target, good, evil = sys.argv[1:]
tmp = target + '.swap'
i = 0
while True:
    src = (good, evil)[i % 2]
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.link(src, tmp)
    os.replace(tmp, target)
    i += 1
"""


def test_rename_race_cannot_pass_sha256(files, tmp_path, cli):
    """A file renamed over the model path, again and again, while the CLI hashes and loads it."""
    good, evil, marker, digest = files
    target = tmp_path / "model.joblib"
    os.link(good, target)
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(target), str(good), str(evil)])
    codes = []
    try:
        time.sleep(0.2)
        for _ in range(40):
            r = cli("info", target, "--sha256", digest)
            codes.append(r.exit_code)
            if marker.exists():
                break
    finally:
        swapper.kill()
        swapper.wait()
    assert not marker.exists(), "the evil payload ran although --sha256 pinned the good file"
    assert set(codes) <= {0, 3}, codes


@pytest.mark.parametrize("protocol", [0, 1])
def test_old_pickle_protocols_are_pickles(files, tmp_path, cli, protocol):
    good, _evil, _marker, _digest = files
    model = joblib.load(good)
    path = tmp_path / f"p{protocol}.pkl"
    path.write_bytes(pickle.dumps(model, protocol=protocol))
    r = cli("info", path)
    assert r.exit_code == 0, r.stderr
    assert "LinearRegression" in r.stdout
    r = cli("info", path, "--no-pickle")
    assert r.exit_code == 3
    assert "pickle-based files are refused" in r.stderr
    assert "holds text" not in r.stderr


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"a,b,c\n1,2,3\n", "looks like a data table"),
        (b'{"a": 1}', "holds JSON text"),
        (b"(just some text) in a file\n", "holds text, not a model"),
        (b"class Foo:\n    pass\n", "holds text, not a model"),
    ],
)
def test_text_is_still_not_a_pickle(tmp_path, cli, content, words):
    path = tmp_path / "m.pkl"
    path.write_bytes(content)
    r = cli("info", path)
    assert r.exit_code == 3
    assert words in r.stderr


def test_model_file_size_is_bounded(files, tmp_path, cli):
    good, _evil, _marker, _digest = files
    big = tmp_path / "big.joblib"
    big.write_bytes(good.read_bytes() + b"\0" * (2 * 2**20))
    r = cli("info", big, env={"INSPECT_MAX_MODEL_SIZE": "1MiB"})
    assert r.exit_code == 3, r.stderr
    assert "larger than the 1.0 MiB" in r.stderr and "INSPECT_MAX_MODEL_SIZE" in r.stderr
    # a FIFO has no size to check first: the bound holds while reading
    fifo = tmp_path / "stream.joblib"
    writer = _serve_fifo(fifo, big)
    try:
        r = _inspect("info", fifo, env={"INSPECT_MAX_MODEL_SIZE": "1MiB"})
    finally:
        writer.kill()
        writer.wait()
    assert r.returncode == 3, r.stderr
    assert "larger than the 1.0 MiB" in r.stderr
    r = cli("info", good, env={"INSPECT_MAX_MODEL_SIZE": "lots"})
    assert r.exit_code == 2 and "INSPECT_MAX_MODEL_SIZE 'lots'" in r.stderr


def test_a_registered_format_loads_from_the_hashed_bytes(files, tmp_path, monkeypatch):
    """The loader interface other formats plug into: sniff(head) -> name, load(bytes, context)."""
    from inspectcli.loading import model as loading
    from inspectcli.loading import model_formats as formats

    good, _evil, _marker, _digest = files
    seen = {}

    def load(data: bytes, context: formats.LoadContext):
        seen.update(data=data, context=context)
        return joblib.load(good)

    fmt = formats.ModelFormat(
        "toy", lambda head: "toy-v1" if head.startswith(b"TOY1") else None, load, (".toy",)
    )
    monkeypatch.setattr(formats, "FORMATS", list(formats.FORMATS))
    formats.register_format(fmt)
    path = tmp_path / "m.toy"
    path.write_bytes(b"TOY1" + b"x" * 100)
    loaded = loading.load_model(path, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    assert seen["data"] == path.read_bytes() and seen["context"].format == "toy-v1"
    assert loaded.format == "toy-v1" and loaded.size_bytes == 104 and not loaded.notes
    with pytest.raises(loading.ModelLoadError, match="does not match"):
        loading.load_model(path, sha256="0" * 64)
    assert len(seen) == 2 and seen["data"] == path.read_bytes()
