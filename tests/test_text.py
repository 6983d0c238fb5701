"""The news task: strict reading, publisher selection, tokens, word2vec, pretrained vectors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from reprolab.core import params, paths
from reprolab.core.errors import UserError
from reprolab.core.files import sha256_of
from reprolab.data.features.text import (
    Hashing,
    TextEncoder,
    Vectors,
    encode,
    save_encoder,
    tokenize,
    train_word2vec,
)
from reprolab.data.tasks import news
from reprolab.data.tasks.base import TARGET
from reprolab.learning.model_file import text_encoder
from stages.evaluate import evaluate
from stages.featurize import featurize
from stages.publish import publish
from stages.train import train
from tests.conftest import ROOT, run_stages
from tests.helpers import fixtures


def write_zip(tmp_path, lines):
    fixtures.news_zip(tmp_path / news.SOURCE.filename, lines)
    return tmp_path


def test_titles_are_read_verbatim_and_empty_fields_tolerated(tmp_path):
    rows = news.read(write_zip(tmp_path, fixtures.news_lines(30)))["all"]
    assert len(rows) == 30 and rows.index[0] == 1
    assert rows["title"].iloc[0].startswith('"') and rows["title"].iloc[0].endswith("...")
    assert set(rows[TARGET]) == {0, 1, 2, 3}


def test_a_wrong_field_count_names_the_line(tmp_path):
    lines = fixtures.news_lines(10)
    lines[6] += "\textra"
    with pytest.raises(UserError, match=r"newsCorpora.csv: line 7: 9 fields, expected 8"):
        news.read(write_zip(tmp_path, lines))


def test_an_unknown_category_names_the_line(tmp_path):
    lines = fixtures.news_lines(10)
    fields = lines[2].split("\t")
    fields[4] = "x"
    lines[2] = "\t".join(fields)
    with pytest.raises(UserError, match=r"line 3: unknown category 'x'"):
        news.read(write_zip(tmp_path, lines))


def test_publishers_are_selected_by_params(tmp_path):
    rows = news.read(write_zip(tmp_path, fixtures.news_lines(60)))["all"]
    split = news.NewsSplit(val=0.1, test=0.1, random_state=123, publishers=["Reuters", "Daily Mail"])
    assert set(news.select(rows, split)["publisher"]) == {"Reuters", "Daily Mail"}
    with pytest.raises(UserError, match="no row has any of"):
        news.select(rows, news.NewsSplit(val=0.1, test=0.1, random_state=1, publishers=["Nobody"]))


def test_tokenize_like_the_classic_exercise():
    assert tokenize('Fed\'s "Yellen": rates—up, U.S. stocks...', lowercase=True) == [
        "fed", "s", "yellen", "rates—up", "u", "s", "stocks",
    ]  # fmt: skip
    assert tokenize("Apple iPhone", lowercase=False) == ["Apple", "iPhone"]


def test_mean_vectors_zero_rows_and_oov_rate():
    vectors = Vectors(["a", "b"], np.array([[1.0, 0.0], [0.0, 2.0]], np.float32))
    means, tokens, stats = encode([["a", "b", "zz"], ["zz"], ["b"]], vectors)
    assert means.tolist() == [[0.5, 1.0], [0.0, 0.0], [0.0, 2.0]]
    assert tokens.tolist() == [[0, 1], [2, 2], [1, 2]]  # padded with the vocabulary size
    assert stats == {"oov_rate": pytest.approx(2 / 5), "no_known_word": 1}


def test_word2vec_repeats_itself():
    sentences = [tokenize(line.split("\t")[1], True) for line in fixtures.news_lines(50)]
    runs = [
        train_word2vec(sentences, vector_size=8, window=3, min_count=1, epochs=3, sg=True, seed=5) for _ in range(2)
    ]
    assert runs[0].words == runs[1].words and np.array_equal(runs[0].vectors, runs[1].vectors)


def use_pretrained(workdir, vectors_file, **pretrained):
    data = yaml.safe_load((workdir / "params.yaml").read_text())
    data["tasks"]["news"]["features"]["pretrained"] = {"binary": True, **pretrained}
    data["tasks"]["news"]["model"]["name"] = "bag"
    (workdir / "params.yaml").write_text(yaml.safe_dump(data))


@pytest.fixture
def word2vec_binary(tmp_path):
    """A small word2vec binary file, as GoogleNews-vectors-negative300.bin is."""
    from gensim.models import KeyedVectors

    words = sorted({w for group in fixtures.NEWS_WORDS.values() for w in group} | {"unused"})
    vectors = KeyedVectors(vector_size=6)
    rng = np.random.default_rng(0)
    vectors.add_vectors(words, rng.normal(size=(len(words), 6)).astype(np.float32))
    path = tmp_path / "vectors.bin"
    vectors.save_word2vec_format(str(path), binary=True)
    return path


def test_pretrained_vectors_from_a_path_feed_the_bag_model(workdir, word2vec_binary):
    use_pretrained(workdir, word2vec_binary, path=str(word2vec_binary), sha256=sha256_of(word2vec_binary))
    from stages.download import download
    from stages.split import split

    run_stages("news", download, split, featurize, train, evaluate, publish)
    encoder = text_encoder(paths.features("news") / paths.TEXT_ENCODER, "featurize@news")
    vocab = encoder["vocab"]
    assert "stocks" in vocab and "unused" not in vocab  # restricted to the training titles
    assert encoder["vectors"].shape == (len(vocab), 6)
    details = json.loads((paths.reports("news") / "details.json").read_text())
    assert details["metrics"]["test"]["oov_rate"] > 0  # "the", "a", "of" have no vector
    assert set(details["metrics"]["test"]["per_class"]) == set(news.CLASS_NAMES)
    assert details["sources"]["NewsAggregatorDataset.zip"]["vouched_by"].startswith("none")


def test_a_pretrained_file_with_another_checksum_is_refused(workdir, word2vec_binary):
    use_pretrained(workdir, word2vec_binary, path=str(word2vec_binary), sha256="0" * 64)
    from stages.download import download
    from stages.split import split

    with pytest.raises(UserError, match="pretrained.sha256"):
        run_stages("news", download, split, featurize)


def test_a_pretrained_path_needs_a_checksum():
    with pytest.raises(UserError, match="a path needs its sha256"):
        data = yaml.safe_load((ROOT / "params.yaml").read_text())
        data["tasks"]["news"]["features"]["pretrained"] = {"path": "vectors.bin"}
        params.validate(data, {"news": news.TASK})


def test_a_user_can_pin_the_news_archive(workdir, mirror_dir):
    from stages.download import download

    data = yaml.safe_load((workdir / "params.yaml").read_text())
    data["tasks"]["news"]["source"] = {"sha256": "0" * 64}
    (workdir / "params.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(UserError, match="NewsAggregatorDataset.zip from .*: checksum mismatch"):
        run_stages("news", download)
    assert not paths.raw("news").exists()
    data["tasks"]["news"]["source"] = {"sha256": sha256_of(mirror_dir / "NewsAggregatorDataset.zip")}
    (workdir / "params.yaml").write_text(yaml.safe_dump(data))
    run_stages("news", download)
    seen = json.loads((paths.raw("news") / "sources.json").read_text())["NewsAggregatorDataset.zip"]
    assert seen["vouched_by"] == "pin"


def test_hashed_ngrams_are_fasttexts_word_and_character_grams_in_fixed_buckets():
    hashing = Hashing(ngrams=2, chars=(3, 4), buckets=1000)
    ids = hashing.ids(["apple", "shares"])
    # 2 words + 1 bigram + char 3-grams (5 + 6) and 4-grams (4 + 5) of <apple> and <shares>
    assert len(ids) == 3 + 11 + 9 and all(0 <= i < 1000 for i in ids)
    assert hashing.ids(["apple", "shares"]) == ids  # no process-salted hash: the same in every run
    assert Hashing(2, (), 1000).ids(["apple", "shares"]) == ids[:3]
    assert set(hashing.ids(["apples"])) & set(ids)  # an unseen word shares grams with a seen one
    padded = hashing.encode([["apple"], ["apple", "shares"], []])
    assert padded.shape == (3, len(ids)) and (padded[2] == 1000).all()
    assert (padded[0, 10:] == 1000).all()  # apple: 1 word + 5 + 4 character grams


def test_the_text_encoder_kept_in_a_model_file_encodes_as_when_fit(tmp_path):
    """featurize fits it, the model file keeps it as plain types and tensors, predict reads it
    back: the same mean vectors (standardized with the training titles'), ids and n-grams."""
    training = ["Fed rates", "Apple", "fed apple rates"]
    vectors = Vectors(["fed", "rates", "apple"], np.arange(12, dtype=np.float32).reshape(3, 4))
    encoder = TextEncoder(True, vectors, Hashing(2, (2, 3), 101)).standardized(training)
    save_encoder(encoder, tmp_path / paths.TEXT_ENCODER)
    again = TextEncoder.from_dict(text_encoder(tmp_path / paths.TEXT_ENCODER, "featurize@news"))
    titles = ["Fed: rates up", "Apple", "nothing known"]
    (fit, stats), (read, _) = encoder.encode(titles), again.encode(titles)
    for key in ("x", "tokens", "ngrams"):
        assert np.array_equal(fit[key], read[key]), key
    assert stats["no_known_word"] == 1
    assert np.allclose(encoder.encode(training)[0]["x"].mean(axis=0), 0.0, atol=1e-6)
