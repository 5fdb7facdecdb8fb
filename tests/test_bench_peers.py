"""bench_peers scores a peer's embeddings under mediarec's protocol: checked against an ordering
known by construction, since its figures stand beside mediarec's in docs/benchmarks.md."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from mediarec.eval import ndcg_at_k, recall_at_k
from mediarec.interactions import from_indices

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_peer_embeddings_rank_the_whole_catalogue_without_training_items() -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import bench_peers
    finally:
        sys.path.remove(str(BENCH))
    n_users, n_items = 3, 40
    users = [f"u{i}" for i in range(n_users)]
    items = [f"i{j}" for j in range(n_items)]
    # Training: each user has items 0 and 1; item 39 has no training event at all.
    rows, cols = np.repeat(np.arange(n_users), 2), np.tile([0, 1], n_users)
    train = from_indices(rows, cols, np.ones(len(rows)), users, items)
    test = sp.csr_matrix((np.ones(3), ([0, 1, 2], [2, 30, 39])), shape=(n_users, n_items))
    # One dimension: an item's score falls with its index, so the best unseen items are 2, 3, ...
    # The peer's own id order differs from mediarec's (reversed) and it knows nothing of item 39.
    item_tokens = [f"i{j}" for j in reversed(range(n_items - 1))]
    item_emb = np.array([[float(n_items - int(t[1:]))] for t in item_tokens], dtype=np.float32)
    user_tokens = list(reversed(users))
    user_emb = np.ones((n_users, 1), dtype=np.float32)
    got = bench_peers.score_embeddings(user_emb, item_emb, user_tokens, item_tokens, train, test)
    expected_top = np.tile(np.arange(2, 2 + bench_peers.K), (n_users, 1))  # 0 and 1 filtered as seen
    assert got["recall"] == recall_at_k(expected_top, test) == 1 / 3  # item 30 and 39 are out of the top 20
    assert got["ndcg"] == ndcg_at_k(expected_top, test)
