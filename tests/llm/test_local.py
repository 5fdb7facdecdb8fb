"""The local backend's decoding penalties, on a fake vocabulary (no model needed)."""

from __future__ import annotations

import numpy as np

from mediarec.llm.local import _Distinct

# A fake tokenizer: the spellings the penalty asks for, and the pieces each token id stands for.
PIECES = {0: " f", 1: "yp", 2: " viral", 3: "Viral", 4: " V", 5: "iral", 6: "vir", 7: "al", 8: " the"}
SPELLINGS = {
    "fyp": [0, 1],
    " fyp": [0, 1],
    "Fyp": [0, 1],
    " Fyp": [0, 1],
    "FYP": [0, 1],
    " FYP": [0, 1],
    "viral": [6, 7],
    " viral": [2],
    "Viral": [3],
    " Viral": [4, 5],
    "VIRAL": [4, 5],
    " VIRAL": [4, 5],
}


def fake_tokenize(text: str) -> list[int]:
    return SPELLINGS[text]


def test_avoided_words_lose_their_whole_word_tokens_but_not_short_pieces() -> None:
    d = _Distinct((), 6.0, [True] * len(PIECES), shun=("viral", "fyp"), shun_penalty=10.0, pieces=PIECES.get)
    # " f" and "yp" (fyp) and "al" are too short to ban without banning other words; " V" likewise.
    assert d.shunned(fake_tokenize) == [2, 3, 5, 6]
    zeros = np.zeros(len(PIECES), dtype=np.float32)
    d.text = '{"description'
    assert d.penalise(zeros, fake_tokenize) is zeros, "a key is forced by the grammar: left alone"
    d.text = '{"description": "A clip that went'
    out = d.penalise(zeros, fake_tokenize)
    assert list(out[[2, 3, 5, 6]]) == [-10.0] * 4
    assert out[0] == out[1] == out[8] == 0.0


def test_no_avoided_words_leaves_the_scores_alone() -> None:
    d = _Distinct((), 6.0, [True] * len(PIECES), pieces=PIECES.get)
    scores = np.ones(len(PIECES), dtype=np.float32)
    assert d.penalise(scores, fake_tokenize) is scores
