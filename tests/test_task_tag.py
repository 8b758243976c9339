"""The `tag` task end to end through ``rnnkit.cli.main``: ATIS slices (seq.in/seq.out/label),
CoNLL files (with -DOCSTART-, Chinese characters), evaluate / predict / resume, the atis
recipe on the real data, and bad inputs stopping with FILE:LINE before any training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rnnkit.cli import main
from rnnkit.metrics.tagging import entity_scores
from rnnkit.structures.joint_tagger import UNKNOWN_INTENT, JointTagger
from rnnkit.tasks.budget import describe_budget, sized_budget
from rnnkit.tasks.runner import make_config
from rnnkit.tasks.tag import TASK, _looks_like_conll, split_text

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ["--hidden-size", "8", "--embedding-dim", "8", "--batch-size", "16"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def write_slice(data_dir, target, split: str, count: int):
    """The first ``count`` sentences of an ATIS split, as a seq folder in ``target``."""
    target.mkdir(parents=True)
    for name in ("seq.in", "seq.out", "label"):
        lines = (data_dir / "atis" / split / name).read_text().splitlines()[:count]
        (target / name).write_text("\n".join(lines) + "\n")
    return target


@pytest.fixture
def atis(tmp_path, data_dir):
    root = tmp_path / "atis"
    return {
        split: write_slice(data_dir, root / split, split, count)
        for split, count in (("train", 200), ("valid", 40), ("test", 40))
    }


def read_json(path):
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------- ATIS slice
def test_atis_slice_train_evaluate_predict_resume(tmp_path, atis, capsys):
    out = tmp_path / "run"
    common = ["--train", atis["train"], "--valid", atis["valid"], "--test", atis["test"]]
    status, _, err = run(
        capsys,
        "train",
        "tag",
        *common,
        *TINY,
        *"--epochs 1 --char-features --intent-pooling attention --out".split(),
        out,
    )
    assert status == 0, err
    metrics = read_json(out / "metrics.json")
    for key in "test_precision test_recall test_f1 test_intent_accuracy test_accuracy".split():
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["test_examples"] == 40
    labels = read_json(out / "labels.json")
    assert labels["scheme"] == "BIO" and "atis_flight" in labels["intents"]
    assert {"vocab.json", "chars.json", "model.safetensors"} <= {p.name for p in out.iterdir()}

    # predict: one line per sentence, a tag per token, then the intent after a tab
    sentences = (atis["test"] / "seq.in").read_text().splitlines()
    status, printed, err = run(capsys, "predict", out, "--input", atis["test"] / "seq.in")
    assert status == 0, err
    lines = printed.splitlines()
    assert len(lines) == len(sentences)
    predicted_tags, predicted_intents = [], []
    for line, sentence in zip(lines, sentences, strict=True):
        tags, intent = line.split("\t")
        assert len(tags.split()) == len(sentence.split())
        assert set(tags.split()) <= set(labels["tags"]) and intent in labels["intents"]
        predicted_tags.append(tags.split())
        predicted_intents.append(intent)

    # evaluate = seqeval's scores of exactly those predictions against the gold files
    gold_tags = [line.split() for line in (atis["test"] / "seq.out").read_text().splitlines()]
    gold_intents = (atis["test"] / "label").read_text().split()
    oracle = entity_scores(gold_tags, predicted_tags)
    status, printed, err = run(capsys, "evaluate", out, "--data", atis["test"] / "seq.in")
    assert status == 0, err
    shown = json.loads(printed)
    for key in ("precision", "recall", "f1", "accuracy"):
        assert shown[key] == pytest.approx(oracle[key])
        assert shown[key] == pytest.approx(metrics[f"test_{key}"])
    right = sum(p == g for p, g in zip(predicted_intents, gold_intents, strict=True))
    assert shown["intent_accuracy"] == pytest.approx(right / len(gold_intents))

    status, _, err = run(capsys, "train", "tag", "--resume", out, "--epochs", "2")
    assert status == 0, err
    assert read_json(out / "metrics.json")["epochs"] == 2
    assert len((out / "log.csv").read_text().splitlines()) == 3  # header + 2 epochs


def test_unseen_test_intent_counts_as_wrong(tmp_path, capsys):
    # The intent is "has_x" iff the sentence holds the word x; the test adds a label never
    # seen in training: it is scored as a miss, not an error.
    train = tmp_path / "train"
    train.mkdir()
    rows = [("a x b", "O B-T O", "has_x"), ("a b c", "O O O", "no_x")] * 20
    for name, column in (("seq.in", 0), ("seq.out", 1), ("label", 2)):
        (train / name).write_text("".join(row[column] + "\n" for row in rows))
    test = tmp_path / "test"
    test.mkdir()
    (test / "seq.in").write_text("a x b\nc b a\n")
    (test / "seq.out").write_text("O B-T O\nO O O\n")
    (test / "label").write_text("has_x\nnever_seen\n")
    out = tmp_path / "run"
    options = "--hidden-size 16 --embedding-dim 8 --epochs 30 --lr 0.02".split()
    files = ["--train", train, "--valid", train, "--test", test]
    status, _, err = run(capsys, "train", "tag", *files, *options, "--out", out)
    assert status == 0, err
    metrics = read_json(out / "metrics.json")
    assert metrics["valid_f1"] == 1.0 and metrics["valid_intent_accuracy"] == 1.0
    assert metrics["test_intent_accuracy"] == 0.5 and metrics["test_f1"] == 1.0

    (test / "label").unlink()  # a split without labels: tags are scored, intents are not
    status, printed, err = run(capsys, "evaluate", out, "--data", test / "seq.in")
    assert status == 0, err
    shown = json.loads(printed)
    assert shown["f1"] == 1.0 and "intent_accuracy" not in shown


def test_atis_recipe_config_and_prepare(data_dir):
    config = make_config(TASK, {}, recipe="atis", data_dir=str(data_dir))
    assert config["crf"] and config["char_features"] and config["format"] == "seq"
    assert "sized_by_data" not in config  # the recipe gives --epochs and --patience
    prepared = TASK.prepare(config, None)
    assert (len(prepared.train), len(prepared.valid), len(prepared.test)) == (4478, 500, 893)
    labels = prepared.artifacts["labels"]
    train_intents = set((data_dir / "atis/train/label").read_text().split())
    assert labels["intents"] == sorted(train_intents) and labels["scheme"] == "BIO"
    test_intents = (data_dir / "atis/test/label").read_text().split()
    unseen = sum(label not in train_intents for label in test_intents)
    assert 0 < unseen == prepared.test.intents.count(UNKNOWN_INTENT)
    first = (data_dir / "atis/test/seq.out").read_text().splitlines()[0]
    assert prepared.test.gold_tags[0] == first.split()
    model = TASK.build_model(config, prepared.artifacts)
    assert model.crf is not None and model.chars is not None
    assert model.intent_attention is not None  # the recipe's intent head attends


# ----------------------------------------------------------------------------- CoNLL files
CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
1996-08-22 CD I-NP O
"""


