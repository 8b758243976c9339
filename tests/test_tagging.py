"""Tests of the `tag` task's building blocks: the CoNLL and ATIS readers, entity-level scores
(against hand-computed counts and conlleval's conventions) and the joint slot/intent tagger
(padding invariance, pretrained vectors, character features, learning a toy task)."""

from __future__ import annotations

import re
import time

import pytest
import torch

from rnnkit.data.conll import TaggedSentence, read_conll
from rnnkit.data.slots import read_seq_pairs
from rnnkit.metrics.tagging import detect_scheme, entity_scores, to_iob2
from rnnkit.structures.crf import bio_constraints
from rnnkit.structures.joint_tagger import JointTagger

pytestmark = pytest.mark.usefixtures("one_thread")


def write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


# ----------------------------------------------------------------------------- CoNLL reader

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def test_read_conll_sentences_columns_and_lines(tmp_path):
    path = write(tmp_path / "train.txt", CONLL)
    sentences = read_conll(path)
    assert sentences == [
        TaggedSentence(["EU", "rejects", "German"], ["B-ORG", "O", "B-MISC"], 3),
        TaggedSentence(["Peter", "Blackburn"], ["B-PER", "I-PER"], 7),
    ]
    chunks = read_conll(path, token_column=1, tag_column=2)
    assert chunks[1].tokens == ["NNP", "NNP"] and chunks[1].tags == ["B-NP", "I-NP"]
    assert chunks[0].label is None


def test_read_conll_chinese_characters_tabs_and_blank_runs(tmp_path):
    text = "中\tB-LOC\n国\tI-LOC\n人\tO\n\n\n\u3000\tO\n北\tS-LOC\n"
    sentences = read_conll(write(tmp_path / "zh.txt", text))
    assert [s.tokens for s in sentences] == [["中", "国", "人"], ["\u3000", "北"]]
    assert [s.tags for s in sentences] == [["B-LOC", "I-LOC", "O"], ["O", "S-LOC"]]
    assert [s.line for s in sentences] == [1, 6]


CONLLU = """# sent_id = 1
# text = New York's dogs bark.
1\tNew York\tNew York\tPROPN\tNNP\t_\t3\tnmod:poss\t_\t_
2\t's\t's\tPART\tPOS\t_\t1\tcase\t_\t_
3-4\tdogs\t_\t_\t_\t_\t_\t_\t_\t_
3\tdog\tdog\tNOUN\tNNS\t_\t5\tnsubj\t_\t_
4\ts\ts\tPART\tPOS\t_\t3\tcase\t_\t_
4.1\tgo\tgo\tVERB\tVB\t_\t_\t_\t_\t_
5\tbark\tbark\tVERB\tVBP\t_\t0\troot\t_\tSpaceAfter=No

# sent_id = 2
1\t#\t#\tSYM\tNN\t_\t0\troot\t_\t_
"""


@pytest.mark.parametrize("name", ["train.conllu", "train.txt"])
def test_read_conllu_skips_comments_ranges_and_empty_nodes(tmp_path, name):
    path = write(tmp_path / name, CONLLU)  # told apart by its name or its first token line
    sentences = read_conll(path)
    assert [s.tokens for s in sentences] == [["New York", "'s", "dog", "s", "bark"], ["#"]]
    assert [s.tags for s in sentences] == [["PROPN", "PART", "NOUN", "PART", "VERB"], ["SYM"]]
    assert [s.line for s in sentences] == [3, 12]
    assert read_conll(path, tag_column=4)[0].tags == ["NNP", "POS", "NNS", "POS", "VBP"]


