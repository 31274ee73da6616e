"""The vectorised pair features (category indices, bit masks) equal the plain dense definitions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from matching import Policy, taxonomy
from matching.features import FeatureSpace, _row_normalise, pair_features
from matching.rerank import column, rerank_features
from matching.synthetic import generate_population


def _dense_share(n_flags: np.ndarray, m_flags: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", _row_normalise(n_flags), m_flags.astype(np.float32))


def test_pair_features_match_the_dense_definitions() -> None:
    pop = generate_population(300, 400, seed=4, with_display=False)
    mentors, newcomers = pop.mentors, pop.newcomers
    # Newcomers who named no channel or language ("no preference") and a mentor without any channel.
    channels, languages = newcomers.channels.copy(), newcomers.languages.copy()
    channels[:40], languages[20:60] = False, False
    newcomers = replace(newcomers, channels=channels, languages=languages)
    m_channels = mentors.channels.copy()
    m_channels[:5] = False
    mentors = replace(mentors, channels=m_channels)
    space = FeatureSpace.fit(mentors, Policy(), 0)
    rng = np.random.default_rng(0)
    m = rng.integers(0, len(mentors), 20_000)
    n = np.sort(rng.integers(0, len(newcomers), 20_000))
    got = pair_features(space, mentors, newcomers, m, n, chunk=4096)

    n_bin, m_bin = newcomers.dense_categories(n), mentors.categories.toarray().astype(np.float32)[m]
    product = np.einsum("ij,ij->i", _row_normalise(n_bin) @ space.compat, _row_normalise(m_bin))
    assert np.allclose(got[:, 0], product, atol=1e-6)
    assert np.allclose(got[:, 1], _dense_share(newcomers.resources[n], mentors.resources[m]), atol=1e-6)
    assert np.allclose(got[:, 2], _dense_share(newcomers.channels[n], mentors.channels[m]), atol=1e-6)
    assert np.allclose(got[:, 3], _dense_share(newcomers.languages[n], mentors.languages[m]), atol=1e-6)
    identical = np.einsum("ij,ij->i", n_bin, m_bin) > 0
    same_pref = newcomers.county[n] // 100 == mentors.county[m] // 100
    assert np.array_equal(got[:, 7] > 0, identical & same_pref)
    assert np.array_equal(got[:, 8:] > 0, newcomers.resources[n] & mentors.resources[m])

    feats = rerank_features(space, mentors, newcomers, m, n, Policy())
    chain = n_bin @ taxonomy.chain_link_matrix().astype(np.float32)
    linked = np.einsum("ij,ij->i", chain, m_bin) > 0
    groups = np.array([taxonomy.group_index()[c.parent] for c in taxonomy.CATEGORIES])
    n_groups = np.zeros((len(n), groups.max() + 1), bool)
    m_groups = np.zeros_like(n_groups)
    for c in range(len(groups)):
        n_groups[:, groups[c]] |= n_bin[:, c] > 0
        m_groups[:, groups[c]] |= m_bin[:, c] > 0
    same_group = (n_groups & m_groups).any(axis=1)
    assert np.array_equal(feats[:, column("same_product")] > 0, identical)
    assert np.array_equal(feats[:, column("chain_link")] > 0, linked & ~identical)
    assert np.array_equal(feats[:, column("sibling")] > 0, same_group & ~identical & ~linked)
    perish = (n_bin * taxonomy.perishability()[None, :]).max(axis=1)
    assert np.array_equal(feats[:, column("perishable")], perish)
    assert np.array_equal(
        feats[:, column("uncovered_needs")], (newcomers.resources[n] & ~mentors.resources[m]).sum(axis=1)
    )