def train_crf(tmp_path, capsys, text: str):
    """A small CRF tagger trained, validated and tested on ``text`` (written to
    ``tmp_path/train.txt``): its run directory and printed log."""
    path = tmp_path / "train.txt"
    path.write_text(text)
    out = tmp_path / "run"
    # word vectors alone: these toy sentences' predictions were checked with them
    options = "--crf --no-char-features --hidden-size 16 --embedding-dim 8 --epochs 25 --lr 0.03"
    options = options.split()
    files = ["--train", path, "--valid", path, "--test", path]
    status, printed, err = run(capsys, "train", "tag", *files, *options, "--out", out)
    assert status == 0, err
    return out, printed


def test_iob1_tags_are_read_as_iob2_and_the_crf_learns_them(tmp_path, capsys):
    """The original CoNLL-2003 files are IOB1: a chunk opens with I- unless it follows one of
    its type. Read as they were, the CRF's BIO transitions forbade their gold paths (loss in
    the tens of thousands, F1 0); now each such I- is read as B- (and the log says so)."""
    iob1 = CONLL.replace("B-ORG", "I-ORG").replace("B-MISC", "I-MISC").replace("B-PER", "I-PER")
    iob1 = iob1.replace("B-LOC", "I-LOC") + "Paris NNP B-NP I-LOC\nLyon NNP I-NP B-LOC\n\n"
    out, printed = train_crf(tmp_path, capsys, iob1 * 5)
    assert "chunks opened by I- read as B- (IOB1 to IOB2)" in printed
    assert read_json(out / "metrics.json")["test_f1"] == 1.0
    tags = read_json(out / "labels.json")["tags"]
    assert tags == "B-LOC B-MISC B-ORG B-PER I-PER O".split()  # "Paris Lyon": two places


