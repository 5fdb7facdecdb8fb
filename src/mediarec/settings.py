"""One table of settings: defaults, help, TOML file and environment overrides.

Precedence, lowest first: the defaults below, ``<home>/mediarec.toml``, environment variables
``MEDIAREC_<NAME>`` (upper case), then explicit keyword overrides (the CLI's flags).
``reference.toml`` beside this module mirrors the table; a test keeps the two in step.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_HOME = "./mediarec-data"


def _s(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    home: str = _s(DEFAULT_HOME, "Data home: database, trained models, thumbnails. Also `--home`.")
    store_url: str = _s(
        "",
        "Store URL. Empty means `sqlite:///<home>/mediarec.db` (embedded SQLite in WAL mode); "
        "`postgresql://user:password@host/db` for a shared PostgreSQL store (`pip install "
        "'mediarec[postgres]'`). Also `--store-url`.",
    )
    default_model: str = _s("als", "Model that `recommend`, `similar` and the API serve when none is named.")
    api_key: str = _s(
        "",
        "Key that HTTP writes must send as `X-API-Key`. Empty: a random key is made on first "
        "`serve` and kept in `<home>/api_key`.",
    )
    read_key: str = _s(
        "",
        "Key that HTTP reads must send as `X-API-Key`. Empty: reads are open on loopback and need the "
        "write key (`api_key`) when `serve` listens on any other address; set, it is needed everywhere "
        "(the write key is accepted for reads too).",
    )
    host: str = _s("127.0.0.1", "Address `serve` listens on.")
    port: int = _s(8000, "Port `serve` listens on.")
    serve_http: str = _s(
        "uvicorn",
        "HTTP server under `serve`'s app: `uvicorn` (workers on their own SO_REUSEPORT sockets) or `granian` "
        "(Rust HTTP layer; cheaper per request, see docs/benchmarks.md). Also `serve --http`.",
    )
    models_dir: str = _s(
        "",
        "Folder of the trained model versions. Empty means `<home>/models`; `serve` replicas on several "
        "machines point it at one shared folder (see README, Scaling out).",
    )
    model_check_seconds: float = _s(
        1.0,
        "How often a running server looks for a newer saved version of a model it serves (one directory "
        "listing per model); it switches to it without a restart.",
    )
    serve_cache_size: int = _s(
        5000,
        "Ranked lists each server process keeps (per user and request options; about 20 KB each with full "
        "reasons); each is served again only while the user's events, the model version and the catalogue "
        "are unchanged. 0 turns the cache off.",
    )
    serve_change_bound_seconds: float = _s(
        1.0,
        "PostgreSQL stores: a cache hit is answered from memory, without reading the user's stamps from the "
        "store, while every write made since is known: at once when made by a mediarec process on the same "
        "host, within this many seconds when made on another host (LISTEN/NOTIFY, proven by heartbeats). "
        "0 reads the stamps from the store on every request.",
    )
    weight_view: float = _s(1.0, "Training weight of a view, multiplied by its watch fraction (0..1).")
    weight_like: float = _s(2.0, "Training weight of a like.")
    weight_share: float = _s(3.0, "Training weight of a share.")
    weight_comment: float = _s(2.0, "Training weight of a comment.")
    weight_rating: float = _s(1.0, "Training weight of a rating at or above `rating_threshold`.")
    rating_threshold: float = _s(
        0.0, "Ratings below this are not positives (0 keeps every rating, the usual top-N protocol)."
    )
    min_watch_fraction: float = _s(
        0.0, "Views watched less than this fraction are not positives (still count as seen)."
    )
    import_batch_size: int = _s(5000, "Rows per transaction during import; a crash loses at most one batch.")
    import_reader_process: bool = _s(
        True,
        "Import: read and check a source of 16 MB or more in a child process (fork), so parsing "
        "overlaps the store's writes; off, or where fork is unavailable, rows are read in place.",
    )
    popularity_half_life_days: float = _s(
        30.0, "Half-life of the popularity model's time decay; 0 turns decay off."
    )
    rank_candidates: int = _s(
        200, "Ranking: candidates taken from each source (CF, content, trending, fresh)."
    )
    rank_weight_cf: float = _s(
        1.0, "Ranking: blend weight of the collaborative model's (min-max normalised) scores."
    )
    rank_weight_content: float = _s(
        0.3,
        "Ranking: blend weight of neighbours of the user's recent items (content vectors, else the model's).",
    )
    rank_weight_trending: float = _s(
        0.1, "Ranking: blend weight of trending (time-decayed recent popularity)."
    )
    rank_weight_fresh: float = _s(0.05, "Ranking: blend weight of fresh uploads, newest first.")
    rank_weight_cold: float = _s(
        0.5,
        "Ranking: items added after training have no CF score; their content score counts this much instead.",
    )
    rank_recent_items: int = _s(20, "Ranking: the user's latest positive items that seed content neighbours.")
    rank_trending_window_days: float = _s(
        14.0, "Ranking: trending counts events this many days back from the newest event."
    )
    rank_trending_half_life_days: float = _s(3.0, "Ranking: an event this old counts half in trending.")
    rank_fresh_days: float = _s(30.0, "Ranking: items added within this many days count as new.")
    rank_watched_fraction: float = _s(
        0.9,
        "Ranking: items the user viewed to at least this fraction are never recommended, even with "
        "seen items included; 0 turns it off.",
    )
    rank_freshness_boost: float = _s(
        0.05, "Ranking: bonus added to a brand-new item's blended score, halving every freshness half-life."
    )
    rank_freshness_half_life_days: float = _s(7.0, "Ranking: half-life of the freshness boost.")
    rank_mmr_lambda: float = _s(
        0.8, "Ranking: MMR diversity trade-off; 1 ranks by relevance alone, lower values favour variety."
    )
    rank_mmr_pool: int = _s(100, "Ranking: how many of the best blended candidates MMR chooses from.")
    rank_max_per_creator: int = _s(0, "Ranking: at most this many items by one creator per list; 0 = no cap.")
    rank_max_per_topic: int = _s(0, "Ranking: at most this many items sharing a topic per list; 0 = no cap.")
    rank_explore_epsilon: float = _s(
        0.05, "Ranking: chance that a slot after the first goes to a new, little-seen item (seeded per user)."
    )
    rank_explore_max_viewers: int = _s(
        3, "Ranking: items with fewer training viewers than this may be explored."
    )
    rank_new_item_share: float = _s(
        0.2,
        "Ranking: a new, little-seen item reaches at most this share of users per period, best match first.",
    )
    rank_new_item_period_days: float = _s(
        7.0, "Ranking: each period a new item is offered to the next-best-matching share."
    )
    rank_new_item_min_match: float = _s(
        0.26,
        "Ranking: users whose taste matches a new item's content below this (centred) cosine never get it.",
    )
    rank_reason_min_similarity: float = _s(
        0.70, "Reasons: 'because you watched' needs at least this content cosine (chosen on demo clips)."
    )
    rank_reason_min_similarity_model: float = _s(
        0.84, "Reasons: 'because you watched' needs at least this cosine in a CF model's item space."
    )
    rank_reason_min_coviewers: int = _s(
        2, "Reasons: a collaborative reason needs at least this many co-viewers (users sharing an item)."
    )
    threads: int = _s(0, "Threads for model training (0 = all cores).")
    seed: int = _s(42, "Random seed for training, splits and the random baseline.")
    kit_dir: str = _s(
        "",
        "Folder of the offline model kit (`mediarec models install`). Empty means `<home>/kit`; "
        "point several data homes at one folder to share a single installed kit.",
    )
    whisper_model: str = _s(
        "", "Speech model: a kit model name or a CTranslate2 Whisper folder. Empty: kit `whisper-base`."
    )
    vision_model: str = _s(
        "", "Frame labelling model: a kit model name or a folder. Empty: kit `efficientnet-lite0`."
    )
    ocr_model: str = _s("", "On-screen text models: a kit model name or a folder. Empty: kit `rapidocr`.")
    audio_model: str = _s("", "Audio tagging model: a kit model name or a folder. Empty: kit `yamnet`.")
    text_model: str = _s("", "Text embedding model: a kit model name or a folder. Empty: kit `minilm`.")
    llm_model: str = _s(
        "",
        "Local LLM: a kit model name (`qwen-0.5b`, `qwen-1.5b`) or a folder holding one `.gguf`. "
        "Empty: kit `qwen-0.5b`.",
    )

    llm_url: str = _s(
        "",
        "LLM backend: `llama://qwen-0.5b`, `llama://qwen-1.5b`, `llama:///path/model.gguf` or an "
        "OpenAI-compatible `http(s)://host:port/v1?model=NAME`. "
        "Empty: the local kit model `llm_model` picks.",
    )
    llm_api_key: str = _s("", "Bearer key sent to an HTTP LLM backend.")
    llm_timeout: float = _s(120.0, "Seconds per request to an HTTP LLM backend.")
    llm_threads: int = _s(0, "Threads of the local LLM (0: the `threads` setting, then all cores).")
    llm_ctx: int = _s(4096, "Context window of the local LLM, in tokens.")
    ask_parser: str = _s(
        "auto",
        "Parser of steering requests (`--ask`, `ask=`): `auto` = the LLM `llm_url` names (the rules "
        "answer when it cannot load or its answer fails the checks); `rules` = never an LLM.",
    )
    llm_rerank: str = _s(
        "off",
        "LLM re-ranking of the head of each recommendation list: `off`, `cold` (users with at most "
        "`llm_rerank_cold_events` positive items) or `all`. Off by default: on ML-1M the kit's qwen-0.5b "
        "changed no list (docs/benchmarks.md, LLM re-ranking).",
    )
    llm_rerank_cold_events: int = _s(10, "LLM re-ranking: the most positive items a `cold` user has.")
    llm_rerank_k: int = _s(10, "LLM re-ranking: how many of the first items the LLM re-orders (2..20).")
    ray_address: str = _s(
        "",
        "Batch engine of `ingest`, `describe` and dataset text embedding: empty = local worker processes; "
        "`local` starts a Ray instance on this machine; `auto` or `ray://host:port` joins a Ray cluster "
        "(needs `pip install 'mediarec[ray]'`; every node must see the kit and the media at the same paths).",
    )
    ray_workers: int = _s(
        0,
        "Ray actors per model (and CPUs of a `local` Ray instance). 0: `ingest --workers` for a local "
        "instance, the cluster's CPUs when joining one.",
    )

    @property
    def home_path(self) -> Path:
        return Path(self.home).expanduser()

    @property
    def models_path(self) -> Path:
        return Path(self.models_dir).expanduser() if self.models_dir else self.home_path / "models"

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.home_path / 'mediarec.db'}"

    def with_overrides(self, **overrides: Any) -> Settings:
        clean = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **clean)


def settings_fields() -> list[dataclasses.Field[Any]]:
    return list(dataclasses.fields(Settings))


def _coerce(name: str, raw: Any, target: Any) -> Any:
    kind = type(target)
    try:
        if kind is bool:
            return raw if isinstance(raw, bool) else str(raw).lower() in {"1", "true", "yes", "on"}
        return kind(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"setting {name!r}: cannot read {raw!r} as {kind.__name__}") from exc


def load_settings(home: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Build settings from defaults, the home's TOML file, the environment and overrides."""
    base = Settings()
    values: dict[str, Any] = {}
    env_home = os.environ.get("MEDIAREC_HOME")
    home_str = str(home) if home is not None else (env_home or base.home)
    toml_path = Path(home_str).expanduser() / "mediarec.toml"
    known = {f.name: f for f in settings_fields()}
    if toml_path.is_file():
        with toml_path.open("rb") as fh:
            data = tomllib.load(fh)
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"{toml_path}: unknown setting(s) {', '.join(unknown)}")
        for key, raw in data.items():
            values[key] = _coerce(key, raw, known[key].default)
    for name, f in known.items():
        env = os.environ.get(f"MEDIAREC_{name.upper()}")
        if env is not None and name != "home":
            values[name] = _coerce(name, env, f.default)
    values["home"] = home_str
    for key, raw in overrides.items():
        if raw is None:
            continue
        if key not in known:
            raise ValueError(f"unknown setting {key!r}")
        values[key] = _coerce(key, raw, known[key].default)
    return dataclasses.replace(base, **values)


