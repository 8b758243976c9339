"""The `translate` task end to end through ``rnnkit.cli.main``: a Multi30k slice (train,
metrics, attention plot, evaluate, predict, resume), BLEU and decoding checked against
sacrebleu and unbatched greedy decoding, the multi30k-de-en recipe on the real data, and bad
inputs stopping with one line before anything is written."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch
from sacrebleu.metrics import BLEU

from rnnkit.cli import main
from rnnkit.tasks.budget import sized_budget
from rnnkit.tasks.runner import load_run, make_config
from rnnkit.tasks.translate import TASK, Batches, tokenize, translate_ids

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ["--hidden-size", "16", "--embedding-dim", "16", "--batch-size", "64", "--min-freq", "1"]
SPLITS = {"train": "train", "val": "val", "test_2016_flickr": "test_2016_flickr"}


def run(capsys, *argv: object) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def pairs(tmp_path, data_dir):
    """The first 300 (train) / 30 (val, test) Multi30k pairs, named like the real ones."""
    folder = tmp_path / "m30k"
    folder.mkdir()
    for split, count in (("train", 300), ("val", 30), ("test_2016_flickr", 30)):
        for lang in ("de", "en"):
            name = f"{split}.lc.norm.tok.{lang}"
            lines = (data_dir / "multi30k/tok" / name).read_text().splitlines()[:count]
            (folder / name).write_text("\n".join(lines) + "\n")
    return folder


def pair_options(folder) -> list[object]:
    return ["--pair-dir", folder, "--src-lang", "de", "--tgt-lang", "en",
            "--valid-split", "val", "--test-split", "test_2016_flickr"]  # fmt: skip


def test_slice_train_metrics_plot_evaluate_predict_resume(tmp_path, pairs, capsys):
    out = tmp_path / "run"
    status, printed, err = run(
        capsys, "train", "translate", *pair_options(pairs), *TINY, "--epochs", "2",
        "--beam-size", "2", "--out", out,
    )  # fmt: skip
    assert status == 0, err
    assert "valid ppl" in printed and "beam BLEU" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    for split in ("valid", "test"):
        assert metrics[f"{split}_examples"] == 30
        assert 0.0 <= metrics[f"{split}_bleu_greedy"] <= 100.0
        assert 0.0 <= metrics[f"{split}_bleu_beam"] <= 100.0
        assert math.isclose(metrics[f"{split}_ppl"], math.exp(metrics[f"{split}_loss"]))
    assert "tok:none" in metrics["bleu_signature"]
    assert {"src_vocab.json", "tgt_vocab.json", "model.safetensors"} <= {
        p.name for p in out.iterdir()
    }
    assert (out / "plots/attention.png").stat().st_size > 1000

    # predict = beam search of each source line; its BLEU is the test_bleu_beam of metrics
    source = pairs / "test_2016_flickr.lc.norm.tok.de"
    references = (pairs / "test_2016_flickr.lc.norm.tok.en").read_text().splitlines()
    status, printed, err = run(capsys, "predict", out, "--input", source)
    assert status == 0, err
    hypotheses = printed.splitlines()
    assert len(hypotheses) == 30
    oracle = BLEU(tokenize="none").corpus_score(hypotheses, [references]).score
    assert math.isclose(oracle, metrics["test_bleu_beam"], rel_tol=1e-9)
    # a blank line is answered by a blank line: the answers stay line for line
    gappy = tmp_path / "gappy.de"
    lines = source.read_text().splitlines()[:3]
    gappy.write_text(f"{lines[0]}\n\n{lines[1]}\n  \n{lines[2]}\n")
    status, printed, err = run(capsys, "predict", out, "--input", gappy)
    assert status == 0, err
    assert printed.split("\n") == [*hypotheses[:1], "", hypotheses[1], "", hypotheses[2], ""]

    # evaluate: the test split by default, or a source file with its .en twin
    status, printed, err = run(capsys, "evaluate", out)
    assert status == 0, err
    evaluated = json.loads(printed)
    assert math.isclose(evaluated["bleu_beam"], metrics["test_bleu_beam"], rel_tol=1e-9)
    assert math.isclose(evaluated["loss"], metrics["test_loss"], rel_tol=1e-5)
    status, printed, err = run(capsys, "evaluate", out, "--data", pairs / "val.lc.norm.tok.de")
    assert status == 0, err
    assert math.isclose(json.loads(printed)["bleu_greedy"], metrics["valid_bleu_greedy"])

    # resume to 3 epochs
    status, _, err = run(capsys, "train", "translate", "--resume", out, "--epochs", "3")
    assert status == 0, err
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 3
    assert len((out / "log.csv").read_text().splitlines()) == 4


def test_batched_decoding_equals_one_sentence_at_a_time(tmp_path, pairs, capsys):
    out = tmp_path / "run"
    status, _, err = run(
        capsys, "train", "translate", *pair_options(pairs), *TINY, "--epochs", "1",
        "--attention", "luong-general", "--out", out,
    )  # fmt: skip
    assert status == 0, err
    loaded = load_run(str(out))
    prepared = TASK.prepare(loaded.config, loaded.artifacts)
    sentences = prepared.valid.src[:25]
    batched = translate_ids(loaded.model, sentences, 0, beam_size=1, length_penalty=0.0)
    for ids, sentence in zip(batched, sentences, strict=True):
        alone = loaded.model.greedy_decode(torch.tensor([sentence]), torch.tensor([len(sentence)]))
        expected = alone.tokens[0, : int(alone.lengths[0])].tolist()
        assert ids == [t for t in expected if t != loaded.model.eos_index]


def test_batches_cover_every_pair_once_with_similar_lengths(tmp_path, pairs, capsys):
    config = make_config(TASK, {"pair_dir": str(pairs), "src_lang": "de", "tgt_lang": "en",
                                "valid_split": "val", "batch_size": 32})  # fmt: skip
    prepared = TASK.prepare(config, None)
    corpus = prepared.train
    # 10 batches an epoch: 3000 updates are 300 epochs, patience 50 (2000 pairs of Multi30k,
    # 16 updates an epoch: BLEU 9.0 after the default 10 epochs, 16.7 with 188)
    assert sized_budget(config, len(corpus)) == {"epochs": 300, "patience": 50}
    batches = TASK.batches(config, corpus, generator=torch.Generator().manual_seed(1))
    assert isinstance(batches, Batches)
    first, second = batches.order(), batches.order()
    for order in (first, second):
        assert sorted(i for batch in order for i in batch) == list(range(300))
    assert first != second  # a fresh order each pass
    batch = next(iter(batches))
    assert batch["num_tokens"] == int(batch["tgt_lengths"].sum()) + len(batch["tgt_lengths"])
    # 10 batches, one pool sorted by (target, source) length: the batches' ranges never overlap
    ranges = sorted((min(batches.lengths[i] for i in b), max(batches.lengths[i] for i in b))
                    for b in first)  # fmt: skip
    assert all(high <= low for (_, high), (low, _) in itertools.pairwise(ranges))
    assert batches.lengths[0] == len(corpus.tgt[0]) * (max(map(len, corpus.src)) + 1) + len(
        corpus.src[0]
    )


def test_tokenize_splits_punctuation_only_when_asked():
    assert tokenize(["a", "dog."], "space") == ["a", "dog."]
    assert tokenize(["a", "dog.", "it's"], "punct") == ["a", "dog", ".", "it", "'", "s"]


def test_tokenize_auto_splits_punctuation_off_raw_text_only(tmp_path, pairs, capsys):
    """Raw sentences ("Two dogs." a line) are read with punct, tokenised files with space; the
    choice is kept in config.json, so predict splits as training did."""
    raw = tmp_path / "raw.txt"
    raw.write_text("Go.\tVa !\nHi, you.\tSalut, toi.\nRun!\tCours !\n" * 20)
    for train, how in ((raw, "punct"), (None, "space")):
        data = ["--train", train] if train is not None else pair_options(pairs)
        out = tmp_path / how
        status, printed, err = run(
            capsys, "train", "translate", *data, *TINY, "--epochs", "1", "--beam-size", "1",
            "--min-updates", "0", "--out", out,
        )  # fmt: skip
        assert status == 0, err
        assert f"tokenize: {how} (" in printed
        assert json.loads((out / "config.json").read_text())["tokenize"] == how
    vocab = json.loads((tmp_path / "punct" / "src_vocab.json").read_text())["tokens"]
    assert {"Go", ".", "Hi", ",", "Run", "!"} <= set(vocab) and "Go." not in vocab
    # predict writes text: the marks joined back to their words
    status, printed, err = run(capsys, "predict", tmp_path / "punct", "--input", raw)
    assert status == 0 and len(printed.splitlines()) == 60, err
    assert not any(mark in printed for mark in (" .", " ,", " !")), printed
    config = make_config(TASK, {"train": str(raw), "tokenize": "space"})
    assert "tokenize" not in TASK.prepare(config, None).chosen  # given: not told from the text


def test_recipe_config_and_prepare_on_the_real_data(data_dir):
    config = make_config(TASK, {}, recipe="multi30k-de-en", data_dir=str(data_dir))
    assert config["attention"] == "bahdanau" and config["bidirectional"] and config["lowercase"]
    assert config["tokenize"] == "space"
    assert "sized_by_data" not in config  # the recipe gives --epochs and --patience
    prepared = TASK.prepare(config, None)
    assert (len(prepared.train), len(prepared.valid), len(prepared.test)) == (29000, 1014, 1000)
    assert prepared.test.source.endswith("test_2016_flickr.lc.norm.tok.de")
    assert prepared.valid.source.endswith("val.lc.norm.tok.de")
    assert (
        prepared.valid.target_tokens[0]
        == (data_dir / "multi30k/tok/val.lc.norm.tok.en").read_text().splitlines()[0].split()
    )
    assert TASK.recipes["multi30k-de-en"].bars == {"test_bleu_beam": 30.0}


def test_line_count_mismatch_stops_before_training(tmp_path, capsys):
    src, tgt = tmp_path / "train.de", tmp_path / "train.en"
    src.write_text("ein hund .\nzwei katzen .\ndrei vögel .\n")
    tgt.write_text("a dog .\ntwo cats .\n")
    out = tmp_path / "run"
    status, _, err = run(
        capsys, "train", "translate", "--train-src", src, "--train-tgt", tgt,
        "--valid-src", src, "--valid-tgt", tgt, *TINY, "--out", out,
    )  # fmt: skip
    assert status == 2
    assert len(err.strip().splitlines()) == 1
    assert f"{src} has 3 lines but {tgt} has 2" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--attention", "luong-dot"], "--attention luong-dot needs"),
        (["--train-src", "X"], "cannot be combined with --pair-dir"),
        (["--valid-split", "dev"], "no file matches 'dev.*.de'"),
    ],
)
def test_bad_options_stop_with_one_line(tmp_path, pairs, capsys, extra, message):
    options = pair_options(pairs)
    if "--valid-split" in extra:
        options = options[:6] + options[8:]
    if "--train-src" in extra:
        extra = ["--train-src", pairs / "train.lc.norm.tok.de"]
    out = tmp_path / "run"
    status, _, err = run(capsys, "train", "translate", *options, *extra, *TINY, "--out", out)
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not out.exists()


def test_without_validation_files_a_tenth_of_the_training_pairs_is_held_out(
    tmp_path, pairs, capsys
):
    """As every other task does with --valid-fraction (before, --valid-src was required): 30
    of the 300 pairs, the same ones for the same seed, also for evaluate."""
    src = pairs / "train.lc.norm.tok.de"
    tgt = pairs / "train.lc.norm.tok.en"
    argv = ["train", "translate", "--train-src", src, "--train-tgt", tgt, *TINY, "--epochs", "1"]
    status, printed, err = run(capsys, *argv, "--out", tmp_path / "run")
    assert status == 0, err
    assert f"train: 270 sentence pairs from {src}" in printed
    assert f"valid: 30 sentence pairs from {src} (held out)" in printed
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    status, printed, err = run(capsys, "evaluate", tmp_path / "run")
    assert status == 0, err
    assert json.loads(printed)["loss"] == pytest.approx(metrics["valid_loss"], rel=1e-5)
    status, _, err = run(capsys, *argv, "--valid-fraction", "0", "--out", tmp_path / "none")
    assert status == 2 and "--valid-fraction must be > 0 without --valid-src" in err


def test_a_file_of_tab_separated_pairs_trains_evaluates_and_predicts(tmp_path, pairs, capsys):
    """Tatoeba/Anki style: English, German and an attribution a line, the German the source
    (--src-column 1): the same pairs as the two-file run, so the same held-out tenth."""
    src = (pairs / "train.lc.norm.tok.de").read_text().splitlines()
    tgt = (pairs / "train.lc.norm.tok.en").read_text().splitlines()
    table = tmp_path / "deu.txt"
    table.write_text(
        "".join(
            f"{e}\t{d}\tCC-BY 2.0 #{i}\n" for i, (d, e) in enumerate(zip(src, tgt, strict=True))
        )
    )
    out = tmp_path / "run"
    argv = ["train", "translate", "--train", table, "--src-column", "1", "--tgt-column", "0"]
    status, printed, err = run(capsys, *argv, *TINY, "--epochs", "1", "--out", out)
    assert status == 0, err
    assert f"train: 270 sentence pairs from {table}" in printed
    assert f"valid: 30 sentence pairs from {table} (held out)" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    status, printed, err = run(capsys, "evaluate", out)
    assert status == 0, err
    assert json.loads(printed)["loss"] == pytest.approx(metrics["valid_loss"], rel=1e-5)
    status, printed, err = run(capsys, "evaluate", out, "--data", table)
    assert status == 0 and json.loads(printed)["examples"] == 300, err
    # predict reads plain source lines, and pair lines by their source column
    plain = tmp_path / "plain.de"
    plain.write_text("\n".join(src[:5]) + "\n")
    status, from_plain, err = run(capsys, "predict", out, "--input", plain)
    assert status == 0, err
    head = tmp_path / "head.txt"
    head.write_text("".join(table.read_text().splitlines(keepends=True)[:5]))
    status, from_pairs, err = run(capsys, "predict", out, "--input", head)
    assert status == 0 and from_pairs == from_plain and len(from_plain.splitlines()) == 5, err
    # as pandas writes a slice of them: a header, and the index of the rows it kept (read
    # by train and evaluate; predict answered the header and translated the row numbers)
    frame = tmp_path / "frame.tsv"
    rows = [
        f"{i + 7}\t{e}\t{d}\t#{i}\n" for i, (d, e) in enumerate(zip(src[:5], tgt, strict=False))
    ]
    frame.write_text("\ten\tde\tnote\n" + "".join(rows))
    status, from_frame, err = run(capsys, "predict", out, "--input", frame)
    assert status == 0 and from_frame == from_plain, err
    base = ["train", "translate", "--train", table, *TINY, "--out", tmp_path / "x"]
    for extra, message in (
        (["--train-src", plain], "--train-src cannot be combined with --train"),
        (["--src-column", "1", "--tgt-column", "1"], "--src-column and --tgt-column are both 1"),
    ):
        status, _, err = run(capsys, *base, *extra)
        assert status == 2 and message in err and not (tmp_path / "x").exists(), err


def test_a_pair_dir_without_validation_files_holds_pairs_out_of_train(tmp_path, pairs):
    folder = tmp_path / "only_train"
    folder.mkdir()
    for lang in ("de", "en"):
        name = f"train.lc.norm.tok.{lang}"
        (folder / name).write_text((pairs / name).read_text())
    config = make_config(TASK, {"pair_dir": str(folder), "src_lang": "de", "tgt_lang": "en",
                                "valid_fraction": 0.1})  # fmt: skip
    prepared = TASK.prepare(config, None)
    assert (len(prepared.train), len(prepared.valid)) == (270, 30) and prepared.test is None