def test_a_small_training_set_gets_epochs_and_patience_for_min_updates(tmp_path):
    """20 epochs of 300 ATIS sentences (10 updates each) stopped at 77 % validation F1 while
    still climbing; 3000 updates reached 84 %."""
    path = tmp_path / "train.txt"
    path.write_text(CONLL * 5)  # 15 sentences: one batch an epoch
    config = make_config(TASK, {"train": str(path), "valid": str(path)})
    assert config["sized_by_data"] == ["epochs", "patience"]
    budget = sized_budget(config, len(TASK.prepare(config, None).train))
    assert budget == {"epochs": 3000, "patience": 500}
    assert (
        describe_budget(config, budget)
        == "--epochs 3000, --patience 500 (at least 3000 updates for --min-updates)"
    )
    config = make_config(TASK, {"train": str(path), "valid": str(path), "epochs": 600})
    assert sized_budget(config, 15) == {"patience": 500}
    config = make_config(TASK, {"train": str(path), "valid": str(path), "epochs": 4})
    assert sized_budget(config, 15) == {}  # a patience past the last epoch is left unsaid


def test_conll_with_docstart_learns_the_tags(tmp_path, capsys):
    out, printed = train_crf(tmp_path, capsys, CONLL * 5)
    assert "the validation file is the training file" in printed  # (as this test wants)
    path = tmp_path / "train.txt"  # (written by train_crf)
    metrics = read_json(out / "metrics.json")
    assert metrics["test_f1"] == 1.0 and metrics["test_examples"] == 15
    assert "test_intent_accuracy" not in metrics
    assert "-DOCSTART-" not in read_json(out / "vocab.json")["tokens"]
    tags = read_json(out / "labels.json")["tags"]
    assert tags == "B-LOC B-MISC B-ORG B-PER I-PER O".split()
    sentences = tmp_path / "in.txt"
    sentences.write_text("Peter Blackburn rejects German call\n")
    status, printed, _ = run(capsys, "predict", out, "--input", sentences)
    assert printed == "B-PER I-PER O B-MISC O\n"

    # the chunk column instead of the entity column
    options = [*TINY, "--tag-column", "2", "--epochs", "1", "--out", tmp_path / "chunks"]
    status, _, err = run(capsys, "train", "tag", "--train", path, *options)
    assert status == 0, err
    assert "B-VP" in read_json(tmp_path / "chunks" / "labels.json")["tags"]


def test_pretrained_vectors_start_the_word_embedding(tmp_path, capsys):
    from safetensors.torch import load_file

    path = tmp_path / "train.txt"
    path.write_text(CONLL * 2)
    vectors = {"Peter": [0.5, -1.0, 2.0], "German": [1.5, 0.25, -0.75]}
    glove = tmp_path / "vectors.txt"
    glove.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items()))
    out = tmp_path / "run"
    options = [*TINY, "--embeddings", glove, "--freeze-embeddings", "--epochs", "1"]
    status, _, err = run(capsys, "train", "tag", "--train", path, "--valid", path, *options,
                         "--out", out)  # fmt: skip
    assert status == 0, err
    vocab = read_json(out / "vocab.json")
    assert read_json(out / "embedding.json")["dim"] == 3  # the file's width, not --embedding-dim
    assert (out / "chars.json").is_file()  # character features by default
    words = load_file(out / "model.safetensors")["words.weight"]
    index = {token: i for i, token in enumerate([*vocab["specials"], *vocab["tokens"]])}
    for word, vector in vectors.items():  # frozen: still the file's vectors after training
        assert words[index[word]].tolist() == vector
    assert not words[index["<pad>"]].any()


