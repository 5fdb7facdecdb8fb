"""The HTTP API tests of tests/serve/test_api.py, run once more against a server whose store is a real
PostgreSQL database (the session's throw-away cluster, tests/pg_cluster.py): items, events,
recommendations, batches, concurrent posts, user deletion."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mediarec.datasets import demo
from mediarec.datasets.loader import load_rows
from mediarec.engine import MediaRec
from mediarec.settings import load_settings
from tests.pg_cluster import Cluster
from tests.serve.helpers import Api, serving, without_settings_env
from tests.serve.test_api import (  # noqa: F401  (collected here again, with the fixture below)
    test_bad_query_parameters_are_422,
    test_batch_keeps_good_rows_and_reports_bad_ones,
    test_concurrent_posts_all_land,
    test_delete_user_removes_events_and_model_rows,
    test_exclude_seen_false_may_return_seen_items,
    test_get_item_and_404,
    test_health_reports_store_counts_and_model_version,
    test_internal_errors_hide_details,
    test_invalid_json_and_wrong_types_are_422,
    test_invalid_records_are_422_with_the_reason,
    test_items_filters,
    test_items_paging_covers_catalogue_once,
    test_key_file_is_private,
    test_kind_and_creator_filters,
    test_known_user_gets_n_unseen_items_with_reasons,
    test_openapi_lists_every_path,
    test_oversized_body_is_413,
    test_post_items_rejects_bad_items_whole,
    test_post_items_then_get,
    test_posted_interaction_is_stored_and_hides_item_at_once,
    test_similar_items,
    test_similar_unknown_item_is_404,
    test_single_interaction_on_unknown_item_is_422,
    test_unknown_route_is_json_404,
    test_unknown_user_gets_popular_fallback,
    test_writes_need_the_key,
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, pg_cluster: Cluster) -> Iterator[Api]:
    """One server for the module, as in test_api.py, on a PostgreSQL store."""
    name = pg_cluster.new_database()
    try:
        with without_settings_env():
            settings = load_settings(
                tmp_path_factory.mktemp("serve-pg") / "home", store_url=pg_cluster.url(name)
            )
            engine = MediaRec(settings=settings)
        assert engine.store.dialect.postgresql
        load_rows(engine.store, demo.rows(), source="demo", fmt="demo")
        engine.train("als", factors=16)
        with engine, serving(engine) as api:
            yield api
    finally:
        pg_cluster.drop_database(name)


def test_dashboard_pages_read_postgresql(api: Api) -> None:
    """The dashboard's own queries (tag counts, creators, JSON values of features, import runs)."""
    from mediarec.serve.dashboard_queries import creators, feature_values, import_runs, tag_counts

    store = api.engine.store
    item = store.list_items(limit=1)[0].external_id
    store.add_feature(item, "llm", "m|p|h", {"tags": [{"tag": "Pasta"}], "n": 3, "s": "x"})
    assert feature_values(store, [item], "llm", "$.tags") == {item: [{"tag": "Pasta"}]}
    assert feature_values(store, [item], "llm", "$.s") == {item: "x"}
    assert feature_values(store, [item], "llm", "$.missing") == {}
    assert ("pasta", 1) in tag_counts(store, limit=500)
    assert creators(store) and import_runs(store)[0].format == "demo"
    for path in ("/", "/?tag=pasta", "/?q=a", "/ui/users", "/ui/ingest", f"/ui/items/{item}"):
        r = api.client.get(path, headers=api.auth)
        assert r.status_code == 200, (path, r.status_code)
