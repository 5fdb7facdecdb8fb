"""The Python packages that run the kit's models, and pip, which the kit drives as a subprocess.

pip runs as ``sys.executable -m pip`` so that it installs into the interpreter mediarec runs in,
and it reads the usual pip configuration and ``PIP_*`` environment variables (for example
``PIP_FIND_LINKS`` to a folder holding a prebuilt llama-cpp-python wheel).
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from collections.abc import Callable, Iterable

from mediarec.kit.registry import ModelSpec, Runtime

Progress = Callable[[str], None]


class KitError(RuntimeError):
    """Installing or checking the kit failed; the message says what to do."""


def pip(*args: str, quiet: bool = True) -> str:
    """Run pip in this interpreter; returns its stdout, raises ``KitError`` with its error tail."""
    cmd = [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "--no-input"]
    if quiet:
        cmd.append("--quiet")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if "is ignored" not in ln]
        tail = "\n".join(lines[-15:])
        raise KitError(f"`pip {' '.join(args)}` failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def missing_runtime(spec: ModelSpec) -> list[Runtime]:
    """Runtime packages of ``spec`` that cannot be imported here."""
    return [r for r in spec.runtime if importlib.util.find_spec(r.module) is None]


def missing_build_tools(specs: Iterable[ModelSpec]) -> list[Runtime]:
    """Packages that ``install`` needs to assemble ``specs`` (``build_requires``) and lacks here."""
    found: dict[str, Runtime] = {}
    for spec in specs:
        for r in spec.build_requires:
            if importlib.util.find_spec(r.module) is None:
                found.setdefault(r.module, r)
    return list(found.values())


def ensure_runtime(specs: Iterable[ModelSpec], progress: Progress | None = None) -> list[str]:
    """pip-install the runtime packages the models need and this interpreter lacks; returns the
    requirements it installed. Packages marked ``no_deps`` go in with ``--no-deps``."""
    plain: list[str] = []
    no_deps: list[str] = []
    for spec in specs:
        for runtime in missing_runtime(spec):
            target = no_deps if runtime.no_deps else plain
            if runtime.requirement not in target:
                target.append(runtime.requirement)
    if not plain and not no_deps:
        return []
    if plain:
        if progress:
            progress(f"installing runtime: pip install {' '.join(plain)}")
            if any(r.startswith("llama-cpp-python") for r in plain):
                progress("llama-cpp-python builds from source (~15 min on 2 cores) unless pip finds a wheel")
        pip("install", *plain)
    if no_deps:
        if progress:
            progress(f"installing runtime: pip install --no-deps {' '.join(no_deps)}")
        pip("install", "--no-deps", *no_deps)
    importlib.invalidate_caches()
    return plain + no_deps