def test_embeddings_vocab_keeps_the_vectors_of_words_unseen_in_training(tmp_path, capsys):
    from safetensors.torch import load_file

    path = tmp_path / "train.txt"
    path.write_text(CONLL * 2)
    vectors = {"Peter": [0.5, -1.0, 2.0], "Berlin": [1.5, 0.25, -0.75], "Paris": [1.0, 1.0, 1.0]}
    glove = tmp_path / "vectors.txt"
    glove.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items()))
    out = tmp_path / "run"
    options = [*TINY, "--embeddings", glove, "--embeddings-vocab", "2", "--freeze-embeddings"]
    status, _, err = run(capsys, "train", "tag", "--train", path, "--valid", path, *options,
                         "--epochs", "1", "--out", out)  # fmt: skip
    assert status == 0, err
    vocab = read_json(out / "vocab.json")
    # The training words first, then the file's first 2 words they lack ("Paris" is 3rd).
    training = {line.split()[0] for line in CONLL.splitlines() if line and "DOCSTART" not in line}
    assert set(vocab["tokens"][:-1]) == training and vocab["tokens"][-1] == "Berlin"
    index = {token: i for i, token in enumerate([*vocab["specials"], *vocab["tokens"]])}
    words = load_file(out / "model.safetensors")["words.weight"]
    assert words[index["Berlin"]].tolist() == vectors["Berlin"]
    sentences = tmp_path / "in.txt"
    sentences.write_text("Peter visits Berlin\n")
    status, printed, err = run(capsys, "predict", out, "--input", sentences)
    assert status == 0 and len(printed.split()) == 3, err
    bad_case(tmp_path, capsys, ["--train", path, "--embeddings-vocab", "5"], "needs --embeddings")


ZH = "北\tB\n京\tE\n欢\tB\n迎\tE\n你\tS\n\n我\tS\n爱\tS\n北\tB\n京\tE\n\n天\tB\n安\tM\n门\tE\n"


def test_chinese_characters_bmes(tmp_path, capsys):
    path = tmp_path / "zh.txt"
    path.write_text(ZH * 8, encoding="utf-8")
    out = tmp_path / "run"
    options = [*TINY, *"--tokens char --crf --char-features --epochs 2".split()]
    status, _, err = run(
        capsys, "train", "tag", "--train", path, "--valid", path, *options, "--out", out
    )
    assert status == 0, err
    assert read_json(out / "labels.json")["scheme"] == "BMES"
    assert "北" in read_json(out / "vocab.json")["tokens"]
    sentences = tmp_path / "in.txt"
    sentences.write_text("北京欢迎你\n我 爱 天安门\n", encoding="utf-8")
    status, printed, err = run(capsys, "predict", out, "--input", sentences)
    assert status == 0, err
    lines = printed.splitlines()
    assert [len(line.split()) for line in lines] == [5, 5]
    assert all(set(line.split()) <= {"B", "M", "E", "S"} for line in lines)
    assert split_text("我 爱\t天安门", "char") == ["我", "爱", "天", "安", "门"]


# ----------------------------------------------------------------------------- bad input
def bad_case(tmp_path, capsys, argv, expected: str) -> None:
    out = tmp_path / "bad_run"
    status, _, err = run(capsys, "train", "tag", *argv, *TINY, "--epochs", "1", "--out", out)
    assert status == 2
    assert err.count("\n") == 1 and expected in err, err
    assert not out.exists()


