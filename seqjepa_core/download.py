"""Fetching the datasets and released assets of the seq-JEPA reproduction.

* `download_url`: resumable (HTTP Range), verified (size / sha256 / md5), atomic HTTP download.
* `extract_archive`: .tar(.gz)/.tgz/.zip extraction with a path-traversal guard, into a temp dir
  beside the destination that is then renamed into place; a `.complete` marker is written last.
* `hf_download`: Hugging Face Hub files (`hf_hub_download` / `snapshot_download`) honouring an
  `endpoint` (or $HF_ENDPOINT), plus a local "mirror" mode (`endpoint="file:///dir"` or a plain
  directory laid out as `<dir>/<repo_type>s/<repo_id>/<files>`) for clusters without Hub access.
* `SOURCES` / `fetch`: the registry of everything the paper uses and a one-call fetcher.

Nothing here contacts the network at import time; `huggingface_hub` is imported lazily because it
reads HF_HOME / HF_HUB_OFFLINE once, at import.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import shutil
import tarfile
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import requests
from tqdm.auto import tqdm

log = logging.getLogger(__name__)

USER_AGENT = "seqjepa-repro/0.1 (python-requests; dataset download for a seq-JEPA reproduction)"
COMPLETE = ".complete"
# Commit of facebookresearch/SIE whose data/ holds the 3DIEBench train/val split files.
SIE_COMMIT = "8a959e9e7ef164031540fcab40fc104a3c106600"
_SIE_RAW = f"https://raw.githubusercontent.com/facebookresearch/SIE/{SIE_COMMIT}/data"
# Commit of Hafez/3DIEBench-OOD whose dataset card (README.md) is the published one, as the Hub's blame view
# shows it (abbreviated). Override with the full sha (config: datasets.3diebench_ood.revision) to pin harder.
OOD_REVISION = "dcee90c"


class DownloadError(RuntimeError):
    """A download/verification/extraction failed; the message names the URL and the file."""


class UnsafeArchiveError(DownloadError):
    """An archive member would be written outside the extraction directory."""


_FilterError = getattr(tarfile, "FilterError", ())  # Python < 3.11.4 has no extraction filters


class _Transient(Exception):
    """Retryable failure (network error, 5xx, truncated body)."""


# --------------------------------------------------------------------------- HTTP download


def file_digests(path: str | os.PathLike, algos: Sequence[str] = ("sha256",), chunk: int = 1 << 22) -> dict[str, str]:
    """Hex digests of `path` for every algorithm in `algos`, in a single read."""
    hs = {a: hashlib.new(a) for a in algos}
    with open(path, "rb") as f:
        while block := f.read(chunk):
            for h in hs.values():
                h.update(block)
    return {a: h.hexdigest() for a, h in hs.items()}


def is_npy(path: str | os.PathLike) -> bool:
    """Whether `path` starts with the .npy magic (not, e.g., an HTML error page of a proxy); reads 6 bytes."""
    with open(path, "rb") as f:
        return f.read(6) == b"\x93NUMPY"


def _verify(path: Path, url: str, shown: Path, expected_size: int | None, sha256: str | None, md5: str | None) -> None:
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise DownloadError(f"size mismatch for {url} -> {shown}: expected {expected_size} bytes, got {size}")
    want = {a: v.lower() for a, v in (("sha256", sha256), ("md5", md5)) if v}
    if want:
        got = file_digests(path, tuple(want))
        for algo, value in want.items():
            if got[algo] != value:
                raise DownloadError(f"{algo} mismatch for {url} -> {shown}: expected {value}, got {got[algo]}")


def _content_range_total(value: str | None) -> int | None:
    # "bytes 100-199/200" or "bytes */200"
    if value and "/" in value and not value.endswith("/*"):
        return int(value.rsplit("/", 1)[1])
    return None


def _stream(session: requests.Session, url: str, part: Path, shown: Path, chunk: int, timeout: float,
            progress: bool) -> None:
    """Append the rest of `url` to `part` (Range-resuming when it already has bytes)."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        with session.get(url, headers=headers, stream=True, timeout=timeout) as r:
            if r.status_code == 416 and offset:
                # Nothing left to send: either the .part is already whole (crash before rename) or bogus.
                if _content_range_total(r.headers.get("Content-Range")) == offset:
                    return
                part.unlink()
                raise _Transient(f"416 for a {offset}-byte partial file; restarting from scratch")
            if r.status_code in (408, 429) or r.status_code >= 500:
                raise _Transient(f"HTTP {r.status_code}")
            if r.status_code >= 400:
                raise DownloadError(f"HTTP {r.status_code} for {url} -> {shown}")
            total: int | None = None
            if r.status_code == 206:
                start = int(r.headers.get("Content-Range", "bytes 0-").split()[1].split("-")[0])
                if start != offset:  # answered a different range than asked: do not splice it
                    part.unlink()
                    raise _Transient(f"server resumed at byte {start}, asked {offset}; restarting")
                total = _content_range_total(r.headers.get("Content-Range"))
            else:
                if offset:
                    log.info("%s ignored the Range request; restarting from scratch", url)
                offset = 0
                length = r.headers.get("Content-Length")
                total = int(length) if length is not None and "Content-Encoding" not in r.headers else None
            with open(part, "ab" if offset else "wb") as f, tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                desc=shown.name, disable=not progress, mininterval=1.0,
            ) as bar:
                for block in r.iter_content(chunk_size=chunk):
                    f.write(block)
                    bar.update(len(block))
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema) as e:
        raise DownloadError(f"bad URL {url!r} for {shown}: {e}") from e
    except requests.RequestException as e:  # connection reset, timeout, truncated chunked/sized body
        raise _Transient(repr(e)) from e
    got = part.stat().st_size
    if total is not None and got < total:
        raise _Transient(f"body truncated at {got}/{total} bytes")
    if total is not None and got > total:
        part.unlink()
        raise _Transient(f"partial file grew past the announced size ({got} > {total}); restarting")