def test_tags_without_chunks_are_scored_by_token_accuracy():
    true = [["DET", "NOUN", "VERB"], ["NOUN"]]
    pred = [["DET", "VERB", "VERB"], ["NOUN"]]
    assert detect_scheme(true) == "none" and detect_scheme([["O", "B-X", "NN"]]) == "none"
    assert entity_scores(true, pred) == {
        "precision": 0.75, "recall": 0.75, "f1": 0.75, "accuracy": 0.75
    }  # fmt: skip
    with pytest.raises(ValueError, match="not a chunk tag"):
        entity_scores(true, pred, "BIO")


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("a B-X\nb O\nc\n", {}, ":3: expected 2 columns, got 1"),
        ("a B-X\n\nb x O\n", {}, ":3: expected 2 columns, got 3"),
        ("The/DET dog/NOUN runs/VERB\nA/DET cat/NOUN\n", {}, "got 2 (word/TAG pairs on a line"),
        ("a B-X\n", {"tag_column": 2}, "--tag-column 2 is out of range for 2 columns"),
        ("a B-X\n", {"token_column": -3}, "--token-column -3 is out of range"),
        ("\n-DOCSTART- O\n\n", {}, "no sentences"),
    ],
)
def test_read_conll_errors(tmp_path, text, kwargs, message):
    path = write(tmp_path / "bad.txt", text)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        read_conll(path, **kwargs)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_read_conll_missing_and_non_utf8(tmp_path):
    with pytest.raises(ValueError, match="file not found"):
        read_conll(tmp_path / "nope.txt")
    path = write(tmp_path / "latin1.txt", "a O\nné O\n", encoding="latin-1")
    with pytest.raises(ValueError, match=r"latin1.txt:2: not UTF-8"):
        read_conll(path)


# ----------------------------------------------------------------------------- ATIS reader


def test_read_atis_train_split(data_dir):
    root = data_dir / "atis" / "train"
    sentences = read_seq_pairs(root / "seq.in", root / "seq.out", root / "label")
    assert len(sentences) == 4478
    assert all(len(s.tokens) == len(s.tags) > 0 for s in sentences)
    first = sentences[0]
    assert first.tokens[:4] == ["i", "want", "to", "fly"] and first.label == "atis_flight"
    assert first.tags[5] == "B-fromloc.city_name" and first.tokens[5] == "baltimore"
    assert [s.line for s in sentences[:3]] == [1, 2, 3]
    tags = {tag for s in sentences for tag in s.tags}
    assert 110 <= len(tags) <= 130 and "O" in tags
    assert detect_scheme(s.tags for s in sentences) == "BIO"
    # every I-X inside the gold data continues an X chunk (so the files are aligned BIO)
    for s in sentences[:500]:
        for prev, tag in zip(["O", *s.tags], s.tags, strict=False):
            if tag.startswith("I-"):
                assert prev[2:] == tag[2:]
    labels = {s.label for s in sentences}
    assert "atis_airfare" in labels and len(labels) > 15


def test_read_atis_small_splits_without_labels(data_dir):
    for split, count in (("valid", 500), ("test", 893)):
        root = data_dir / "atis" / split
        sentences = read_seq_pairs(root / "seq.in", root / "seq.out")
        assert len(sentences) == count and sentences[0].label is None


def test_read_seq_pairs_errors(tmp_path):
    seq_in = write(tmp_path / "seq.in", "a b c\nd e f g h i\n")
    good_out = write(tmp_path / "good.out", "O O O\nO O O O O O\n")
    bad_out = write(tmp_path / "seq.out", "O O O\nO O O O O\n")
    with pytest.raises(ValueError) as info:
        read_seq_pairs(seq_in, bad_out)
    assert str(info.value) == f"{bad_out}:2: 5 tags for 6 tokens ({seq_in}:2)"

    short = write(tmp_path / "short.out", "O O O\n")
    with pytest.raises(ValueError, match=r"short.out has 1 lines but .*seq.in has 2"):
        read_seq_pairs(seq_in, short)
    labels = write(tmp_path / "label", "x\n")
    with pytest.raises(ValueError, match=r"label has 1 lines but .*seq.in has 2"):
        read_seq_pairs(seq_in, good_out, labels)
    two = write(tmp_path / "two", "x\ny z\n")
    with pytest.raises(ValueError, match=r"two:2: expected one label, got 2 fields"):
        read_seq_pairs(seq_in, good_out, two)
    blank = write(tmp_path / "blank.in", "a b c\n\nd e f g h i\n")
    with pytest.raises(ValueError, match=r"blank.in:2: blank line"):
        read_seq_pairs(blank, good_out)
    # blank lines at the end of a file (Windows editors leave them) are not sentences
    trailing = write(tmp_path / "trailing.in", "a b c\r\nd e f g h i\r\n\r\n \r\n")
    assert [s.tokens for s in read_seq_pairs(trailing, good_out)] == [
        ["a", "b", "c"], ["d", "e", "f", "g", "h", "i"],
    ]  # fmt: skip
    assert [s.label for s in read_seq_pairs(seq_in, good_out, write(tmp_path / "l", "p\nq\n"))] == [
        "p",
        "q",
    ]