def test_bad_conll_column_count(tmp_path, capsys):
    path = tmp_path / "train.txt"
    path.write_text("EU B-ORG\nrejects O\n\nPeter NNP B-PER\n")
    bad_case(tmp_path, capsys, ["--train", path], f"{path}:4: expected 2 columns, got 3")
    path.write_text("EU B-ORG\n")
    bad_case(tmp_path, capsys, ["--train", path, "--tag-column", "5"], "--tag-column 5")
    path.write_text("EU NNP B-ORG\nrejects VBZ O\n\nPeter NNP B-PER\n")
    argv = ["--train", path, "--valid", path, "--tag-column", "1", "--scheme", "BIO"]
    bad_case(tmp_path, capsys, argv, f"{path}:1: tag 'NNP'")
    test_file = tmp_path / "test.txt"  # chunk tags in training: every file's must be
    test_file.write_text("Peter B-PER\nruns VBZ\n")
    path.write_text("EU B-ORG\nrejects O\n\nPeter B-PER\n")
    argv = ["--train", path, "--valid", path, "--test", test_file]
    bad_case(tmp_path, capsys, argv, f"{test_file}:2: tag 'VBZ'")


def test_one_tag_in_training_is_refused_and_unseen_tags_are_counted(tmp_path, capsys):
    path = tmp_path / "train.txt"
    path.write_text("EU XX B-ORG\nrejects XX O\n\nPeter XX B-PER\n")
    bad_case(tmp_path, capsys, ["--train", path, "--tag-column", "1"],
             "every token has the tag 'XX': nothing to learn (is --tag-column 1")  # fmt: skip
    valid = tmp_path / "valid.txt"
    valid.write_text("EU XX B-LOC\nrejects XX O\n\nPeter XX B-LOC\nruns XX B-MISC\n")
    options = [*TINY, "--epochs", "1", "--out", tmp_path / "run"]
    status, printed, err = run(capsys, "train", "tag", "--train", path, "--valid", valid, *options)
    assert status == 0, err
    assert "3 tokens with a tag training never saw (first: 'B-LOC'), scored as misses" in printed


def test_parts_of_speech_from_conllu_train_with_token_accuracy(tmp_path, capsys):
    rows = [("the", "DET"), ("dog", "NOUN"), ("runs", "VERB"), ("a", "DET"), ("cat", "NOUN"),
            ("sees", "VERB")]  # fmt: skip
    lines = []
    for number in range(30):
        words = [rows[(number + i) % 3 + 3 * (i % 2)] for i in range(4)]
        lines.append(f"# sent_id = {number}")
        lines += [f"{i}\t{w}\t{w}\t{t}\t_\t_\t0\tdep\t_\t_" for i, (w, t) in enumerate(words, 1)]
        lines.append("")
    path = tmp_path / "train.conllu"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    options = [*TINY, "--epochs", "15", "--lr", "0.05", "--crf"]
    status, printed, err = run(
        capsys, "train", "tag", "--train", path, "--test", path, *options, "--out", out
    )
    assert status == 0, err
    assert "scheme none" in printed
    labels = read_json(out / "labels.json")
    assert labels["scheme"] == "none" and labels["tags"] == ["DET", "NOUN", "VERB"]
    metrics = read_json(out / "metrics.json")
    assert metrics["test_f1"] == metrics["test_accuracy"] == metrics["test_precision"]
    assert metrics["test_accuracy"] > 0.9
    # by default a CRF decodes chunk tags only: not these, but the CoNLL entities
    for data, crf in ((path, False), (tmp_path / "ner.txt", True)):
        (tmp_path / "ner.txt").write_text(CONLL)
        options = [*TINY, "--epochs", "1", "--out", tmp_path / "auto", "--overwrite"]
        status, _, err = run(capsys, "train", "tag", "--train", data, "--valid", data, *options)
        assert status == 0, err
        assert read_json(tmp_path / "auto" / "config.json")["crf"] is crf


def test_bad_seq_pairs(tmp_path, capsys, atis):
    good = atis["valid"]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "seq.in").write_text("a b c\nd e f\n")
    (bad / "seq.out").write_text("O O O\nO O\n")
    argv = ["--train", atis["train"], "--valid", good, "--test", bad]
    bad_case(tmp_path, capsys, argv, f"{bad / 'seq.out'}:2: 2 tags for 3 tokens")
    (bad / "seq.out").unlink()
    bad_case(tmp_path, capsys, argv, f"{bad / 'seq.out'}: file not found")
    bad_case(tmp_path, capsys, ["--train", atis["train"], "--format", "conll"], "is a directory")


