"""Where a stage finds its model, and what the kit holds (``mediarec models list``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mediarec.kit.install import kit_root, quick_check, read_manifest
from mediarec.kit.registry import BY_NAME, SPECS, ModelSpec, spec
from mediarec.kit.runtime import missing_runtime
from mediarec.settings import Settings


class ModelNotInstalled(LookupError):
    """A model (or the package that runs it) is missing; the message says how to install it."""


def _install_hint(model: ModelSpec) -> str:
    if model.name == "qwen-0.5b":
        return "mediarec models install --llm fast"
    if model.name == "qwen-1.5b":
        return "mediarec models install --llm quality"
    return "mediarec models install"


def _require_runtime(model: ModelSpec) -> None:
    missing = missing_runtime(model)
    if missing:
        needs = ", ".join(r.requirement for r in missing)
        raise ModelNotInstalled(
            f"{model.name} ({model.role}) needs {needs}: pip install 'mediarec[{model.extra}]' "
            f"or run `{_install_hint(model)}`, which installs it"
        )


def model_dir(
    name: str,
    home: str | os.PathLike[str],
    settings: Settings | None = None,
    *,
    check_runtime: bool = True,
) -> Path:
    """Folder holding model ``name``'s files, for a stage to load.

    The model's setting (``spec(name).setting``, e.g. ``whisper_model``) overrides the kit: a kit
    model name picks that model instead (``llm_model = "qwen-1.5b"``), anything else is a folder
    used as it is. Otherwise the answer is ``<kit>/<name>`` when its manifest and files are there
    (sizes only; ``verify`` re-hashes). Raises ``ModelNotInstalled`` saying what to run when the
    model, or with ``check_runtime`` the package that runs it, is missing.
    """
    model = spec(name)
    override = str(getattr(settings, model.setting, "") or "") if settings is not None else ""
    if override and override not in BY_NAME:
        folder = Path(override).expanduser()
        if not folder.is_dir():
            raise ModelNotInstalled(f"{model.setting} = {override!r}: no such folder")
        if check_runtime:
            _require_runtime(model)
        return folder
    if override:
        model = BY_NAME[override]
    folder = kit_root(home, settings) / model.name
    if not quick_check(folder, model):
        raise ModelNotInstalled(
            f"model {model.name!r} ({model.role}) is not installed in {folder.parent}: "
            f"run `{_install_hint(model)}`"
        )
    if check_runtime:
        _require_runtime(model)
    return folder


def model_file(
    name: str,
    home: str | os.PathLike[str],
    settings: Settings | None = None,
    *,
    check_runtime: bool = True,
) -> Path:
    """The model's main file (``model.bin``, ``model.onnx``, the ``.gguf``...) inside ``model_dir``.
    In an override folder without the kit's file name, a single ``*.gguf`` is accepted for LLMs."""
    folder = model_dir(name, home, settings, check_runtime=check_runtime)
    manifest = read_manifest(folder)
    main = manifest["main_file"] if manifest else spec(name).main_file
    path = folder / main
    if not path.is_file():
        ggufs = sorted(folder.glob("*.gguf"))
        if spec(name).role == "llm" and len(ggufs) == 1:
            return ggufs[0]
        raise ModelNotInstalled(f"{folder}: no {main}")
    return path


@dataclass(frozen=True)
class ModelRow:
    name: str
    role: str
    installed: bool
    size: int  # bytes: the manifest's total when installed, else the approximate download
    licence: str
    path: Path
    optional: bool
    runtime_ok: bool


def list_models(home: str | os.PathLike[str], settings: Settings | None = None) -> list[ModelRow]:
    """One row per kit model, installed or not (a size check, no hashing: it is quick)."""
    root = kit_root(home, settings)
    rows = []
    for model in SPECS:
        folder = root / model.name
        installed = quick_check(folder, model)
        manifest = read_manifest(folder) if installed else None
        size = int(manifest.get("size", 0)) if manifest else model.approx_mb * 1_000_000
        rows.append(
            ModelRow(
                model.name,
                model.role,
                installed,
                size,
                model.licence,
                folder,
                model.optional,
                not missing_runtime(model),
            )
        )
    return rows