# ----------------------------------------------------------------------------- metrics


def test_entity_scores_two_of_three_entities():
    true = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "O"]]
    # PER right; LOC right; ORG too short (wrong end) -> 2 correct of 3 gold, 3 predicted
    pred = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "O", "O"]]
    scores = entity_scores(true, pred)
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 / 3)
    assert scores["accuracy"] == pytest.approx(7 / 8)
    # one spurious extra entity: P = 2/4, R = 2/3, F1 = 2PR/(P+R) = 4/7
    pred[1][3] = "B-MISC"
    scores = entity_scores(true, pred)
    assert (scores["precision"], scores["recall"]) == pytest.approx((1 / 2, 2 / 3))
    assert scores["f1"] == pytest.approx(4 / 7)


def test_bio_follows_conlleval_for_a_leading_i_tag():
    # conlleval: an I-X after O (or after another type) opens a new X chunk
    true = [["O", "B-LOC", "I-LOC", "O", "B-PER"]]
    pred = [["O", "I-LOC", "I-LOC", "O", "I-PER"]]
    assert entity_scores(true, pred)["f1"] == 1.0
    # B-LOC I-PER is two chunks, LOC [1, 1] and PER [2, 2]; gold has one LOC [1, 2]
    scores = entity_scores([["O", "B-LOC", "I-LOC"]], [["O", "B-LOC", "I-PER"]])
    assert (scores["precision"], scores["recall"]) == (0.0, 0.0)
    scores = entity_scores([["B-LOC", "B-PER"]], [["B-LOC", "I-PER"]])
    assert (scores["precision"], scores["recall"], scores["f1"]) == (1.0, 1.0, 1.0)


def test_bioes_is_strict_and_bmes_maps_m_to_i():
    true = [["B-PER", "E-PER", "S-LOC", "O"]]
    # B-PER never closed: strict mode counts no PER entity; S-LOC is right
    scores = entity_scores(true, [["B-PER", "I-PER", "S-LOC", "O"]])
    assert (scores["precision"], scores["recall"]) == (1.0, 0.5)
    assert detect_scheme(true) == "BIOES"
    # word segmentation: words [0, 2], [3, 3], [4, 5]
    words = [["B", "M", "E", "S", "B", "E"]]
    assert detect_scheme(words) == "BMES"
    assert entity_scores(words, words) == {"precision": 1, "recall": 1, "f1": 1, "accuracy": 1}
    guess = [["B", "E", "S", "S", "B", "E"]]  # words [0, 1], [2, 2], [3, 3], [4, 5]: 2 of 4 right
    scores = entity_scores(words, guess)
    assert (scores["precision"], scores["recall"]) == pytest.approx((2 / 4, 2 / 3))
    assert entity_scores(words, guess, scheme="BMES") == scores
    assert detect_scheme([["I-X", "O"]]) == "IO" and detect_scheme([["O"]]) == "BIO"


def test_the_scheme_is_told_from_the_gold_tags_alone():
    """A model's mistake must not change how it is scored: before, one predicted E- tag made
    BIO gold strict IOBES (F1 0), one predicted non-chunk tag made the F1 token accuracy."""
    f1_score = pytest.importorskip("seqeval.metrics").f1_score
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "I-ORG"]]
    pred = [["B-PER", "E-PER", "O", "B-ORG"], ["O", "B-ORG", "I-ORG", "O"]]
    assert entity_scores(gold, pred)["f1"] == pytest.approx(f1_score(gold, pred))
    pred[0][2] = "<unk>"
    with pytest.raises(ValueError, match="tag '<unk>' is not a chunk tag"):
        entity_scores(gold, pred)