# ----------------------------------------------------------------------------- model
def test_unknown_intent_adds_no_loss():
    torch.manual_seed(0)
    model = JointTagger(10, 3, embedding_dim=4, hidden_size=4, num_intents=2).eval()
    tokens, lengths = torch.randint(1, 10, (2, 3)), torch.tensor([3, 2])
    tags = torch.randint(3, (2, 3))
    _, logits = model(tokens, lengths)
    unknown = model.loss(tokens, lengths, tags, intents=torch.tensor([UNKNOWN_INTENT, 1]))
    without = model.loss(tokens, lengths, tags, intents=torch.tensor([0, 1])) - (
        torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1]))
    )
    expected = without + torch.nn.functional.cross_entropy(logits[1:], torch.tensor([1]))
    assert unknown.item() == pytest.approx(expected.item(), rel=1e-5)


def test_chunk_tags_read_as_plain_tags_with_scheme_none(tmp_path, capsys):
    path = tmp_path / "train.txt"
    path.write_text(CONLL * 2)
    out = tmp_path / "run"
    argv = ["--train", path, "--valid", path, "--scheme", "none", "--crf", "--epochs", "1"]
    status, _, err = run(capsys, "train", "tag", *argv, *TINY, "--out", out)
    assert status == 0, err
    assert read_json(out / "labels.json")["scheme"] == "none"
    metrics = read_json(out / "metrics.json")
    assert metrics["valid_f1"] == metrics["valid_accuracy"]


def test_a_tagger_without_sentence_labels_exports_and_its_onnx_takes_words_of_any_length(
    tmp_path, capsys
):
    """A CoNLL run has no intent head: its model's second output is None, which stopped the
    export. With character features, the ONNX file's characters axis was fixed at the
    example's word length (4), refusing any other."""
    onnxruntime = pytest.importorskip("onnxruntime")
    import torch

    from rnnkit.tasks.runner import load_run

    path = tmp_path / "train.txt"
    path.write_text(CONLL * 3)
    out = tmp_path / "run"
    options = [*TINY, "--char-features", "--crf", "--epochs", "1"]
    status, _, err = run(capsys, "train", "tag", "--train", path, *options, "--out", out)
    assert status == 0, err
    status, _, err = run(capsys, "predict", out, "--input", path, "--probabilities")
    assert status == 2 and "--probabilities: a tag run has no class probabilities" in err
    for fmt in ("onnx", "torchscript"):
        status, printed, err = run(capsys, "export", out, "--format", fmt)
        assert status == 0, err
        checked = json.loads(printed)["inputs"]
        assert checked[0]["chars"][2] != checked[1]["chars"][2]  # two word lengths checked
    session = onnxruntime.InferenceSession(str(out / "model.onnx"))
    model = load_run(str(out)).model
    generator = torch.Generator().manual_seed(0)
    for width in (3, 12):
        tokens = torch.randint(1, 5, (2, 6), generator=generator)
        chars = torch.randint(1, 5, (2, 6, width), generator=generator)
        inputs = {"tokens": tokens, "lengths": torch.tensor([6, 4]), "chars": chars,
                  "char_lengths": torch.full((2, 6), width)}  # fmt: skip
        feed = {i.name: inputs[i.name].numpy() for i in session.get_inputs()}
        (got,) = session.run(None, feed)
        with torch.no_grad():
            want = model(**inputs)[0]
        np.testing.assert_allclose(got, want.numpy(), atol=1e-5, rtol=0)


