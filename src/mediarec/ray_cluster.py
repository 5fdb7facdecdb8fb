"""Ray as the engine of batch work (setting ``ray_address``): connecting, checking the nodes, and
mapping work over a pool of actors.

``ray_address`` empty keeps the local process pool; ``local`` starts a Ray instance on this machine
(``ray_workers`` CPUs, else the caller's worker count); ``auto`` or ``ray://host:port`` joins a cluster.
Ray is imported only here and only on that path, so the default install does not need it.

Every node reads the media files, the model kit and the data home (keyframes are written under it)
by the paths the driver sees: a shared filesystem mounted at the same path on every node, or media
``uri``s the nodes can read. :func:`check_nodes` runs a tiny task on each node before any work starts
and names the node and the path it cannot read, instead of letting every item fail on its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXTRA_HINT = "pip install 'mediarec[ray]'"


class RaySetupError(ValueError):
    """Ray cannot be used as configured (missing package, bad address, a node that cannot see a path).
    A ValueError, so the commands report it as a plain error (exit status 1), never a traceback."""


def ray_enabled(settings: Any) -> bool:
    return bool(str(getattr(settings, "ray_address", "") or "").strip())


def validate(settings: Any) -> None:
    """Fail early (before any file is read) on an unusable ``ray_address`` or a missing package."""
    address = str(settings.ray_address).strip()
    if address not in ("local", "auto") and not address.startswith("ray://"):
        raise RaySetupError(
            f"setting ray_address = {address!r}: use 'local', 'auto' or 'ray://host:port' (empty: no Ray)"
        )
    try:
        import ray  # noqa: F401  # only on this path: the default install has no Ray
    except ImportError as exc:
        raise RaySetupError(f"ray_address = {address!r} needs the Ray package: {EXTRA_HINT}") from exc


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RaySetupError(f"Ray is not installed: {EXTRA_HINT}") from exc
    return ray


@dataclass
class RaySession:
    """A connection to Ray for one batch run. It reuses an instance already initialised in this
    process (a test, a notebook) and leaves it running; one it started itself it shuts down."""

    ray: Any
    started: bool
    workers: int  # actors per model

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()

    def __enter__(self) -> RaySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(settings: Any, workers: int) -> RaySession:
    """Start or join Ray as ``ray_address`` says. ``workers``: the caller's worker count, used when
    ``ray_workers`` is 0 (for a local instance: its CPUs; for a cluster: every CPU it has)."""
    validate(settings)
    ray = import_ray()
    wanted = int(settings.ray_workers) or 0
    address = str(settings.ray_address).strip()
    started = False
    if not ray.is_initialized():
        if address == "local":
            ray.init(
                num_cpus=max(1, wanted or workers),
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        else:
            try:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise RaySetupError(f"cannot join the Ray cluster at {address!r}: {exc}") from exc
        started = True
    if wanted:
        count = wanted
    elif address == "local" and started:
        count = max(1, workers)
    else:
        count = max(1, int(ray.cluster_resources().get("CPU", 1)))
    return RaySession(ray, started, count)


def _check_paths(paths: Sequence[tuple[str, str, str]]) -> list[str]:
    """On one node: (what, path, mode) entries that this node cannot use, as messages."""
    problems = []
    for what, path, mode in paths:
        p = Path(path)
        if not p.exists():
            problems.append(f"cannot see the {what} {path}: no such file or folder")
        elif not os.access(p, os.R_OK | (os.W_OK if mode == "w" else 0)):
            problems.append(f"cannot {'write' if mode == 'w' else 'read'} the {what} {path}")
        elif p.is_file():
            try:
                with p.open("rb") as fh:
                    fh.read(1)
            except OSError as exc:
                problems.append(f"cannot read the {what} {path}: {exc.strerror or exc}")
    return problems


def check_nodes(session: RaySession, paths: Sequence[tuple[str, str | os.PathLike[str], str]]) -> None:
    """Run :func:`_check_paths` once on every alive node; raise naming each node and path it cannot
    use. ``paths``: (what, path, "r" or "w")."""
    ray = session.ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    wanted = [(what, os.fspath(path), mode) for what, path, mode in paths]
    check = ray.remote(num_cpus=0, max_retries=0)(_check_paths)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    refs = [
        check.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=n["NodeID"], soft=False)
        ).remote(wanted)
        for n in nodes
    ]
    failures = []
    for node, problems in zip(nodes, ray.get(refs), strict=True):
        name = f"{node.get('NodeManagerAddress', '?')} (node {str(node['NodeID'])[:12]})"
        failures += [f"Ray node {name} {p}" for p in problems]
    if failures:
        raise RaySetupError(
            "; ".join(failures)
            + ". Every Ray node must see the model kit, the data home and the media at the same paths "
            "(a shared filesystem mounted at the same path on every node; see docs/scaling.md)."
        )


def worker_env(threads: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment an actor sets before it loads any model: its share of the cores (the models'
    own thread pools follow OMP_NUM_THREADS) and the driver's kit location."""
    env = {"OMP_NUM_THREADS": str(threads)}
    for name in ("MEDIAREC_KIT_DIR",):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env | (extra or {})