def test_entity_scores_errors():
    with pytest.raises(ValueError, match="not a chunk tag"):
        entity_scores([["PER"]], [["O"]], scheme="BIO")
    with pytest.raises(ValueError, match="1 predicted tags for 2 gold"):
        entity_scores([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match="scheme must be"):
        entity_scores([["O"]], [["O"]], scheme="IOB3")
    with pytest.raises(ValueError, match="mix the prefixes M"):
        detect_scheme([["B", "M", "I"]])


# ----------------------------------------------------------------------------- JointTagger


def padded_batch(sentences, chars, extra_steps=2, extra_chars=3):
    """Pad word ids, tags and character ids with garbage that must not matter."""
    B = len(sentences)
    T = max(len(s) for s, _ in sentences) + extra_steps
    C = max(len(c) for word_chars in chars for c in word_chars) + extra_chars
    tokens = torch.full((B, T), 999)
    tags = torch.full((B, T), -7)
    char_ids = torch.full((B, T, C), 555)
    char_lengths = torch.zeros(B, T, dtype=torch.long)
    for b, ((words, word_tags), word_chars) in enumerate(zip(sentences, chars, strict=True)):
        tokens[b, : len(words)] = torch.tensor(words)
        tags[b, : len(words)] = torch.tensor(word_tags)
        for t, c in enumerate(word_chars):
            char_ids[b, t, : len(c)] = torch.tensor(c)
            char_lengths[b, t] = len(c)
    lengths = torch.tensor([len(s) for s, _ in sentences])
    return tokens, lengths, tags, char_ids, char_lengths


@pytest.mark.parametrize(("crf", "pooling"), [(False, "mean"), (True, "attention")])
def test_joint_tagger_padding_changes_nothing(crf, pooling):
    torch.manual_seed(0)
    model = JointTagger(
        20, 4, embedding_dim=6, char_vocab_size=9, char_dim=3, char_hidden=4,
        hidden_size=5, num_layers=2, dropout=0.3, crf=crf, num_intents=3,
        intent_pooling=pooling,
        crf_constraints=bio_constraints(["O", "B-X", "I-X", "B-Y"]) if crf else None,
    ).eval()  # fmt: skip
    sentences = [([3, 4, 5, 6, 7], [0, 1, 2, 0, 3]), ([8, 9], [1, 2]), ([10], [0])]
    chars = [[[1, 2], [3], [4, 5, 6], [7], [8, 1]], [[2, 2, 2, 2], [5]], [[6, 7]]]
    intents = torch.tensor([0, 2, 1])
    batch = padded_batch(sentences, chars)
    paths, predicted = model.predict(*batch[:2], batch[3], batch[4])
    with torch.no_grad():
        total = model.loss(*batch, intents=intents, reduction="sum").item()
    alone_total = 0.0
    for b in range(3):
        single = padded_batch([sentences[b]], [chars[b]], extra_steps=0, extra_chars=0)
        path, intent = model.predict(*single[:2], single[3], single[4])
        assert path == [paths[b]] and intent == [predicted[b]]
        assert len(path[0]) == len(sentences[b][0])
        with torch.no_grad():
            alone_total += model.loss(*single, intents=intents[b : b + 1], reduction="sum").item()
    assert total == pytest.approx(alone_total, rel=1e-5)
    if crf:  # the constraints hold: I-X only after B-X or I-X
        for path in paths:
            assert all(t != 2 or p in (1, 2) for p, t in zip([0, *path], path, strict=False))


def test_joint_tagger_mean_loss_is_the_definition():
    torch.manual_seed(1)
    model = JointTagger(12, 3, embedding_dim=4, hidden_size=4, num_intents=2).eval()
    tokens = torch.tensor([[1, 2, 3], [4, 5, 0]])
    lengths, tags, intents = torch.tensor([3, 2]), torch.tensor([[0, 1, 2], [2, 2, 0]]), None
    intents = torch.tensor([1, 0])
    emissions, logits = model(tokens, lengths)
    assert (emissions[1, 2] == 0).all()
    tag_ce = torch.nn.functional.cross_entropy(
        torch.cat([emissions[0], emissions[1, :2]]), torch.tensor([0, 1, 2, 2, 2])
    )
    expected = tag_ce + torch.nn.functional.cross_entropy(logits, intents)
    assert model.loss(tokens, lengths, tags, intents=intents).item() == pytest.approx(
        expected.item(), rel=1e-6
    )


def test_attention_pooling_is_the_definition():
    """Intent logits = W [Σ_t a_t h_t ; final states] + b, a = softmax_t(q · tanh(A h_t + c))
    over the real words, recomputed here one sentence at a time from the encoder's outputs."""
    torch.manual_seed(0)
    model = JointTagger(
        12, 3, embedding_dim=4, hidden_size=3, num_intents=2, intent_pooling="attention"
    ).eval()
    tokens, lengths = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]]), torch.tensor([4, 2])
    _, logits = model(tokens, lengths)
    pooling, head = model.intent_attention, model.intent_head
    attention, query = pooling.project, pooling.query
    for b, n in enumerate(lengths.tolist()):
        with torch.no_grad():
            hidden, final = model.rnn(model.words(tokens[b : b + 1, :n]))  # (1, n, 6)
            h = hidden[0]
            weights = torch.softmax(torch.tanh(attention(h)) @ query, dim=0)  # (n,)
            last = torch.cat([final[0][0, 0], final[0][1, 0]])  # forward, backward final
            want = head(torch.cat([(weights.unsqueeze(1) * h).sum(0), last]))
        torch.testing.assert_close(logits[b], want)
    with pytest.raises(ValueError, match="intent_pooling"):
        JointTagger(12, 3, num_intents=2, intent_pooling="max")  # type: ignore[arg-type]


