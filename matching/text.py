"""Free-text embedding: character 1-2-gram TF-IDF (works for Chinese, no downloaded model) + truncated SVD.

The features are those of scikit-learn's TfidfVectorizer(analyzer="char", ngram_range=(1, 2),
sublinear_tf=True, smooth idf, l2 norm): lower-cased, runs of white space collapsed to one space,
vocabulary sorted by term. Counting is vectorised over the code points of all texts at once instead of
building one Python string per n-gram, which made scikit-learn's version the slowest step of a matching
run (about 3 s for 100k newcomers; this takes a few hundred ms). tests/matching/test_text.py checks the
two agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from threadpoolctl import threadpool_limits

from matching.threads import map_parallel

TEXT_DIMS = 32
MAX_FEATURES = 20_000
SVD_SAMPLE = 50_000  # rows the SVD is fitted on: a sample is enough for the topic directions
SMALL = 16  # up to this many texts, transform() skips the sparse matrix
CHUNK = 50_000  # texts per transform step: bounds the n-gram arrays to a few hundred MB
_SHIFT = 22  # code points are < 2**21; a bigram's key is (first << _SHIFT) | (second + 1)
_WHITE_SPACES = re.compile(r"\s\s+")  # as scikit-learn's char analyzer


def _code_points(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Code points (int64) of all normalised texts, concatenated, and each text's start (n + 1 offsets)."""
    docs = [_WHITE_SPACES.sub(" ", t.lower()) for t in texts]
    offsets = np.zeros(len(docs) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, docs), np.int64, len(docs)), out=offsets[1:])
    joined = "".join(docs).encode("utf-32-le", "surrogatepass")
    return np.frombuffer(joined, dtype=np.uint32).astype(np.int64), offsets


