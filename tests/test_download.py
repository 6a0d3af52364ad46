"""seqjepa_core.download against local servers only (127.0.0.1): never the internet."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest

from seqjepa_core.download import (SIE_COMMIT, SOURCES, DownloadError, UnsafeArchiveError, download_url,
                                   extract_archive, fetch, hf_download, hf_resolve_commit, is_complete)

REPO = Path(__file__).resolve().parents[1]
COMMIT = "0123456789abcdef0123456789abcdef01234567"


# --------------------------------------------------------------------------- local servers


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any in-process connection that is not to 127.0.0.1 (e.g. a stray call to huggingface.co)."""
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ("127.0.0.1", "::1"):  # type: ignore[index]
            raise ConnectionRefusedError(f"test tried to reach {address}")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)   # URL path -> body
    ignore_range: bool = False
    truncate_next_at: int | None = None                     # cut the next GET body after N bytes
    resume_shift_next: int = 0                              # answer the next Range request this many bytes later
    omit_content_range: bool = False                        # a non-compliant 206 without Content-Range
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, Range)
    hf_repos: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)  # (type, id) -> files


def _hf_route(state: ServerState, path: str) -> tuple[int, bytes, dict[str, str]] | None:
    """The few Hub endpoints huggingface_hub uses for hf_hub_download / snapshot_download."""
    if m := re.fullmatch(r"/api/(models|datasets)/([^/]+/[^/]+)(?:/(revision|tree)/([^/]+)(?:/.*)?)?", path):
        files = state.hf_repos.get((m[1][:-1], m[2]))
        if files is None:
            return 404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"}
        if m[3] in ("revision", None):  # repo_info without a revision asks /api/<type>s/<id>
            body = {"id": m[2], "sha": COMMIT, "private": False,
                    "siblings": [{"rfilename": n} for n in sorted(files)]}
        else:
            body = [{"type": "file", "path": n, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
                    for n, b in sorted(files.items())]
        return 200, json.dumps(body).encode(), {"Content-Type": "application/json"}
    if m := re.fullmatch(r"/(?:(datasets)/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
        files = state.hf_repos.get(("dataset" if m[1] else "model", m[2]))
        body = None if files is None else files.get(m[4])
        if body is None:
            return 404, b"", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT}
        return 200, body, {"X-Repo-Commit": COMMIT, "ETag": f'"{hashlib.sha256(body).hexdigest()}"'}
    return None


class _Handler(BaseHTTPRequestHandler):
    state: ServerState

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def _serve(self, with_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        rng = self.headers.get("Range")
        self.state.requests.append((self.command, path, rng))
        routed = _hf_route(self.state, path) if self.state.hf_repos else None
        if routed is None:
            data = self.state.files.get(path)
            routed = (404, b"not found", {}) if data is None else (200, data, {})
        status, data, extra = routed
        start = 0
        if status == 200 and rng and not self.state.ignore_range:
            start = int(rng.removeprefix("bytes=").split("-")[0]) + self.state.resume_shift_next
            self.state.resume_shift_next = 0
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
            if not self.state.omit_content_range:
                extra = {**extra, "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
        body = data[start:]
        self.send_response(status)
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not with_body:
            return
        if self.state.truncate_next_at is not None:
            body, self.state.truncate_next_at = body[: self.state.truncate_next_at], None
            self.close_connection = True
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._serve(True)

    def do_HEAD(self) -> None:
        self._serve(False)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, ServerState]]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    state = ServerState()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Handler,), {"state": state}))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    httpd.shutdown()
    httpd.server_close()