def test_weights_saved_under_the_old_intent_attention_names_still_load():
    """A run saved before the intent attention became an AttentionPooling named its weights
    intent_attention.weight/.bias and intent_query: they load into the same places."""
    torch.manual_seed(0)
    options = {"embedding_dim": 4, "hidden_size": 3, "num_intents": 2}
    model = JointTagger(12, 3, intent_pooling="attention", **options)
    renamed = {"project.weight": "weight", "project.bias": "bias"}
    old = {}
    for key, value in model.state_dict().items():
        if key == "intent_attention.query":
            key = "intent_query"
        elif key.startswith("intent_attention."):
            key = "intent_attention." + renamed[key.removeprefix("intent_attention.")]
        old[key] = value
    assert "intent_query" in old and "intent_attention.weight" in old
    fresh = JointTagger(12, 3, intent_pooling="attention", **options)
    fresh.load_state_dict(old)  # strict: every key found a place
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key


def test_joint_tagger_pretrained_vectors_and_errors():
    vectors = torch.arange(15.0).view(5, 3)
    model = JointTagger(5, 2, pretrained=vectors, padding_idx=0, hidden_size=4)
    assert model.words.embedding_dim == 3
    assert torch.equal(model.words.weight[1:], vectors[1:])
    assert (model.words.weight[0] == 0).all()
    with pytest.raises(ValueError, match="pretrained has 5 rows for vocab_size=6"):
        JointTagger(6, 2, pretrained=vectors)
    tokens, tags = torch.tensor([[1, 2]]), torch.tensor([[0, 1]])
    with pytest.raises(ValueError, match="intents are required"):
        model.loss(tokens, None, tags, intents=torch.tensor([0]))
    with pytest.raises(ValueError, match="no char_vocab_size"):
        model.predict(tokens, chars=torch.zeros(1, 2, 1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"tags must be ids in \[0, 2\)"):
        model.loss(tokens, None, torch.tensor([[0, 5]]))
    with pytest.raises(ValueError, match=r"tokens must be ids in \[0, 5\)"):
        model.predict(torch.tensor([[1, 9]]))
    chars_model = JointTagger(5, 2, char_vocab_size=4, hidden_size=4)
    with pytest.raises(ValueError, match="pass chars and char_lengths"):
        chars_model.predict(tokens)


def toy_batch(generator, batch=32):
    """Tag = parity of the token + 2 · parity of the previous token; intent = 5 occurs."""
    lengths = torch.randint(3, 11, (batch,), generator=generator)
    T = int(lengths.max())
    tokens = torch.randint(1, 12, (batch, T), generator=generator)
    previous = torch.cat([torch.zeros(batch, 1, dtype=torch.long), tokens[:, :-1]], 1)
    tags = tokens % 2 + 2 * (previous % 2)
    mask = torch.arange(T) < lengths.unsqueeze(1)
    tokens = tokens.masked_fill(~mask, 0)
    intents = ((tokens == 5) & mask).any(1).long()
    return tokens, lengths, tags, intents


@pytest.mark.parametrize(("crf", "pooling"), [(False, "mean"), (True, "attention")])
def test_joint_tagger_learns_a_toy_task(crf, pooling):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = JointTagger(
        12, 4, embedding_dim=16, hidden_size=32, crf=crf, num_intents=2, intent_pooling=pooling
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    start = time.perf_counter()
    for _ in range(250):
        tokens, lengths, tags, intents = toy_batch(generator)
        loss = model.loss(tokens, lengths, tags, intents=intents)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    tokens, lengths, tags, intents = toy_batch(generator, batch=200)
    paths, predicted = model.predict(tokens, lengths)
    gold = [row[:n] for row, n in zip(tags.tolist(), lengths.tolist(), strict=True)]
    right = sum(
        p == g
        for path, row in zip(paths, gold, strict=True)
        for p, g in zip(path, row, strict=True)
    )
    tag_accuracy = right / int(lengths.sum())
    intent_accuracy = (torch.tensor(predicted) == intents).float().mean().item()
    print(f"tag accuracy {tag_accuracy:.3f}, intent accuracy {intent_accuracy:.3f}")
    assert tag_accuracy >= 0.95 and intent_accuracy >= 0.95, (tag_accuracy, intent_accuracy)
    assert time.perf_counter() - start < 30


def test_iob1_to_iob2_opens_each_chunk_with_b_and_keeps_iob2():
    iob1 = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "I-ORG", "O", "I", "I"]
    iob2 = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "B-ORG", "O", "B", "I"]
    assert to_iob2(iob1) == iob2
    assert to_iob2(iob2) == iob2
    assert to_iob2([]) == [] and to_iob2(["O", "O"]) == ["O", "O"]
    assert entity_scores([iob2], [to_iob2(iob1)], "BIO")["f1"] == 1.0


def test_a_ten_column_file_opening_with_a_number_is_not_conllu(tmp_path):
    """A plain column file of ten columns whose first token was a year (hironsan's Japanese
    NER corpus opens with 2005) was read as CoNLL-U: FORM and UPOS taken from columns 1 and
    3, and the lines whose token is not a number dropped."""
    row = "\t".join(["{}"] + [f"f{i}" for i in range(8)] + ["{}"])
    text = "\n".join([row.format("2005", "O"), row.format("nen", "O"), "",
                      row.format("Tokyo", "B-LOC"), ""])  # fmt: skip
    path = tmp_path / "ja.txt"
    path.write_text(text)
    sentences = read_conll(path)
    assert [s.tokens for s in sentences] == [["2005", "nen"], ["Tokyo"]]
    assert [s.tags for s in sentences] == [["O", "O"], ["B-LOC"]]
    conllu = "# text = Hi there\n1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\n"
    conllu += "1-2\t_\t_\t_\t_\t_\t_\t_\t_\t_\n2\tthere\tthere\tADV\t_\t_\t1\tadvmod\t_\t_\n\n"
    path.write_text(conllu)
    assert [(s.tokens, s.tags) for s in read_conll(path)] == [(["Hi", "there"], ["INTJ", "ADV"])]
