"""The ``mediarec`` command: a thin shell over :class:`mediarec.engine.MediaRec`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from mediarec.cli_text import echo
from mediarec.settings import load_settings

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
# Exit status of every batch command (ingest, import, describe): 0 when everything went through,
# EXIT_SOME_FAILED when the run finished but some files, rows or items failed (each one is printed
# and kept in the store's import_errors), 1 when the command itself failed (bad arguments, no data).
EXIT_SOME_FAILED = 3


def _sigterm_interrupts() -> None:
    """SIGTERM (kill, systemd, docker stop) interrupts like Ctrl-C, so that a batch run's clean-up
    marks it 'interrupted' instead of the process vanishing with the run left 'running'."""
    import signal
    import threading

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def _engine(ctx: click.Context, create: bool = False) -> Any:
    """The engine over the data home. Only commands that put data in (``create``) may make a new
    home: a read command on a mistyped ``--home`` says so instead of answering from an empty one."""
    from mediarec.engine import MediaRec

    if "engine" not in ctx.obj:
        settings = load_settings(ctx.obj["home"], store_url=ctx.obj.get("store_url"))
        if not create:
            _require_home(settings)
        ctx.obj["engine"] = ctx.with_resource(MediaRec(settings=settings))
    return ctx.obj["engine"]


def _require_home(settings: Any) -> None:
    home = settings.home_path
    url = settings.resolved_store_url
    missing = None
    if not url.startswith("sqlite"):
        return  # a database server's store: the server says whether it is there
    if not home.is_dir():
        missing = f"no data home at {home}"
    elif url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        missing = f"no store in {home} (nothing was imported or ingested there)"
    if missing:
        raise click.ClickException(
            f"{missing}; check --home or MEDIAREC_HOME, or put data in with "
            "`mediarec import PATH` or `mediarec ingest PATH`"
        )


def _parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--param")
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


@click.group(context_settings=CONTEXT)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data home (default: $MEDIAREC_HOME or ./mediarec-data).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    envvar="MEDIAREC_PROGRESS",
    help="Draw progress bars on stderr (default: only when stderr is a terminal).",
)
@click.option(
    "--store-url",
    default=None,
    help="Store URL: sqlite:///PATH or postgresql://user:pass@host/db (default: the store_url setting, "
    "$MEDIAREC_STORE_URL, else <home>/mediarec.db).",
)
@click.version_option(package_name="mediarec")
@click.pass_context
def main(ctx: click.Context, home: Path | None, progress: bool | None, store_url: str | None) -> None:
    """mediarec: a self-hosted recommendation engine for audio and video catalogues."""
    _sigterm_interrupts()
    ctx.ensure_object(dict)
    ctx.obj["home"] = home
    ctx.obj["store_url"] = store_url


def _model_names() -> list[str]:
    from mediarec.recommenders import MODELS

    return list(MODELS)


def _uses_features(name: str) -> bool:
    from mediarec.recommenders import MODELS

    return MODELS[name][0].uses_item_features


HTTP_SERVERS = ("uvicorn", "granian")


@main.command(epilog="Example: mediarec serve --port 8000   (then open http://127.0.0.1:8000/)")
@click.option("--host", default=None, help="Address to listen on (default: the host setting, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default: the port setting, 8000).")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes on this port (one per core); each keeps its own result cache.",
)
@click.option(
    "--http",
    type=click.Choice(HTTP_SERVERS),
    default=None,
    help="HTTP server (default: the serve_http setting, uvicorn); granian is cheaper per request.",
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int, http: str | None) -> None:
    """Run the HTTP API (OpenAPI at /docs) and the web dashboard (at /); writes need the API key."""
    try:
        import uvicorn

        from mediarec.serve import create_app
    except ImportError as exc:
        raise click.ClickException(f"{exc}; install the extra: pip install 'mediarec[serve]'") from None
    engine = _engine(ctx, create=True)  # an empty home is served and filled through the API
    s = engine.settings
    http = http or s.serve_http
    if http not in HTTP_SERVERS:
        engine.close()
        raise click.ClickException(f"serve_http is {http!r}: use one of {', '.join(HTTP_SERVERS)}")
    if http == "granian":
        try:
            import granian  # noqa: F401
        except ImportError:
            engine.close()
            raise click.ClickException("granian is not installed: pip install 'mediarec[serve]'") from None
    listen = host or s.host
    app = create_app(engine, host=listen)
    click.echo(f"API key for writes (X-API-Key): {app.state.api_key_hint}", err=True)
    if not app.state.reads_open:
        click.echo("API reads need X-API-Key too: the read_key setting, else the write key", err=True)
    shown = f"[{listen}]" if ":" in listen else listen
    login = " (log in with the API key)" if app.state.dashboard_access.login_required else ""
    click.echo(f"Dashboard: http://{shown}:{port or s.port}/{login}", err=True)
    if workers == 1 and http == "uvicorn":
        uvicorn.run(app, host=listen, port=port or s.port, log_level="info")
        return
    import os

    from mediarec.serve.workers import run, worker_env

    # The app above made the API key file, so the workers share it; each builds its own engine.
    os.environ.update(worker_env(str(s.home_path), ctx.obj.get("store_url"), listen))
    engine.close()  # each worker opens its own; this process only supervises them
    try:
        if http == "granian":
            from mediarec.serve import granian_run
            from mediarec.serve.workers import listen_socket

            # Taken? A clear error here, not a line in granian's log.
            listen_socket(listen, port or s.port, reuse_port=False).close()
            granian_run.run("mediarec.serve.workers:app", listen, port or s.port, workers)
        else:  # one SO_REUSEPORT socket per worker, so connections spread over them (serve/workers.py)
            run("mediarec.serve.workers:app", listen, port or s.port, workers, factory=True, log_level="info")
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {shown}:{port or s.port}: {exc}") from None


@main.command(epilog="Example: mediarec --home /tmp/demo demo")
@click.option("--users", default=3, show_default=True, help="How many users to show recommendations for.")
@click.pass_context
def demo(ctx: click.Context, users: int) -> None:
    """Build the built-in demo catalogue, train, and print recommendations end to end."""
    from mediarec.demo import run_demo

    run_demo(_engine(ctx, create=True), show_users=users, echo=echo)


# Commands in their own modules, registered here so that `mediarec --help` lists them all.
from mediarec.cli_eval import evaluate  # noqa: E402
from mediarec.cli_ingest import describe, import_cmd, ingest, show  # noqa: E402
from mediarec.cli_items import items  # noqa: E402
from mediarec.cli_models import models  # noqa: E402
from mediarec.cli_recs import moments, recommend, search, similar, train  # noqa: E402
from mediarec.cli_store import store  # noqa: E402
from mediarec.cli_tune import tune  # noqa: E402
from mediarec.cli_users import delete_user, profile  # noqa: E402

main.add_command(import_cmd)
main.add_command(ingest)
main.add_command(describe)
main.add_command(show)
main.add_command(train)
main.add_command(recommend)
main.add_command(similar)
main.add_command(search)
main.add_command(moments)
main.add_command(models)
main.add_command(delete_user)
main.add_command(profile)
main.add_command(evaluate)
main.add_command(items)
main.add_command(store)
main.add_command(tune)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