def actor_options(settings: Any, env: dict[str, str]) -> dict[str, Any]:
    """Options of every mediarec actor: one CPU, no restart (a replacement is made instead, see
    :func:`ordered_map`), and ``env`` set from the process's start.

    On a local instance the actor's BLAS gets as many threads as this process's (OpenBLAS reads its
    count once, when numpy loads): Ray would give it one, and the BLAS thread count changes float
    sums enough to move results (Whisper's mel features, hence its language probability, moved by
    0.03), so the same files would not store the same features as the local process pool, whose
    workers inherit this process's BLAS.
    """
    process_env = dict(env)
    if str(settings.ray_address).strip() == "local":
        blas = os.environ.get("OPENBLAS_NUM_THREADS") or str(os.cpu_count() or 1)
        process_env.setdefault("OPENBLAS_NUM_THREADS", blas)
    return {"num_cpus": 1, "max_restarts": 0, "runtime_env": {"env_vars": process_env}}


def local_threads(session: RaySession, settings: Any) -> int:
    """Threads per actor: on a local instance the machine's cores shared among the actors (as the
    process pool does, and OMP_NUM_THREADS wins when set), on a cluster one per actor's CPU."""
    if str(settings.ray_address).strip() != "local":
        return 1
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    return max(1, (os.cpu_count() or 1) // session.workers)


@dataclass(frozen=True)
class Failed:
    """An item whose remote call raised (its actor died, say): the other items go on."""

    error: BaseException

    @property
    def message(self) -> str:
        """The error's type and first line (Ray's own messages go on for a page)."""
        first = (str(self.error).strip().splitlines() or [""])[0]
        return f"{type(self.error).__name__}: {first}"


def ordered_map(
    session: RaySession,
    actors: list[Any],
    call: Callable[[Any, Any], Any],
    values: Iterable[Any],
    replace: Callable[[], Any] | None = None,
    window: int = 4,
) -> Iterator[Any]:
    """``call(actor, value)`` (returning an ObjectRef) for each value, yielding results (or
    :class:`Failed`) in the order of ``values``.

    One call in flight per actor, and at most ``window`` results per actor waiting to be handed
    over in order: memory stays bounded whatever the batch size. An actor that finishes gets the next
    value at once rather than wait for a slow item ahead of it (no ActorPool: its ordered mode
    leaves actors idle behind a slow item, and its unordered mode loses which item a result is).
    ``replace``: makes a fresh actor to stand in for one whose call failed (it may have died, say
    killed for memory); the failed value is not retried, so a file that kills its worker fails alone.
    New actors are appended to ``actors``, so the caller's clean-up reaches them.
    """
    ray = session.ray
    idle = list(actors)
    running: dict[Any, tuple[int, Any]] = {}
    done: dict[int, Any] = {}
    source = iter(enumerate(values))
    exhausted = False
    following = 0
    limit = max(1, window) * len(actors)
    while True:
        while idle and not exhausted and len(running) + len(done) < limit:
            try:
                index, value = next(source)
            except StopIteration:
                exhausted = True
                break
            actor = idle.pop()
            running[call(actor, value)] = (index, actor)
        if following in done:
            yield done.pop(following)
            following += 1
            continue
        if not running:
            if exhausted:
                return
            continue  # the window is full of finished results: hand them over first
        [ref], _ = ray.wait(list(running), num_returns=1)
        index, actor = running.pop(ref)
        try:
            done[index] = ray.get(ref)
        except Exception as exc:  # an actor that died, a result that cannot travel: this item only
            done[index] = Failed(exc)
            if replace is not None:
                ray.kill(actor)
                actor = replace()
                actors.append(actor)
        idle.append(actor)