def _blob(n: int, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _gets(state: ServerState) -> list[tuple[str, str, str | None]]:
    return [r for r in state.requests if r[0] == "GET"]


def _asked(state: ServerState) -> set[tuple[str, str]]:
    """Every (method, path) the stand-in has been asked for so far."""
    return {(m, p) for m, p, _ in state.requests}


# --------------------------------------------------------------------------- download_url


def test_full_download_then_skip(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    data = _blob(300_000)
    state.files["/a.bin"] = data
    dest = tmp_path / "sub" / "a.bin"
    assert download_url(f"{base}/a.bin", dest, expected_size=len(data), sha256=_sha(data), chunk=4096) == dest
    assert dest.read_bytes() == data and not dest.with_name("a.bin.part").exists()
    n = len(state.requests)
    download_url(f"{base}/a.bin", dest, expected_size=len(data), sha256=_sha(data))
    assert len(state.requests) == n  # verified in place, no request


def test_resume_with_range(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    data = _blob(200_000, seed=1)
    state.files["/r.bin"] = data
    dest = tmp_path / "r.bin"
    dest.with_name("r.bin.part").write_bytes(data[:123_456])
    download_url(f"{base}/r.bin", dest, sha256=_sha(data), progress=False)
    assert _gets(state) == [("GET", "/r.bin", "bytes=123456-")]
    assert dest.read_bytes() == data


def test_complete_part_file_is_renamed_after_416(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    data = _blob(10_000, seed=5)
    state.files["/c.bin"] = data
    dest = tmp_path / "c.bin"
    dest.with_name("c.bin.part").write_bytes(data)  # crashed between the last byte and the rename
    download_url(f"{base}/c.bin", dest, sha256=_sha(data), progress=False)
    assert _gets(state) == [("GET", "/c.bin", "bytes=10000-")] and dest.read_bytes() == data


def test_server_ignoring_range_restarts(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    data = _blob(50_000, seed=2)
    state.files["/i.bin"], state.ignore_range = data, True
    dest = tmp_path / "i.bin"
    dest.with_name("i.bin.part").write_bytes(b"\0" * 10_000)  # would corrupt the file if appended to
    download_url(f"{base}/i.bin", dest, sha256=_sha(data), progress=False)
    assert _gets(state)[0][2] == "bytes=10000-" and dest.read_bytes() == data


def test_truncated_body_is_retried_with_resume(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    data = _blob(100_000, seed=3)
    state.files["/t.bin"], state.truncate_next_at = data, 40_000
    dest = tmp_path / "t.bin"
    # small chunks: urllib3 drops the last partially-read chunk when the connection breaks
    download_url(f"{base}/t.bin", dest, sha256=_sha(data), chunk=8192, backoff=0, progress=False)
    gets = _gets(state)
    assert gets[0][2] is None and gets[-1][2] is not None and gets[-1][2].startswith("bytes=")
    assert int(gets[-1][2][6:-1]) > 0 and dest.read_bytes() == data


def test_existing_destination_is_verified_and_replaced_when_wrong(server: tuple[str, ServerState],
                                                                   tmp_path: Path) -> None:
    base, state = server
    data = _blob(30_000, seed=6)
    state.files["/e.bin"] = data
    dest = tmp_path / "e.bin"
    dest.write_bytes(bytes(len(data)))  # right size, wrong bytes: only the checksum can tell
    download_url(f"{base}/e.bin", dest, expected_size=len(data), sha256=_sha(data), progress=False)
    assert dest.read_bytes() == data and _gets(state) == [("GET", "/e.bin", None)]


@pytest.mark.parametrize("fault", ["resume_shift_next", "omit_content_range"])
def test_partial_reply_at_the_wrong_offset_is_never_spliced(server: tuple[str, ServerState], tmp_path: Path,
                                                            fault: str) -> None:
    """A 206 whose Content-Range starts elsewhere than asked, or that has none, is dropped and the download
    restarts from 0; without a published size or checksum (3DIEBench has neither) nothing else would notice."""
    base, state = server
    data = _blob(60_000, seed=7)
    state.files["/w.bin"] = data
    setattr(state, fault, 5_000 if fault == "resume_shift_next" else True)
    dest = tmp_path / "w.bin"
    dest.with_name("w.bin.part").write_bytes(data[:20_000])
    download_url(f"{base}/w.bin", dest, retries=1, backoff=0, progress=False)
    assert _gets(state) == [("GET", "/w.bin", "bytes=20000-"), ("GET", "/w.bin", None)]
    assert dest.read_bytes() == data


def test_resumed_part_failing_its_checksum_restarts_from_scratch(server: tuple[str, ServerState],
                                                                 tmp_path: Path) -> None:
    """A stale .part (e.g. of an older file version) resumes fine but fails the checksum: download once more
    from byte 0 instead of failing (a 17 GB archive must not need a manual clean-up)."""
    base, state = server
    data = _blob(40_000, seed=8)
    state.files["/s.bin"] = data
    dest = tmp_path / "s.bin"
    dest.with_name("s.bin.part").write_bytes(_blob(15_000, seed=99))
    download_url(f"{base}/s.bin", dest, sha256=_sha(data), retries=0, progress=False)
    assert _gets(state) == [("GET", "/s.bin", "bytes=15000-"), ("GET", "/s.bin", None)]
    assert dest.read_bytes() == data and not dest.with_name("s.bin.part").exists()


def test_fresh_download_failing_its_checksum_is_not_retried(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    state.files["/f.bin"] = _blob(5_000, seed=9)
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        download_url(f"{base}/f.bin", tmp_path / "f.bin", sha256=_sha(b"other"), progress=False)
    assert len(_gets(state)) == 1


@pytest.mark.parametrize("kind", ["size", "sha256", "md5"])
def test_mismatch_raises_and_leaves_nothing(server: tuple[str, ServerState], tmp_path: Path, kind: str) -> None:
    base, state = server
    data = _blob(20_000, seed=4)
    state.files["/m.bin"] = data
    dest = tmp_path / "m.bin"
    bad = {"size": {"expected_size": len(data) + 1}, "sha256": {"sha256": _sha(b"other")},
           "md5": {"md5": hashlib.md5(b"other").hexdigest()}}[kind]
    with pytest.raises(DownloadError, match=f"{kind} mismatch") as e:
        download_url(f"{base}/m.bin", dest, progress=False, **bad)
    assert f"{base}/m.bin" in str(e.value) and str(dest) in str(e.value)
    assert not dest.exists() and not dest.with_name("m.bin.part").exists()


def test_http_404_fails_without_retrying(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    with pytest.raises(DownloadError, match="HTTP 404.*missing.bin"):
        download_url(f"{base}/missing.bin", tmp_path / "missing.bin", backoff=0)
    assert len(state.requests) == 1
    with pytest.raises(DownloadError, match="bad URL"):
        download_url("not-a-url", tmp_path / "x", backoff=0)


# --------------------------------------------------------------------------- archives


def _tar(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
    return path


def test_extract_tar_strip_top_and_marker(tmp_path: Path) -> None:
    arc = _tar(tmp_path / "d.tar.gz", {"3DIEBench/s1/o1/image_0.jpg": b"x", "3DIEBench/LICENSE": b"cc"})
    dest = tmp_path / "out"
    extract_archive(arc, dest, strip_top="3DIEBench")
    assert (dest / "s1/o1/image_0.jpg").read_bytes() == b"x" and (dest / "LICENSE").exists()
    assert is_complete(dest) and not list(tmp_path.glob(".out.extract-*"))
    # a second call is a no-op once complete; without the strip name the top folder stays
    extract_archive(arc, dest, strip_top="3DIEBench")
    other = extract_archive(arc, tmp_path / "kept")
    assert (other / "3DIEBench/s1/o1/image_0.jpg").exists()


def test_extract_zip_merges_into_existing_dir(tmp_path: Path) -> None:
    arc = tmp_path / "t.zip"
    with zipfile.ZipFile(arc, "w") as zf:
        zf.writestr("tiny-imagenet-200/wnids.txt", "n01\n")
    dest = tmp_path / "data"
    (dest / "tiny-imagenet-200").mkdir(parents=True)
    (dest / "tiny-imagenet-200" / "stale").write_text("half-extracted")
    (dest / "unrelated").write_text("keep")
    extract_archive(arc, dest)
    assert (dest / "tiny-imagenet-200/wnids.txt").read_text() == "n01\n"
    assert not (dest / "tiny-imagenet-200/stale").exists() and (dest / "unrelated").exists()


@pytest.mark.parametrize("case", ["dotdot", "absolute", "symlink", "zip"])
def test_extract_traversal_guard(tmp_path: Path, case: str) -> None:
    if case == "zip":
        arc = tmp_path / "evil.zip"
        with zipfile.ZipFile(arc, "w") as zf:
            zf.writestr("ok.txt", "fine")
            zf.writestr("../evil.txt", "pwned")
    elif case == "symlink":  # link out, then write through it
        arc = _tar(tmp_path / "evil.tar.gz", {}, links={"lnk": str(tmp_path)})
    else:
        arc = _tar(tmp_path / "evil.tar.gz", {"ok.txt": b"fine",
                                               ("../evil.txt" if case == "dotdot" else str(tmp_path / "evil.txt")): b"x"})
    dest = tmp_path / "work" / "out"
    with pytest.raises(UnsafeArchiveError, match="escape"):
        extract_archive(arc, dest)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "work" / "evil.txt").exists()
    assert not dest.exists() and not list((tmp_path / "work").iterdir())  # temp dir cleaned, no marker


def test_extract_refuses_device_and_fifo_members(tmp_path: Path) -> None:
    arc = tmp_path / "special.tar"
    with tarfile.open(arc, "w") as tf:
        info = tarfile.TarInfo("pipe")
        info.type = tarfile.FIFOTYPE
        tf.addfile(info)
    with pytest.raises(UnsafeArchiveError, match=rf"^{re.escape(str(arc))}: refusing special member 'pipe' \(device/fifo\)"):
        extract_archive(arc, tmp_path / "out")


# --------------------------------------------------------------------------- 3DIEBench CLI end to end


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _jpg() -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="JPEG")
    return buf.getvalue()


def test_download_3diebench_cli_end_to_end(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    objs = [("02691156", "1a04e3eab45ca15dd86060f189eb133"), ("02691156", "1a6ad7a24bb89733f412783097373bdc"),
            ("02747177", "2f00a785c9ac57c07f48cc2eec0e8cfa")]
    members = {}
    for syn, obj in objs:
        for v in range(2):
            members[f"3DIEBench/{syn}/{obj}/image_{v}.jpg"] = _jpg()
            members[f"3DIEBench/{syn}/{obj}/latent_{v}.npy"] = _npy(np.zeros(7, np.float32))
    state.files["/big/3DIEBench.tar.gz"] = _tar(tmp_path / "src.tar.gz", members).read_bytes()
    splits = {"train_images.npy": _npy(np.array([f"/{s}/{o}" for s, o in objs[:2]])),
              "train_labels.npy": _npy(np.array([0, 0])),
              "val_images.npy": _npy(np.array([f"/{s}/{o}" for s, o in objs[2:]])),
              "val_labels.npy": _npy(np.array([1]))}
    state.files.update({f"/sie/{n}": b for n, b in splits.items()})
    root, splits_dir = tmp_path / "data" / "3DIEBench", tmp_path / "data" / "3DIEBench_splits"
    cmd = [sys.executable, str(REPO / "workflow_scripts" / "download_3diebench.py"), "--root", str(root),
           "--splits-dir", str(splits_dir), "--mirror", f"{base}/sie", "--no-progress",
           "--url-override", f"3DIEBench.tar.gz={base}/big/3DIEBench.tar.gz"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_PROXY": "127.0.0.1,localhost"}
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    for syn, obj in objs:
        assert (root / syn / obj / "image_0.jpg").read_bytes() == members[f"3DIEBench/{syn}/{obj}/image_0.jpg"]
    assert not (root / "3DIEBench").exists() and is_complete(root)
    assert json.loads((root / ".complete").read_text())["source"] == "3diebench"
    for name, data in splits.items():
        assert (splits_dir / name).read_bytes() == data
    assert list(np.load(splits_dir / "val_images.npy")) == [f"/{objs[2][0]}/{objs[2][1]}"]
    assert not (tmp_path / "data" / "_downloads" / "3DIEBench.tar.gz").exists()  # removed by default
    n = len(state.requests)
    assert subprocess.run(cmd, env=env, capture_output=True, timeout=60).returncode == 0
    assert len(state.requests) == n  # complete + verified splits: nothing fetched again


def test_fetch_rejects_non_npy_split(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    state.files.update({f"/s/{f.filename}": b"<html>rate limited</html>" for f in SOURCES["3diebench_splits"].files})
    with pytest.raises(DownloadError, match="not a .npy"):
        fetch("3diebench_splits", tmp_path / "splits", mirror=f"{base}/s", progress=False)
    assert not list((tmp_path / "splits").iterdir())


def test_registry_points_at_official_sources() -> None:
    assert re.fullmatch(r"[0-9a-f]{40}", SIE_COMMIT)
    split_urls = {f.url for f in SOURCES["3diebench_splits"].files}
    assert split_urls == {f"https://raw.githubusercontent.com/facebookresearch/SIE/{SIE_COMMIT}/data/{s}_{k}.npy"
                          for s in ("train", "val") for k in ("images", "labels")}
    assert SOURCES["3diebench"].files[0].url == "https://dl.fbaipublicfiles.com/SIE/3DIEBench.tar.gz"
    assert SOURCES["cifar100"].files[0].md5 == "eb9058c3a382ffc7106e4002c42a8d85"
    assert {(s.hf_repo, s.hf_repo_type) for s in SOURCES.values() if s.hf_repo} == {
        ("Hafez/salmap-stl10", "dataset"), ("Hafez/3DIEBench-OOD", "dataset"), ("Hafez/seq-JEPA", "model")}


# --------------------------------------------------------------------------- Hugging Face Hub


@pytest.fixture
def hf_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A private HF home, online mode; constants are patched too since huggingface_hub reads env at import."""
    import huggingface_hub.constants as c
    home = tmp_path / "hf_home"
    for k, v in {"HF_HOME": str(home), "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    for name, value in {"HF_HUB_OFFLINE": False, "HF_HOME": str(home), "HF_HUB_CACHE": str(home / "hub"),
                        "HUGGINGFACE_HUB_CACHE": str(home / "hub")}.items():
        if hasattr(c, name):
            monkeypatch.setattr(c, name, value)


def _go_offline(monkeypatch: pytest.MonkeyPatch, offline: bool = True) -> None:
    """HF_HUB_OFFLINE as a user sets it; the constant too, since huggingface_hub reads the env at import."""
    import huggingface_hub.constants as c
    monkeypatch.setenv("HF_HUB_OFFLINE", "1" if offline else "0")
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", offline)


def test_hf_download_against_local_standin(server: tuple[str, ServerState], tmp_path: Path, hf_env: None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    base, state = server
    sal = {f"saliency_{s}.npy": _npy(np.full((2, 1, 4, 4), i, np.float32)) for i, s in enumerate(("train", "test", "unlabeled"))}
    state.hf_repos[("dataset", "Hafez/salmap-stl10")] = {**sal, "README.md": b"# card"}
    state.hf_repos[("model", "Hafez/seq-JEPA")] = {"3diebench/rot_mtr3.pth": _blob(5000, 7), "README.md": b"m"}

    # snapshot_download with patterns (dataset repo)
    got = hf_download("Hafez/salmap-stl10", tmp_path / "sal", allow_patterns="*saliency_*.npy", endpoint=base)
    assert sorted(p.name for p in got) == sorted(sal) and not (tmp_path / "sal" / "README.md").exists()
    assert all((tmp_path / "sal" / n).read_bytes() == b for n, b in sal.items())
    paths = _asked(state)
    assert ("GET", "/api/datasets/Hafez/salmap-stl10/revision/main") in paths
    assert ("HEAD", f"/datasets/Hafez/salmap-stl10/resolve/{COMMIT}/saliency_train.npy") in paths

    # hf_hub_download of one file of a model repo, endpoint taken from $HF_ENDPOINT
    monkeypatch.setenv("HF_ENDPOINT", base)
    [ckpt] = hf_download("Hafez/seq-JEPA", tmp_path / "ckpt", filenames="3diebench/rot_mtr3.pth", repo_type="model")
    assert ckpt == tmp_path / "ckpt" / "3diebench" / "rot_mtr3.pth"
    assert ckpt.read_bytes() == state.hf_repos[("model", "Hafez/seq-JEPA")]["3diebench/rot_mtr3.pth"]
    assert ("HEAD", "/Hafez/seq-JEPA/resolve/main/3diebench/rot_mtr3.pth") in _asked(state)

    # registry source: flat repo files land in the official loader's <split>/saliency_<split>.npy layout
    root = fetch("salmap_stl10", tmp_path / "salmap", endpoint=base)
    assert (root / "unlabeled" / "saliency_unlabeled.npy").read_bytes() == sal["saliency_unlabeled.npy"]
    assert is_complete(root)

    with pytest.raises(DownloadError, match="dataset Hafez/nope@main from http://127.0.0.1"):
        hf_download("Hafez/nope", tmp_path / "nope", endpoint=base)


def test_hf_resolve_commit_against_local_standin(server: tuple[str, ServerState], tmp_path: Path, hf_env: None) -> None:
    base, state = server
    state.hf_repos[("model", "Hafez/seq-JEPA")] = {"README.md": b"m"}
    state.hf_repos[("dataset", "Hafez/salmap-stl10")] = {"README.md": b"d"}
    assert hf_resolve_commit("Hafez/seq-JEPA", endpoint=base) == COMMIT            # a model repo by default
    assert ("GET", "/api/models/Hafez/seq-JEPA") in _asked(state)
    assert hf_resolve_commit("Hafez/salmap-stl10", "dataset", "v1", endpoint=base) == COMMIT
    assert ("GET", "/api/datasets/Hafez/salmap-stl10/revision/v1") in _asked(state)
    assert hf_resolve_commit("Hafez/seq-JEPA", endpoint=f"file://{tmp_path}") is None  # a local mirror has none
    with pytest.raises(DownloadError, match="Hafez/nope"):
        hf_resolve_commit("Hafez/nope", endpoint=base)


def test_hf_download_local_mirror_and_cli(tmp_path: Path, hf_env: None) -> None:
    repo = tmp_path / "mirror" / "models" / "Hafez" / "seq-JEPA"
    (repo / "stl10").mkdir(parents=True)
    (repo / "stl10" / "pls_mtr4.pth").write_bytes(b"weights")
    (repo / "README.md").write_text("card")
    got = hf_download("Hafez/seq-JEPA", tmp_path / "out", allow_patterns=["*.pth"], repo_type="model",
                      endpoint=f"file://{tmp_path / 'mirror'}")
    assert got == [tmp_path / "out" / "stl10" / "pls_mtr4.pth"] and got[0].read_bytes() == b"weights"
    with pytest.raises(DownloadError, match="missing"):
        hf_download("Hafez/seq-JEPA", tmp_path / "o2", filenames=["nope.pth"], repo_type="model",
                    endpoint=str(tmp_path / "mirror"))

    dest = tmp_path / "cli"
    assert _script("download_hf").main(["--repo-id", "Hafez/seq-JEPA", "--repo-type", "model", "--dest", str(dest),
                                        "--pattern", "*.pth", "--endpoint", f"file://{tmp_path / 'mirror'}"]) == 0
    assert (dest / "stl10" / "pls_mtr4.pth").exists() and is_complete(dest)


def test_3diebench_ood_from_the_hub_at_the_pinned_revision_then_offline(
        server: tuple[str, ServerState], tmp_path: Path, hf_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from seqjepa_core.data.synthetic_3diebench import generate_ood
    from seqjepa_core.data.threedie import build_eval_index
    from seqjepa_core.download import OOD_REVISION

    base, state = server
    tree = tmp_path / "published"
    objects = generate_ood(tree, num_classes=2, objects_per_class=1, image_size=16, seed=4, workers=1)
    published = {p.relative_to(tree).as_posix(): p.read_bytes() for p in tree.rglob("*_*.*")}
    state.hf_repos[("dataset", "Hafez/3DIEBench-OOD")] = {**published, "README.md": b"# 3DIEBench-OOD",
                                                          ".gitattributes": b"*.jpg lfs"}
    dest = tmp_path / "data" / "3DIEBench-OOD"
    root = fetch("3diebench_ood", dest, endpoint=base)
    assert ("GET", f"/api/datasets/Hafez/3DIEBench-OOD/revision/{OOD_REVISION}") in _asked(state)
    assert {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*_*.*")
            if ".cache" not in p.parts} == published
    assert not (root / ".gitattributes").exists() and is_complete(root)
    assert f"@{OOD_REVISION}" in json.loads((root / ".complete").read_text())["from"][0]
    # what came down indexes as the 3DIEBench tree it claims to be
    index = build_eval_index(root, tmp_path / "splits", "ood", sorted(p.split("/")[1] for p in objects), workers=1)
    assert index["view_ids"].tolist() == [2, 3, 4, 5] and len(index["paths"]) == 2

    # offline (HF_HUB_OFFLINE=1): the files already in dest are reused, nothing is requested
    _go_offline(monkeypatch)
    (root / ".complete").unlink()
    n = len(state.requests)
    assert fetch("3diebench_ood", dest, endpoint=base) == root and is_complete(root)
    assert len(state.requests) == n

    # a revision from the config replaces the pinned one
    _go_offline(monkeypatch, False)
    other = fetch("3diebench_ood", tmp_path / "other", endpoint=base, revision=COMMIT)
    asked = [p for _, p, _ in state.requests[n:]]
    assert not any(OOD_REVISION in p for p in asked)  # a full sha needs no resolving
    assert any(p.startswith(f"/api/datasets/Hafez/3DIEBench-OOD/tree/{COMMIT}") for p in asked)
    assert is_complete(other) and f"@{COMMIT}" in json.loads((other / ".complete").read_text())["from"][0]


# --------------------------------------------------------------------------- the registry's archives


def _script(name: str) -> ModuleType:
    """A workflow script as a module: its main(argv) runs in-process, as the rule runs it but without start-up."""
    spec = spec_from_file_location(name, REPO / "workflow_scripts" / f"{name}.py")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _as_registered(monkeypatch: pytest.MonkeyPatch, source: str, archive: bytes) -> str:
    """Give the registry entry the stand-in's md5 (the real one belongs to the real archive); its file name."""
    src = SOURCES[source]
    [f] = src.files
    monkeypatch.setitem(SOURCES, source, replace(src, files=(replace(f, md5=hashlib.md5(archive).hexdigest()),)))
    return f.filename


def _stl_archive(tmp_path: Path) -> bytes:
    from seqjepa_core.data.synthetic_stl10 import generate
    generate(tmp_path / "gen", tmp_path / "gen_sal", train_per_class=1, test_per_class=1, unlabeled=100, seed=1)
    members = {f"stl10_binary/{p.name}": p.read_bytes() for p in (tmp_path / "gen" / "stl10_binary").iterdir()}
    return _tar(tmp_path / "stl10_binary.tar.gz", members).read_bytes()


# Split names, and sizes whose archive exceeds 1 MiB: a cut after the first 1 MiB chunk leaves a partial file.
IMAGE_SOURCES = {"cifar100": (("train", "test"), dict(classes=10, train_per_class=50, test_per_class=5)),
                 "tinyimagenet": (("train", "val"), dict(classes=4, train_per_class=100, test_per_class=5))}


def _image_archive(tmp_path: Path, source: str) -> tuple[bytes, Path]:
    """The source's archive generated in its published format, and the tree it extracts to (the reference)."""
    from seqjepa_core.data.synthetic_images import generate
    ref = generate(source, tmp_path / "gen", tmp_path / "made", seed=5, **IMAGE_SOURCES[source][1])
    return (tmp_path / "made" / SOURCES[source].files[0].filename).read_bytes(), ref


def test_stl10_archive_resumes_after_interruption_and_reads(server: tuple[str, ServerState], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from seqjepa_core.data.stl10 import read_split
    base, state = server
    archive = _stl_archive(tmp_path)
    state.files["/stl/stl10_binary.tar.gz"], state.truncate_next_at = archive, 3 * len(archive) // 4  # > 1 MiB chunks arrive
    _as_registered(monkeypatch, "stl10", archive)
    root = fetch("stl10", tmp_path / "stl10", mirror=f"{base}/stl", progress=False, backoff=0)
    ranges = [r for _, _, r in _gets(state)]
    assert ranges[0] is None and ranges[-1] is not None and int(ranges[-1][6:-1]) > 0  # resumed, not restarted
    images, labels = read_split(root, "train")
    ref, ref_labels = read_split(tmp_path / "gen", "train")
    assert np.array_equal(np.asarray(images), np.asarray(ref)) and np.array_equal(labels, ref_labels)
    assert is_complete(root)


@pytest.mark.parametrize("source", sorted(IMAGE_SOURCES))
def test_image_archive_cut_off_resumes_in_the_rerun_and_indexes(server: tuple[str, ServerState], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    """The rules' scripts end to end: a download cut off (retries spent, like a killed job) keeps its partial file;
    the rerun asks only for the rest, checks the md5 and extracts; the index step packs what the reader gives on
    the generator's own tree; a third run requests nothing."""
    from seqjepa_core.data.loading import dataset_module
    from seqjepa_core.data.threedie import load_index
    base, state = server
    archive, ref = _image_archive(tmp_path, source)
    name = _as_registered(monkeypatch, source, archive)
    state.files[f"/m/{name}"], state.truncate_next_at = archive, len(archive) - 50_000
    root, downloads = tmp_path / "data" / source, tmp_path / "data" / "_downloads"
    download = _script("download_dataset").main
    args = ["--source", source, "--root", str(root), "--mirror", f"{base}/m"]
    with pytest.raises(DownloadError, match=f"giving up on {base}/m/{name}"):
        download([*args, "--retries", "0"])
    kept = (downloads / f"{name}.part").stat().st_size
    assert 0 < kept < len(archive) and not is_complete(root)
    assert download(args) == 0
    assert [r for _, _, r in _gets(state)] == [None, f"bytes={kept}-"]
    assert (downloads / name).read_bytes() == archive and is_complete(root)
    reader, index = dataset_module(source), _script("index_images")
    for split in IMAGE_SOURCES[source][0]:
        out = tmp_path / "index" / f"{split}.npz"
        assert index.main(["--dataset", source, "--root", str(root), "--split", split, "--out", str(out)]) == 0
        got, want = load_index(out), reader.read_split(ref, split)
        assert got.keys() == want.keys() and len(got["labels"]) > 0
        for key, value in want.items():
            np.testing.assert_array_equal(got[key], value, err_msg=f"{split} {key}")
    n = len(state.requests)
    assert download(args) == 0 and len(state.requests) == n


@pytest.mark.parametrize("source", ["stl10", *sorted(IMAGE_SOURCES)])
def test_corrupted_archive_fails_its_md5_naming_the_file(server: tuple[str, ServerState], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    base, state = server
    archive = _stl_archive(tmp_path) if source == "stl10" else _image_archive(tmp_path, source)[0]
    name = _as_registered(monkeypatch, source, archive)
    flipped = bytearray(archive)
    flipped[len(archive) // 2] ^= 0xFF  # one byte damaged in transit
    state.files[f"/m/{name}"] = bytes(flipped)
    root = tmp_path / "data" / source
    with pytest.raises(DownloadError, match="md5 mismatch") as e:
        fetch(source, root, mirror=f"{base}/m", progress=False, backoff=0)
    assert f"{base}/m/{name} -> {tmp_path / 'data' / '_downloads' / name}:" in str(e.value)
    assert not is_complete(root) and not list(root.iterdir()) and not list((tmp_path / "data" / "_downloads").iterdir())


def test_stl10_saliency_at_pinned_revision_then_offline_from_cache(server: tuple[str, ServerState], tmp_path: Path,
                                                                    hf_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from seqjepa_core.download import fetch_salmap_stl10
    base, state = server
    sal = {f"{s}/saliency_{s}.npy": _npy(np.full((2, 1, 4, 4), i, np.float32))
           for i, s in enumerate(("train", "test", "unlabeled"))}
    state.hf_repos[("dataset", "Hafez/salmap-stl10")] = sal
    root = fetch_salmap_stl10(tmp_path / "sal", revision=COMMIT, endpoint=base)
    assert all((root / n).read_bytes() == b for n, b in sal.items())
    marker = json.loads((root / ".complete").read_text())
    assert marker["revision"] == COMMIT and marker["commit"] == [COMMIT]
    assert marker["sha256"]["unlabeled/saliency_unlabeled.npy"] == _sha(sal["unlabeled/saliency_unlabeled.npy"])
    assert any(p == f"/datasets/Hafez/salmap-stl10/resolve/{COMMIT}/train/saliency_train.npy"
               for _, p, _ in state.requests)

    # offline, the Hub gone: the cache serves a fresh destination without a single request
    state.hf_repos.clear()
    n = len(state.requests)
    _go_offline(monkeypatch)
    root2 = fetch_salmap_stl10(tmp_path / "sal2", revision=COMMIT, endpoint=base)
    assert all((root2 / n).read_bytes() == b for n, b in sal.items()) and len(state.requests) == n
    with pytest.raises(DownloadError, match="Hafez/salmap-stl10@main:train/saliency_train.npy"):
        fetch_salmap_stl10(tmp_path / "sal3", revision="main", endpoint=base, splits=("train",))


# --------------------------------------------------------------------------- ImageNet saliency (Fig. 15)


def test_imagenet_saliency_through_hf_endpoint_at_the_resolved_commit_then_indexed(
        server: tuple[str, ServerState], tmp_path: Path, hf_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule's script fetches the maps from a Hub stand-in named by $HF_ENDPOINT, at the commit the branch
    resolves to; what came down pairs with an ImageNet-layout image folder; an HTML page is refused."""
    from seqjepa_core.data.imagenet_saliency import build_index
    from seqjepa_core.data.synthetic_imagenet import generate
    from seqjepa_core.download import IMAGENET_SALIENCY_REPO, fetch_salmap_imagenet

    base, state = server
    generate(tmp_path / "img", tmp_path / "published", classes=2, train_per_class=2, val_per_class=1, seed=5)
    published = {p.relative_to(tmp_path / "published").as_posix(): p.read_bytes()
                 for p in (tmp_path / "published").rglob("*.npy")}
    state.hf_repos[("dataset", IMAGENET_SALIENCY_REPO)] = {**published, "README.md": b"# maps", "extra/x.npy": b"x"}
    monkeypatch.setenv("HF_ENDPOINT", base)
    dest = tmp_path / "sal"
    cli = _script("download_salmap_imagenet")
    assert cli.main(["--root", str(dest), "--pattern", "train/*", "--pattern", "val/*"]) == 0
    got = {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*.npy") if ".cache" not in p.parts}
    assert got == published and len(published) == 6        # extra/ and README.md were not asked for
    marker = json.loads((dest / ".complete").read_text())
    assert marker["revision"] == "main" and marker["commit"] == COMMIT and marker["maps"] == 6
    paths = [p for _, p, _ in state.requests]
    assert f"/api/datasets/{IMAGENET_SALIENCY_REPO}/revision/main" in paths
    assert any(p.startswith(f"/datasets/{IMAGENET_SALIENCY_REPO}/resolve/{COMMIT}/train/") for p in paths)
    index = build_index(tmp_path / "img", dest, "train", workers=1)
    assert index["labels"].tolist() == [0, 0, 1, 1]

    n = len(state.requests)  # complete: nothing is fetched again
    assert fetch_salmap_imagenet(dest) == dest and len(state.requests) == n

    bad = dict(published)
    bad["val/n00000001/n00000001_val_0_sal.npy"] = b"<html>429 Too Many Requests</html>"
    state.hf_repos[("dataset", IMAGENET_SALIENCY_REPO)] = bad
    with pytest.raises(DownloadError, match="n00000001_val_0_sal.npy: not a .npy file"):
        fetch_salmap_imagenet(tmp_path / "sal2", patterns=["val/*"])
    assert not is_complete(tmp_path / "sal2")
    with pytest.raises(DownloadError, match=r"no .npy saliency maps match \['test/\*'\]"):
        fetch_salmap_imagenet(tmp_path / "sal3", patterns=["test/*"])