def render_reference_toml() -> str:
    """The commented reference file, generated from the table so that it cannot drift."""
    lines = [
        "# mediarec settings: copy to <home>/mediarec.toml and change what you need.",
        "# Every key can also be set as the environment variable MEDIAREC_<KEY>.",
        "",
    ]
    for f in settings_fields():
        if f.name == "home":
            lines.append(f"# {f.metadata['help']} (set it with --home or MEDIAREC_HOME, not here)")
            lines.append("")
            continue
        lines.append(f"# {f.metadata['help']}")
        default = f.default
        if isinstance(default, str):
            rendered = f'"{default}"'
        elif isinstance(default, bool):
            rendered = str(default).lower()
        else:
            rendered = repr(default)
        lines.append(f"# {f.name} = {rendered}")
        lines.append("")
    return "\n".join(lines)


def render_markdown_table() -> str:
    rows = ["| setting | default | what it does |", "|---|---|---|"]
    for f in settings_fields():
        rows.append(f"| `{f.name}` | `{f.default!r}` | {f.metadata['help']} |")
    return "\n".join(rows)


if __name__ == "__main__":  # regenerates the two mirrors of the table
    import re
    import sys

    root = Path(__file__).resolve().parent
    (root / "reference.toml").write_text(render_reference_toml() + "\n")
    docs = root.parents[1] / "docs" / "settings.md"
    text = docs.read_text()
    table = render_markdown_table()
    docs.write_text(
        re.sub(r"\| setting \|.*?(?=\n\n|\Z)", lambda _m: table, text, flags=re.S)
        + ("" if text.endswith("\n") else "\n")
    )
    sys.stdout.write(f"wrote {root / 'reference.toml'} and {docs}\n")