def ngram_keys(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(text position, key) of every character unigram and bigram.

    Keys sort like the n-gram strings: unigram c -> c << 22, bigram ab -> (a << 22) | (b + 1).
    """
    cps, offsets = _code_points(texts)
    doc = np.repeat(np.arange(len(texts), dtype=np.int64), np.diff(offsets))
    uni = cps << _SHIFT
    last = np.zeros(len(cps), dtype=bool)  # a bigram starts anywhere but at a text's last character
    ends = offsets[1:][offsets[1:] > offsets[:-1]]
    last[ends - 1] = True
    start = np.flatnonzero(~last)
    bi = uni[start] | (cps[start + 1] + 1)
    return np.concatenate([doc, doc[start]]), np.concatenate([uni, bi])


def _tfidf(doc: np.ndarray, col: np.ndarray, n_docs: int, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear-tf x idf CSR matrix from (text, column) occurrences (not row-normalised)."""
    x = sp.csr_matrix(
        (np.ones(len(doc), dtype=np.float32), (doc, col)), shape=(n_docs, len(idf)), dtype=np.float32
    )
    x.sum_duplicates()
    np.log(x.data, out=x.data)
    x.data += 1.0
    x.data *= idf[x.indices]
    return x


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """np.unique by sorting (NumPy 2's hash-based unique is several times slower on millions of ints)."""
    a = np.sort(a)
    return a[np.concatenate([[True], a[1:] != a[:-1]])] if len(a) else a


def _l2_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


@dataclass(frozen=True, eq=False)
class TextModel:
    """Fitted vocabulary (sorted n-gram keys), idf weights and SVD projection."""

    terms: np.ndarray  # (V,) int64 sorted n-gram keys; column j is terms[j]
    idf: np.ndarray  # (V,) float32
    projection: np.ndarray  # (V, dims) float32: SVD components transposed, or the identity if V <= dims

    @property
    def dims(self) -> int:
        """Width of the text embedding."""
        return self.projection.shape[1]

    def occurrences(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(text position, vocabulary column) of every known n-gram occurrence."""
        doc, key = ngram_keys(texts)
        col = np.searchsorted(self.terms, key)
        col[col == len(self.terms)] = 0
        known = self.terms[col] == key
        return doc[known], col[known]

    def tfidf(self, texts: Sequence[str]) -> sp.csr_matrix:
        """(n, V) TF-IDF rows (sublinear tf, idf; not normalised: transform() normalises after projecting)."""
        return _tfidf(*self.occurrences(texts), len(texts), self.idf)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dims) float32 unit vectors (zero rows for texts without a known n-gram)."""
        # Scaling a row before the (linear) projection does not change its unit-normalised image, so the
        # TF-IDF l2 normalisation is skipped here.
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        if len(texts) <= SMALL:  # recommend(): building a sparse matrix would cost more than the rest
            doc, col = self.occurrences(texts)
            pair, count = np.unique(doc * len(self.terms) + col, return_counts=True)
            doc, col = pair // len(self.terms), pair % len(self.terms)
            weight = (np.log(count.astype(np.float32)) + 1.0) * self.idf[col]
            np.add.at(out, doc, weight[:, None] * self.projection[col])
            return _l2_rows(out)
        # Chunks are independent (each row's n-grams, sums and product are its own), and most of their
        # work is NumPy and SciPy code that releases the GIL: they run on the worker threads.
        starts = range(0, len(texts), CHUNK)
        parts = map_parallel(self._project, [texts[s : s + CHUNK] for s in starts])
        for start, emb in zip(starts, parts, strict=True):
            out[start : start + len(emb)] = emb
        return _l2_rows(out)

    def _project(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dims) projected TF-IDF rows of some texts, not normalised."""
        return self.tfidf(texts) @ self.projection


def fit_text_model(
    texts: Sequence[str] | None, seed: int
) -> tuple[TextModel, np.ndarray] | tuple[None, None]:
    """Fit on the mentors' texts; returns (model, their (n, dims) embedding), or (None, None) when there
    is too little text to learn from."""
    if not texts or sum(1 for t in texts if t) < 4:
        return None, None
    doc, key = ngram_keys(texts)
    terms = _sorted_unique(key)
    if len(terms) == 0:
        return None, None
    term_of = np.searchsorted(terms, key)
    tf = np.bincount(term_of, minlength=len(terms))
    df = np.bincount(_sorted_unique(term_of * len(texts) + doc) // len(texts), minlength=len(terms))
    keep = np.flatnonzero(df >= (2 if len(texts) >= 1000 else 1))
    if len(keep) == 0:
        return None, None
    if len(keep) > MAX_FEATURES:  # the most frequent n-grams; ties by term, so the choice is deterministic
        keep = np.sort(keep[np.lexsort((terms[keep], -tf[keep]))[:MAX_FEATURES]])
    column = np.full(len(terms), -1, dtype=np.int64)
    column[keep] = np.arange(len(keep))
    n = len(texts)
    idf = (np.log(np.float32(n + 1) / (df[keep] + 1).astype(np.float32)) + 1.0).astype(np.float32)
    known = column[term_of] >= 0
    x = _tfidf(doc[known], column[term_of][known], n, idf)
    row_len = np.diff(x.indptr)
    norms = np.sqrt(np.bincount(np.repeat(np.arange(n), row_len), weights=x.data**2, minlength=n))
    x.data /= np.repeat(np.where(norms > 0, norms, 1.0).astype(np.float32), row_len)  # l2 rows
    if len(keep) <= TEXT_DIMS:
        model = TextModel(terms[keep], idf, np.eye(len(keep), dtype=np.float32))
        return model, _l2_rows(x.toarray().astype(np.float32))
    svd = TruncatedSVD(n_components=TEXT_DIMS, random_state=seed, n_iter=4)
    # Its dense steps are small (rows x 42): BLAS threads cost more than they save (half the fit's wall
    # time on a busy 2-core machine), and on one thread the model no longer depends on the thread count.
    with threadpool_limits(limits=1, user_api="blas"):
        svd.fit(x[: min(n, SVD_SAMPLE)])
    model = TextModel(terms[keep], idf, np.ascontiguousarray(svd.components_.T, dtype=np.float32))
    return model, _l2_rows((x @ model.projection).astype(np.float32))