def download_url(url: str, dest: str | os.PathLike, expected_size: int | None = None, sha256: str | None = None,
                 chunk: int = 1 << 20, retries: int = 3, timeout: float = 60, *, md5: str | None = None,
                 progress: bool = True, backoff: float = 2.0, session: requests.Session | None = None) -> Path:
    """Download `url` to `dest` via `dest.part`, resuming a partial file; verify; rename atomically.

    An existing `dest` that verifies is kept (no request). `retries` counts extra attempts after a
    transient failure (network error, 408/429/5xx, truncated body); each attempt resumes with a
    Range request. A resumed file failing its checksum is re-downloaded once from scratch; any other
    verification failure removes the file and raises `DownloadError` naming `url` and `dest`.
    """
    dest = Path(dest)
    if dest.exists():
        try:
            _verify(dest, url, dest, expected_size, sha256, md5)
            log.info("%s already present and verified", dest)
            return dest
        except DownloadError as e:
            log.warning("existing file failed verification (%s); downloading again", e)
            dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    if expected_size is not None and part.exists() and part.stat().st_size > expected_size:
        part.unlink()
    own_session = session is None
    session = session or requests.Session()
    try:
        return _download_loop(session, url, dest, part, expected_size, sha256, md5, chunk, retries, timeout,
                              progress, backoff)
    finally:
        if own_session:
            session.close()


def _download_loop(session: requests.Session, url: str, dest: Path, part: Path, expected_size: int | None,
                   sha256: str | None, md5: str | None, chunk: int, retries: int, timeout: float, progress: bool,
                   backoff: float) -> Path:
    failures, restarted = 0, False
    while True:
        resumed = part.exists() and part.stat().st_size > 0
        try:
            _stream(session, url, part, dest, chunk, timeout, progress)
        except _Transient as e:
            failures += 1
            if failures > retries:
                raise DownloadError(f"giving up on {url} -> {dest} after {failures} attempts: {e}") from None
            log.warning("download of %s interrupted (%s); retry %d/%d", url, e, failures, retries)
            time.sleep(min(backoff * 2 ** (failures - 1), 60.0))
            continue
        try:
            _verify(part, url, dest, expected_size, sha256, md5)
        except DownloadError as e:
            part.unlink(missing_ok=True)
            if resumed and not restarted and (sha256 or md5):
                restarted = True  # a stale .part from another file version can poison the hash
                log.warning("%s after resuming; restarting from scratch", e)
                continue
            raise DownloadError(f"{e} (corrupt download removed)") from None
        os.replace(part, dest)
        return dest


# --------------------------------------------------------------------------- archives


