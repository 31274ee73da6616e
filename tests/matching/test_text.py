"""The vectorised character n-gram TF-IDF agrees with scikit-learn's TfidfVectorizer."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from matching import text as text_model
from matching.text import fit_text_model

TEXTS = [
    "在新化县做香辛料种植电商12年，主打花椒，主要在抖音、快手销售。",
    "我在岳阳楼区做养蜂，想通过淘宝/天猫、拼多多把产品卖出去，需要技术、物流的帮助。",
    "Tea  Growing\t\tin   Anxi 安溪铁观音",
    "",
    "茶叶 茶叶 茶叶",
    "ΣΊΣΥΦΟΣ sells 🍵 online 🍵",
    "  leading and trailing  ",
    "a",
]


def _sklearn(texts: list[str], min_df: int) -> TfidfVectorizer:
    vec = TfidfVectorizer(
        analyzer="char", ngram_range=(1, 2), sublinear_tf=True, min_df=min_df, dtype=np.float32
    )
    vec.fit(texts)
    return vec


def _term_key(term: str) -> int:
    return (ord(term[0]) << 22) | ((ord(term[1]) + 1) if len(term) == 2 else 0)


def _check_against_sklearn(fit_texts: list[str], queries: list[str]) -> None:
    model, emb = fit_text_model(fit_texts, seed=0)
    vec = _sklearn(fit_texts, 2 if len(fit_texts) >= 1000 else 1)
    terms = sorted(vec.vocabulary_, key=vec.vocabulary_.get)
    assert model.terms.tolist() == [_term_key(t) for t in terms]  # same vocabulary, same column order
    assert np.allclose(model.idf, vec.idf_, rtol=1e-6)
    ours = model.tfidf(queries).toarray()
    ours /= np.maximum(np.linalg.norm(ours, axis=1, keepdims=True), 1e-30)
    assert np.allclose(ours, vec.transform(queries).toarray(), atol=1e-6)
    # The embedding is the SVD image of that TF-IDF, unit-normalised (compared where the top 32
    # directions are well defined: with a handful of texts the SVD is rank-deficient).
    if model.dims == text_model.TEXT_DIMS and len(fit_texts) >= 1000:
        svd = TruncatedSVD(n_components=text_model.TEXT_DIMS, random_state=0, n_iter=4)
        ref = svd.fit(vec.transform(fit_texts)).transform(vec.transform(queries))
        ref /= np.maximum(np.linalg.norm(ref, axis=1, keepdims=True), 1e-30)
        assert np.allclose(model.transform(queries), ref, atol=1e-4)
    assert emb.shape == (len(fit_texts), model.dims)
    assert np.allclose(emb, model.transform(fit_texts), atol=1e-5)


def test_tfidf_equals_sklearn_on_mixed_scripts_and_white_space() -> None:
    _check_against_sklearn(TEXTS, [*TEXTS, "完全未知的文字", "卖茶叶"])


def test_tfidf_equals_sklearn_on_synthetic_stories(small_pop) -> None:
    texts = list(small_pop.mentors.texts) * 4  # >= 1000 texts: min_df=2, and an SVD of 32 dims
    _check_against_sklearn(texts, list(small_pop.newcomers.texts[:200]))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="茶叶花椒 \t\nAbΣς🍵", max_size=12), min_size=4, max_size=12))
def test_tfidf_equals_sklearn_on_random_texts(texts: list[str]) -> None:
    if sum(1 for t in texts if t) < 4:
        assert fit_text_model(texts, seed=0) == (None, None)
        return
    _check_against_sklearn(texts, texts)


def test_small_and_chunked_transforms_agree(small_pop, monkeypatch) -> None:
    model, _ = fit_text_model(small_pop.mentors.texts, seed=0)
    texts = small_pop.newcomers.texts[:300]
    bulk = model.transform(texts)
    one_by_one = np.vstack([model.transform(texts[i : i + 1]) for i in range(len(texts))])
    monkeypatch.setattr(text_model, "CHUNK", 7)
    chunked = model.transform(texts)
    assert np.allclose(bulk, one_by_one, atol=1e-6) and np.allclose(bulk, chunked, atol=1e-6)
    assert np.allclose(np.linalg.norm(bulk, axis=1), 1.0, atol=1e-5)
    assert not model.transform(["", "zzz"]).any()  # nothing known -> zero rows


def test_too_little_text_gives_no_model() -> None:
    assert fit_text_model(("a", "", "b"), seed=0) == (None, None)
    assert fit_text_model(None, seed=0) == (None, None)
