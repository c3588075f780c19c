"""bot.retrieval.clustering: complete-linkage groups of similar questions, with a
deterministic fake encoder (character bigrams) and, once, the project's real encoder."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from bot.retrieval.clustering import DEFAULT_MIN_SIMILARITY, cluster_labels, cluster_texts


def unit(*rows: list[float]) -> np.ndarray:
    vectors = np.asarray(rows, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def bigram_encoder(texts: list[str]) -> np.ndarray:
    """A stand-in for the sentence encoder: hashed character bigrams, unit length."""
    vectors = np.zeros((len(texts), 257), dtype=np.float32)
    for row, text in enumerate(texts):
        for first, second in zip(text, text[1:]):
            vectors[row, zlib.crc32((first + second).encode()) % 256] += 1.0
        vectors[row, 256] = 0.01  # no zero rows
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def angle(degrees: float) -> list[float]:
    return [np.cos(np.radians(degrees)), np.sin(np.radians(degrees))]


def test_no_and_one_question() -> None:
    assert cluster_labels(np.zeros((0, 3))) == []
    assert cluster_labels(unit([1.0, 0.0])) == [0]
    assert cluster_texts([], bigram_encoder) == []


def test_groups_are_cut_at_the_similarity() -> None:
    # cos(10°) = 0.985, cos(40°) = 0.766
    vectors = unit(angle(0), angle(10), angle(90), angle(95))
    assert cluster_labels(vectors, 0.95) == [0, 0, 1, 1]
    assert cluster_labels(vectors, 0.999) == [0, 1, 2, 3]
    assert cluster_labels(vectors, -1.0) == [0, 0, 0, 0]


def test_complete_linkage_does_not_chain() -> None:
    # each neighbour is cos(15°) = 0.966 alike, the ends only cos(30°) = 0.866:
    # single linkage would make one group of all three
    vectors = unit(angle(0), angle(15), angle(30))
    labels = cluster_labels(vectors, 0.95)
    assert len(set(labels)) == 2
    for i in range(3):
        for j in range(3):
            if labels[i] == labels[j]:
                assert float(vectors[i] @ vectors[j]) >= 0.95


def test_groups_are_numbered_in_order_of_first_member() -> None:
    vectors = unit(angle(90), angle(0), angle(91), angle(1))
    assert cluster_labels(vectors, 0.99) == [0, 1, 0, 1]


def test_a_zero_vector_stays_alone() -> None:
    vectors = np.vstack([unit(angle(0), angle(1)), np.zeros((1, 2), dtype=np.float32)])
    assert cluster_labels(vectors, 0.9) == [0, 0, 1]


def test_cluster_texts_returns_indices_of_similar_texts() -> None:
    texts = ["证书丢了怎么补办", "证书丢了如何补办", "电子证书在哪里下载", "电子证书在哪下载"]
    groups = cluster_texts(texts, bigram_encoder, min_similarity=0.5)
    assert groups == [[0, 1], [2, 3]]
    assert cluster_texts(texts, bigram_encoder, min_similarity=0.999) == [[0], [1], [2], [3]]


@pytest.mark.slow
def test_the_real_encoder_groups_rephrasings_apart_from_another_question() -> None:
    from bot.lang.vocabulary import matching_form
    from bot.retrieval.embedding import get_encoder

    questions = ["河南证书邮寄要钱不", "河南证书邮寄要钱吗？？", "河南的证书寄过来要收费吗",
                 "今天中午食堂吃什么"]
    groups = cluster_texts([matching_form(q) for q in questions], get_encoder().encode, DEFAULT_MIN_SIMILARITY)
    together = next(group for group in groups if 0 in group)
    assert 1 in together, groups            # the same question with other particles
    assert [3] in groups, groups             # the canteen is nobody's neighbour