ArchiveKind = Literal["tar", "zip"]


def archive_kind(path: str | os.PathLike) -> ArchiveKind:
    name = Path(path).name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")):
        return "tar"
    raise ValueError(f"unsupported archive type: {path}")


def _inside(root: str, target: str) -> bool:
    target = os.path.realpath(target)
    return target == root or target.startswith(root + os.sep)


def _check_tar_member(m: tarfile.TarInfo, root: str, archive: Path) -> None:
    dest = os.path.join(root, m.name)
    bad = os.path.isabs(m.name) or not _inside(root, dest)
    if m.issym():
        bad = bad or os.path.isabs(m.linkname) or not _inside(root, os.path.join(os.path.dirname(dest), m.linkname))
    elif m.islnk():
        bad = bad or os.path.isabs(m.linkname) or not _inside(root, os.path.join(root, m.linkname))
    elif not (m.isfile() or m.isdir()):
        raise UnsafeArchiveError(f"{archive}: refusing special member {m.name!r} (device/fifo)")
    if bad:
        raise UnsafeArchiveError(f"{archive}: member {m.name!r} would escape the extraction directory")


def _extract_tar(archive: Path, root: str) -> None:
    data_filter = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    with tarfile.open(archive, "r:*") as tf:
        # One streaming pass (no getmembers(): that decompresses the whole archive twice) and the
        # member cache is dropped as we go: 3DIEBench has ~5M members.
        while (m := tf.next()) is not None:
            _check_tar_member(m, root, archive)
            try:  # directories get their attributes skipped so a read-only dir cannot block its children
                tf.extract(m, root, set_attrs=not m.isdir(), **data_filter)
            except _FilterError as e:
                raise UnsafeArchiveError(f"{archive}: {e}") from e
            tf.members.clear()


def _extract_zip(archive: Path, root: str) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = info.filename
            if os.path.isabs(name) or name.startswith(("/", "\\")) or not _inside(root, os.path.join(root, name)):
                raise UnsafeArchiveError(f"{archive}: member {name!r} would escape the extraction directory")
            zf.extract(info, root)


def _move_into(src: Path, dest: Path) -> None:
    """Rename `src` to `dest`; if `dest` already exists, rename each top-level entry into it."""
    if not dest.exists():
        os.replace(src, dest)
        return
    for entry in src.iterdir():
        target = dest / entry.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        os.replace(entry, target)