def test_predict_on_a_conll_file_answers_in_conll(tmp_path, capsys):
    """A CoNLL test file (its token column read, the others ignored, even absent) gets
    TOKEN<TAB>TAG lines back, sentence by sentence, the tags those of the same sentences given
    one a line."""
    out, _ = train_crf(tmp_path, capsys, CONLL * 5)
    status, printed, err = run(capsys, "predict", out, "--input", tmp_path / "train.txt")
    assert status == 0, err
    blocks = [block.splitlines() for block in printed.strip("\n").split("\n\n")]
    blocks = [block for block in blocks if block != ["-DOCSTART-\tO"]]  # (answered in place)
    sentences = [
        ["EU", "rejects", "German", "call"],
        ["Peter", "Blackburn"],
        ["BRUSSELS", "1996-08-22"],
    ]
    assert [[line.split("\t")[0] for line in block] for block in blocks] == sentences * 5
    as_lines = tmp_path / "sentences.txt"
    as_lines.write_text("".join(" ".join(s) + "\n" for s in sentences))
    status, printed_lines, err = run(capsys, "predict", out, "--input", as_lines)
    assert status == 0, err
    tags = [[line.split("\t")[1] for line in block] for block in blocks[:3]]
    assert [" ".join(t) for t in tags] == printed_lines.splitlines()
    tokens_only = tmp_path / "tokens.conll"  # one column: tokens alone
    tokens_only.write_text("\n\n".join("\n".join(s) for s in sentences) + "\n")
    status, printed_tokens, err = run(capsys, "predict", out, "--input", tokens_only)
    assert status == 0, err
    assert printed_tokens.strip("\n").split("\n\n") == ["\n".join(b) for b in blocks[:3]]
    # CoNLL-2003's document line tells a file of one sentence (no blank line) as CoNLL too
    one = tmp_path / "one.txt"
    one.write_text("-DOCSTART- -X- -X- O\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n")
    status, printed_one, err = run(capsys, "predict", out, "--input", one)
    assert status == 0, err
    assert printed_one == "-DOCSTART-\tO\n\nEU\tB-ORG\nrejects\tO\n\n"


def test_predict_answers_line_for_line_docstart_and_blank_lines(tmp_path, capsys):
    """A CoNLL-2003 file's -DOCSTART- lines are answered in their places (they were dropped,
    so the answers no longer lined up with the input), and a sentence-a-line file with a
    blank line in it is read as sentences, the blank line answered by a blank line (it was
    taken for CoNLL: one token a line)."""
    out, _ = train_crf(tmp_path, capsys, CONLL * 5)
    conll = tmp_path / "test.txt"
    conll.write_text(CONLL)
    status, printed, err = run(capsys, "predict", out, "--input", conll)
    assert status == 0, err
    answered, given = printed.rstrip("\n").split("\n"), CONLL.rstrip("\n").split("\n")
    assert len(answered) == len(given)  # line for line
    for line, answer in zip(given, answered, strict=True):
        assert line.split(" ")[0] == answer.split("\t")[0]
    assert answered[0] == "-DOCSTART-\tO" and answered[10] == "-DOCSTART-\tO"

    text = tmp_path / "sentences.txt"
    text.write_text("Peter Blackburn rejects German call\n\nEU rejects German call\n")
    status, printed, err = run(capsys, "predict", out, "--input", text)
    assert status == 0, err
    assert printed == "B-PER I-PER O B-MISC O\n\nB-ORG O B-MISC O\n"


@pytest.mark.parametrize(
    ("text", "tokens", "conll"),
    [
        ("EU B-ORG\nrejects O\n\nPeter B-PER\n", "word", True),
        ("EU\nrejects\n\nPeter\nBlackburn\n", "word", True),
        ("EU rejects German call\n\nPeter Blackburn\n", "word", False),
        ("北\n京\n\n欢\n", "char", True),
        ("北京欢迎你\n\n你好\n", "char", False),
        ("EU rejects\nGerman call\n", "word", False),  # no blank line: a sentence a line
        ("-DOCSTART- -X- O\nEU NNP B-ORG\n", "word", True),
        # CoNLL-U (comment lines of other lengths) in a file not named .conllu
        ("# sent_id = 1\n# text = Hi there\n1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\n"
         "2\tthere\tthere\tADV\t_\t_\t1\tadvmod\t_\t_\n\n", "word", True),
    ],
)  # fmt: skip
def test_looks_like_conll(tmp_path, text, tokens, conll):
    path = tmp_path / "input.txt"
    path.write_text(text)
    lines = list(enumerate(text.splitlines(), start=1))
    assert _looks_like_conll(path, lines, tokens) is conll