def write_marker(directory: str | os.PathLike, info: Mapping[str, object] | None = None,
                 name: str = COMPLETE) -> Path:
    marker = Path(directory) / name
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps({"completed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **(info or {})}, indent=1))
    os.replace(tmp, marker)
    return marker


def is_complete(directory: str | os.PathLike, name: str = COMPLETE) -> bool:
    return (Path(directory) / name).is_file()


def extract_archive(archive: str | os.PathLike, dest_dir: str | os.PathLike, *, strip_top: str | None = None,
                    marker: bool = True) -> Path:
    """Extract `archive` into `dest_dir` safely; returns `dest_dir`.

    Members are written to a temp dir beside `dest_dir` (same filesystem) that is then renamed into
    place, so an interrupted extraction never looks finished. `strip_top`: if the archive's only
    top-level entry is a directory of that name, its contents become `dest_dir`'s contents. With
    `marker`, `dest_dir/.complete` is written last and a later call with it present is a no-op.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    if marker and is_complete(dest_dir):
        return dest_dir
    kind = archive_kind(archive)
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest_dir.parent / f".{dest_dir.name}.extract-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        root = os.path.realpath(tmp)
        (_extract_zip if kind == "zip" else _extract_tar)(archive, root)
        src = tmp
        entries = list(tmp.iterdir())
        if strip_top and len(entries) == 1 and entries[0].name == strip_top and entries[0].is_dir():
            src = entries[0]
        _move_into(src, dest_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if marker:
        write_marker(dest_dir, {"archive": archive.name})
    return dest_dir


# --------------------------------------------------------------------------- Hugging Face Hub


def _local_mirror(endpoint: str | None) -> Path | None:
    if not endpoint:
        return None
    if endpoint.startswith("file://"):
        return Path(endpoint[len("file://"):])
    if "://" not in endpoint:
        return Path(endpoint)
    return None


def _selected(relpath: str, filenames: Sequence[str] | None, patterns: Sequence[str] | None) -> bool:
    if filenames is not None:
        return relpath in filenames
    return patterns is None or any(fnmatch.fnmatch(relpath, p) for p in patterns)


def hf_download(repo_id: str, dest_dir: str | os.PathLike, filenames: str | Sequence[str] | None = None,
                allow_patterns: str | Sequence[str] | None = None, repo_type: str = "dataset",
                revision: str | None = None, endpoint: str | None = None, token: str | bool | None = None) -> list[Path]:
    """Download files of a Hub repo into `dest_dir` (keeping repo-relative paths); returns them.

    `filenames` uses `hf_hub_download` per file; otherwise `snapshot_download` with `allow_patterns`
    (None = whole repo). `endpoint` (default: $HF_ENDPOINT, then huggingface.co) may point to any
    Hub-compatible server. Offline fallback: `endpoint="file:///mirror"` (or a plain directory)
    copies from `<mirror>/<repo_type>s/<repo_id>/`, the same selection rules applying (`revision`
    is ignored there).
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    names = [filenames] if isinstance(filenames, str) else (list(filenames) if filenames is not None else None)
    patterns = [allow_patterns] if isinstance(allow_patterns, str) else allow_patterns
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    mirror = _local_mirror(endpoint)
    if mirror is not None:
        src = mirror / f"{repo_type}s" / repo_id
        if not src.is_dir():
            raise DownloadError(f"local HF mirror has no {repo_type} {repo_id}: {src} missing")
        out = []
        for f in sorted(p for p in src.rglob("*") if p.is_file()):
            rel = f.relative_to(src).as_posix()
            if _selected(rel, names, patterns):
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, target.with_name(target.name + ".part"))
                os.replace(target.with_name(target.name + ".part"), target)
                out.append(target)
        missing = set(names or ()) - {p.relative_to(dest).as_posix() for p in out}
        if missing or not out:
            raise DownloadError(f"local HF mirror {src}: nothing matched / missing {sorted(missing)}")
        return out

    from huggingface_hub import hf_hub_download, snapshot_download  # lazy: reads HF_* env at import

    common = dict(repo_type=repo_type, revision=revision, local_dir=dest, endpoint=endpoint, token=token)
    try:
        if names is not None:
            return [Path(hf_hub_download(repo_id, n, **common)) for n in names]
        snapshot_download(repo_id, allow_patterns=patterns, **common)
    except Exception as e:  # HTTP / offline / not-found errors of huggingface_hub: name what we asked for
        where = endpoint or "the default Hub endpoint"
        raise DownloadError(f"{repo_type} {repo_id}@{revision or 'main'} from {where} -> {dest}: {e}") from e
    return sorted(p for p in dest.rglob("*") if p.is_file() and ".cache" not in p.relative_to(dest).parts
                  and _selected(p.relative_to(dest).as_posix(), None, patterns))


def hf_resolve_commit(repo_id: str, repo_type: str = "model", revision: str | None = None,
                      endpoint: str | None = None, token: str | bool | None = None) -> str | None:
    """The commit a branch, tag or commit of a Hub repo points at now (None for a local mirror).

    Downloading at the returned commit, not at the branch, makes the files and the recorded revision
    agree even if the branch moves during the download.
    """
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    if _local_mirror(endpoint) is not None:
        return None
    from huggingface_hub import HfApi  # lazy: reads HF_* env at import

    try:
        return HfApi(endpoint=endpoint, token=token).repo_info(repo_id, repo_type=repo_type, revision=revision).sha
    except Exception as e:
        where = endpoint or "the default Hub endpoint"
        raise DownloadError(f"{repo_type} {repo_id}@{revision or 'main'} from {where}: {e}") from e


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class RemoteFile:
    url: str
    filename: str
    size: int | None = None      # bytes; None = not published (the server's Content-Length is still checked)
    sha256: str | None = None
    md5: str | None = None       # the upstream projects publish md5 only


@dataclass(frozen=True)
class Source:
    """One dataset/asset. `fetch(name, root)` materialises it so that `root` looks like `layout`."""

    name: str
    description: str
    layout: str                                   # what `root` contains once fetched
    files: tuple[RemoteFile, ...] = ()            # plain HTTP(S) files (archives are extracted)
    strip_top: str | None = None                  # archive top-level folder to strip
    expect: tuple[str, ...] = ()                  # globs (relative to root) that must match afterwards
    hf_repo: str | None = None
    hf_repo_type: str = "dataset"
    hf_patterns: tuple[str, ...] | None = None    # None = whole repo
    hf_revision: str | None = None                # None = "main" (no published pinned revision)
    marker: str | None = COMPLETE                 # None: plain files, each verified on its own
    post: Callable[[Path], None] | None = field(default=None, compare=False)


def _salmap_layout(root: Path) -> None:
    # The official STL10_SalMap reads <sal_path>/<split>/saliency_<split>.npy; accept a flat repo too.
    for split in ("train", "test", "unlabeled"):
        want = root / split / f"saliency_{split}.npy"
        if not want.exists():
            found = [p for p in root.rglob(f"saliency_{split}.npy") if ".cache" not in p.parts]
            if found:
                want.parent.mkdir(exist_ok=True)
                os.replace(found[0], want)


SOURCES: dict[str, Source] = {s.name: s for s in (
    Source(
        "3diebench", "3DIEBench (Garrido et al. 2023), the archive linked from facebookresearch/SIE README (~17 GB)",
        layout="<root>/<synset>/<object_id>/image_{0..49}.jpg + latent_{0..49}.npy (55 synsets, 52,472 objects)",
        files=(RemoteFile("https://dl.fbaipublicfiles.com/SIE/3DIEBench.tar.gz", "3DIEBench.tar.gz"),),
        strip_top="3DIEBench", expect=("*/*/image_0.jpg",)),
    Source(
        "3diebench_splits", f"3DIEBench train/val split files from facebookresearch/SIE data/ @ {SIE_COMMIT[:7]}",
        layout="<root>/{train,val}_{images,labels}.npy (object paths '/<synset>/<object_id>' and class ids)",
        files=tuple(RemoteFile(f"{_SIE_RAW}/{n}", n) for n in
                    ("train_images.npy", "train_labels.npy", "val_images.npy", "val_labels.npy")),
        marker=None),
    Source(
        "stl10", "STL-10 binary release (Coates et al.); md5 as in torchvision",
        layout="<root>/stl10_binary/{train,test,unlabeled}_X.bin, {train,test}_y.bin, ... = torchvision STL10(root)",
        files=(RemoteFile("http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz", "stl10_binary.tar.gz",
                          md5="91f7769df0f17e558f3565bffb0c7dfb"),),
        expect=("stl10_binary/unlabeled_X.bin",)),
    Source(
        "cifar100", "CIFAR-100 python version (Krizhevsky); md5 as published on the Toronto page",
        layout="<root>/cifar-100-python/{train,test,meta} = torchvision CIFAR100(root)",
        files=(RemoteFile("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz", "cifar-100-python.tar.gz",
                          md5="eb9058c3a382ffc7106e4002c42a8d85"),),
        expect=("cifar-100-python/train",)),
    Source(
        "tinyimagenet", "Tiny ImageNet (CS231n zip; same content as the Kaggle tinyimagenet200 copy the paper cites)",
        layout="<root>/tiny-imagenet-200/{wnids.txt, train/<wnid>/images/*.JPEG, val/images/*.JPEG, "
               "val/val_annotations.txt, test/}",
        files=(RemoteFile("http://cs231n.stanford.edu/tiny-imagenet-200.zip", "tiny-imagenet-200.zip",
                          md5="90528d7ca1a48142e341f4ef8d21d0de"),),
        expect=("tiny-imagenet-200/wnids.txt",)),
    Source(
        "salmap_stl10", "DeepGaze IIE saliency maps of STL-10 at 96x96 (HF dataset Hafez/salmap-stl10)",
        layout="<root>/{train,test,unlabeled}/saliency_<split>.npy (the official loader's sal_path layout)",
        hf_repo="Hafez/salmap-stl10", hf_patterns=("*saliency_*.npy",), post=_salmap_layout,
        expect=tuple(f"{s}/saliency_{s}.npy" for s in ("train", "test", "unlabeled"))),
    Source(
        "3diebench_ood", "3DIEBench-OOD: rotations ±U(pi/2, pi), outside the training range (HF dataset "
        "Hafez/3DIEBench-OOD, rendered by the seq-JEPA authors)",
        # The dataset card: <synset>/<obj>/image_<i>.jpg (256x256) + latent_<i>.npy (7-d), no split files.
        layout="<root>/<synset>/<object_id>/image_<i>.jpg + latent_<i>.npy (the 3DIEBench tree)",
        hf_repo="Hafez/3DIEBench-OOD", hf_patterns=("*/*/image_*.jpg", "*/*/latent_*.npy", "README.md"),
        hf_revision=OOD_REVISION, expect=("*/*/latent_*.npy",)),
    Source(
        "seqjepa_checkpoints", "Released seq-JEPA checkpoints (HF model Hafez/seq-JEPA)",
        layout="<root>/ = the HF model repo as published", hf_repo="Hafez/seq-JEPA", hf_repo_type="model"),
)}


def _resolve_url(f: RemoteFile, url_overrides: Mapping[str, str] | None, mirror: str | None) -> str:
    if url_overrides and f.filename in url_overrides:
        return url_overrides[f.filename]
    if mirror:
        return f"{mirror.rstrip('/')}/{f.filename}"
    return f.url


def fetch(source_name: str, dest_root: str | os.PathLike, *, url_overrides: Mapping[str, str] | None = None,
          mirror: str | None = None, archive_dir: str | os.PathLike | None = None, keep_archive: bool = True,
          endpoint: str | None = None, progress: bool = True, retries: int = 3, backoff: float = 2.0,
          revision: str | None = None) -> Path:
    """Download, verify and extract `SOURCES[source_name]` so that `dest_root` matches its layout.

    `dest_root` is this source's own directory (e.g. data/3DIEBench). `url_overrides` maps a file
    name to a URL and `mirror` replaces every URL by `<mirror>/<filename>`: both for mirrors and
    tests. Archives go to `archive_dir` (default `<dest_root>/../_downloads`). `endpoint` is passed to
    `hf_download`, and `revision` replaces the source's pinned Hub revision. The source's marker
    (`.complete`) is written last, after the `expect` globs matched; with the marker present the call
    is a no-op. A Hub source already in `dest_root` is reused offline (HF_HUB_OFFLINE=1): huggingface_hub
    keeps its file list in `<dest_root>/.cache/huggingface/`.
    """
    src = SOURCES[source_name]
    root = Path(dest_root)
    if src.marker and is_complete(root, src.marker):
        log.info("%s: %s already complete", source_name, root)
        return root
    root.mkdir(parents=True, exist_ok=True)
    fetched: list[str] = []
    if src.hf_repo:
        rev = revision or src.hf_revision
        hf_download(src.hf_repo, root, allow_patterns=list(src.hf_patterns) if src.hf_patterns else None,
                    repo_type=src.hf_repo_type, revision=rev, endpoint=endpoint)
        fetched.append(f"hf://{src.hf_repo_type}s/{src.hf_repo}@{rev or 'main'}")
    for f in src.files:
        url = _resolve_url(f, url_overrides, mirror)
        fetched.append(url)
        kw = dict(expected_size=f.size, sha256=f.sha256, md5=f.md5, progress=progress, retries=retries, backoff=backoff)
        try:
            kind = archive_kind(f.filename)
        except ValueError:
            path = download_url(url, root / f.filename, **kw)
            if path.suffix == ".npy" and not is_npy(path):
                path.unlink()
                raise DownloadError(f"{url} -> {path} is not a .npy file (removed)") from None
            continue
        adir = Path(archive_dir) if archive_dir is not None else root.parent / "_downloads"
        archive = download_url(url, adir / f.filename, **kw)
        log.info("extracting %s (%s) into %s", archive, kind, root)
        extract_archive(archive, root, strip_top=src.strip_top, marker=False)
        if not keep_archive:
            archive.unlink()
    if src.post:
        src.post(root)
    for pattern in src.expect:
        if next(iter(root.glob(pattern)), None) is None:
            raise DownloadError(f"{source_name}: nothing matches {pattern!r} under {root} after fetching {fetched}")
    if src.marker:
        write_marker(root, {"source": source_name, "from": fetched}, name=src.marker)
    return root


# --------------------------------------------------------------------------- STL-10 saliency maps

SALMAP_STL10_REPO = "Hafez/salmap-stl10"


def hf_cached_files(repo_id: str, filenames: Sequence[str], dest_dir: str | os.PathLike, *, revision: str = "main",
                    repo_type: str = "dataset", endpoint: str | None = None) -> dict[Path, str]:
    """Fetch ``filenames`` of a Hub repo into the Hugging Face cache and link them under ``dest_dir``.

    Going through the cache (not ``local_dir``) is what makes ``HF_HUB_OFFLINE=1`` work on a machine whose
    cache already holds the files (e.g. a compute node sharing HF_HOME with a login node). Files are
    hard-linked when the cache is on the same filesystem (no second copy of the 3.7 GB unlabeled maps),
    else copied. Returns {path under ``dest_dir``: the commit sha the revision resolved to}.
    """
    from huggingface_hub import hf_hub_download  # lazy: reads HF_* env at import

    dest = Path(dest_dir)
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    out = {}
    for name in filenames:
        try:
            cached = Path(hf_hub_download(repo_id, name, repo_type=repo_type, revision=revision, endpoint=endpoint))
        except Exception as e:  # HTTP / offline / not-found errors of huggingface_hub: name what we asked for
            where = endpoint or "the default Hub endpoint"
            raise DownloadError(f"{repo_type} {repo_id}@{revision}:{name} from {where} -> {dest / name}: {e}") from e
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.unlink(missing_ok=True)
        try:
            os.link(cached.resolve(), tmp)
        except OSError:
            shutil.copyfile(cached, tmp)
        os.replace(tmp, target)
        out[target] = cached.parents[len(Path(name).parts) - 1].name  # .../snapshots/<commit>/<name>
    return out


def fetch_salmap_stl10(dest: str | os.PathLike, revision: str = "main", endpoint: str | None = None,
                       splits: Sequence[str] = ("train", "test", "unlabeled")) -> Path:
    """The DeepGaze IIE maps of STL-10 as ``<dest>/<split>/saliency_<split>.npy``; ``.complete`` records the
    revision asked for, the commit it resolved to and each file's sha256."""
    dest = Path(dest)
    if is_complete(dest):
        return dest
    files = hf_cached_files(SALMAP_STL10_REPO, [f"{s}/saliency_{s}.npy" for s in splits], dest,
                            revision=revision, endpoint=endpoint)
    for f in files:
        if not is_npy(f):
            raise DownloadError(f"{f}: not a .npy file (from {SALMAP_STL10_REPO}@{revision})")
    write_marker(dest, {"repo": f"datasets/{SALMAP_STL10_REPO}", "revision": revision,
                        "commit": sorted(set(files.values())),
                        "sha256": {str(f.relative_to(dest)): file_digests(f)["sha256"] for f in files}})
    return dest


IMAGENET_SALIENCY_REPO = "Hafez/ImageNet1k-Saliency-Maps"


def fetch_salmap_imagenet(dest: str | os.PathLike, revision: str = "main",
                          patterns: Sequence[str] = ("train/*", "val/*"), endpoint: str | None = None,
                          repo_id: str = IMAGENET_SALIENCY_REPO) -> Path:
    """The DeepGaze IIE maps of ImageNet-1k (one .npy per image) under ``dest``, keeping the repo's paths.

    The revision is resolved to a commit first and the files are fetched at that commit, so ``.complete``
    (revision asked for, commit, patterns, number of maps) names exactly what came down."""
    dest = Path(dest)
    if is_complete(dest):
        return dest
    commit = hf_resolve_commit(repo_id, "dataset", revision, endpoint)
    files = hf_download(repo_id, dest, allow_patterns=list(patterns), repo_type="dataset",
                        revision=commit or revision, endpoint=endpoint)
    maps = [f for f in files if f.suffix == ".npy"]
    if not maps:
        raise DownloadError(f"dataset {repo_id}@{revision}: no .npy saliency maps match {list(patterns)} "
                            f"(got {len(files)} other files) -> {dest}")
    for f in maps:
        with open(f, "rb") as fh:
            if fh.read(6) != b"\x93NUMPY":  # e.g. an HTML error page of a proxy
                raise DownloadError(f"{f}: not a .npy file (from {repo_id}@{revision})")
    write_marker(dest, {"repo": f"datasets/{repo_id}", "revision": revision, "commit": commit,
                        "patterns": list(patterns), "maps": len(maps)})
    return dest
