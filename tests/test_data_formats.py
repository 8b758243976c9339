"""The numeric, audio and table readers of ``classify``: real files and hand-written ones."""

from __future__ import annotations

import gzip
import pickle
import struct
import warnings

import numpy as np
import pytest

from rnnkit.data.audio import audio_features, read_audio_folder
from rnnkit.data.idx import read_idx, read_idx_images
from rnnkit.data.npz_format import read_npz
from rnnkit.data.readers import LabeledLine, read_labeled_lines, read_text_lines
from rnnkit.data.sequences import SequenceSet
from rnnkit.data.series_rows import looks_like_rows, read_rows
from rnnkit.data.table import read_table
from rnnkit.data.ts_format import read_ts

# ---------------------------------------------------------------- SequenceSet


def test_sequence_set_checks():
    a, b = np.zeros((3, 2), np.float32), np.ones((5, 2), np.float32)
    data = SequenceSet([a, b], ["x", "y"], "src")
    assert len(data) == 2 and data.num_features == 2 and data.check() is data
    with pytest.raises(ValueError, match=r"^src: no examples"):
        SequenceSet([], [], "src").check()
    with pytest.raises(ValueError, match=r"^src: example 1 has 3 features, example 0 has 2"):
        SequenceSet([a, np.zeros((4, 3), np.float32)], ["x", "y"], "src").check()
    bad = b.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"^src: example 1 \(b.wav\) has a non-finite .* step 2"):
        SequenceSet([a, bad], ["x", "y"], "src", names=["a.wav", "b.wav"]).check()
    with pytest.raises(ValueError, match="2 examples but 1 labels"):
        SequenceSet([a, b], ["x"], "src").check()


# ---------------------------------------------------------------- .ts


def test_read_ts_japanese_vowels(data_dir):
    folder = data_dir / "japanese_vowels"
    train = read_ts(folder / "JapaneseVowels_TRAIN.ts")
    test = read_ts(folder / "JapaneseVowels_TEST.ts")
    assert (len(train), len(test)) == (270, 370)
    both = train.features + test.features
    assert {x.shape[1] for x in both} == {12}
    assert min(len(x) for x in both) == 7 and max(len(x) for x in both) == 29
    assert sorted(set(train.labels)) == [str(i) for i in range(1, 10)]
    assert all(x.dtype == np.float32 for x in both)
    # Oracle: the first data line parsed by hand, dimension d = column d.
    lines = (folder / "JapaneseVowels_TRAIN.ts").read_text().splitlines()
    first = lines[[line.strip().lower() for line in lines].index("@data") + 1]
    *dims, label = first.split(":")
    expected = np.array([[float(v) for v in d.split(",")] for d in dims], np.float32).T
    np.testing.assert_array_equal(train.features[0], expected)
    assert train.labels[0] == label


# ------------------------------------------------------------------ UCR rows


@pytest.mark.parametrize(
    "text",
    [
        "2\t-0.64\t-0.65\t1.5e-1\n1\t0.5\t0.25\tNaN\n",  # UCR 2018 .tsv, NaN padding
        "2,-0.64,-0.65,1.5e-1\n1,0.5,0.25\n",  # UCR 2015, no suffix
        "  2.0000000e+00  -6.4e-01  -6.5e-01  1.5e-01\r\n  1.0e+00  5.0e-01  2.5e-01\r\n\n",
    ],
)
def test_read_rows_ucr_layouts(tmp_path, text):
    path = tmp_path / "GunPoint_TRAIN.tsv"
    path.write_text(text)
    assert looks_like_rows(path)
    data = read_rows(path)
    assert data.labels == ["2", "1"] and data.num_features == 1
    np.testing.assert_array_equal(data.features[0][:, 0], np.float32([-0.64, -0.65, 0.15]))
    np.testing.assert_array_equal(data.features[1][:, 0], np.float32([0.5, 0.25]))


def test_a_delimiter_closing_every_line_is_still_a_series_a_line(tmp_path):
    path = tmp_path / "trail.csv"
    path.write_text("1,0.5,0.25,0.75,\n2,0.1,0.2,0.3,\n")
    assert looks_like_rows(path)
    assert [x.shape for x in read_rows(path).features] == [(3, 1), (3, 1)]


def test_a_table_whose_first_row_is_numbers_hints_at_rows(tmp_path):
    """An integer-valued series a line (no decimals: not told apart from token ids) read as a
    table: the error says what the file may be."""
    path = tmp_path / "Counts_TRAIN.tsv"
    path.write_text("1\t3\t4\t5\n2\t8\t7\t6\n")
    with pytest.raises(
        ValueError, match=r"a first row of numbers: a series a line\? --format rows"
    ):
        read_table(path, "text", "label")
    named = tmp_path / "ut.csv"  # pd.DataFrame(X).assign(class_val=y), a label of its own name
    named.write_text("class_val,0,1,2\n1,0.5,0.25,1.5\n2,1.5,2.5,0.5\n")
    with pytest.raises(ValueError, match=r"labelled by 'class_val'\? --label-column class_val"):
        read_table(named, "text", "label")


def test_a_series_table_with_a_header_as_pandas_writes_it(tmp_path):
    """``df.to_csv()`` of series a row: named step columns, a label column anywhere, and
    pandas' unnamed index column; the same series as UCR's headerless lines."""
    path = tmp_path / "ItalyPower_train.csv"
    path.write_text(",t0,t1,t2,class\n0,-0.64,-0.65,0.15,2\n1,0.5,0.25,0.75,1\n")
    assert looks_like_rows(path)
    data = read_rows(path)
    assert data.labels == ["2", "1"]
    np.testing.assert_array_equal(data.features[0][:, 0], np.float32([-0.64, -0.65, 0.15]))
    # to predict from, the label column may be there or not
    for text in ("t0,t1,t2,label\n-0.64,-0.65,0.15,2\n", "t0,t1,t2\n-0.64,-0.65,0.15\n"):
        path.write_text(text)
        unlabelled = read_rows(path, labelled=False)
        assert unlabelled.labels == [""]
        np.testing.assert_array_equal(unlabelled.features[0], data.features[0])
    # pandas' tab-separated copy keeps the index's empty name (a leading tab); a first column
    # named id is an index too; another column of words is named in the error
    path.write_text("\tt0\tt1\tt2\tlabel\n0\t-0.64\t-0.65\t0.15\t2\n")
    assert looks_like_rows(path) and read_rows(path).features[0].shape == (3, 1)
    path.write_text("id,t0,t1,t2,label\n7,-0.64,-0.65,0.15,2\n")
    np.testing.assert_array_equal(read_rows(path).features[0], data.features[0])
    path.write_text("name,t0,t1,t2,label\ns0,-0.64,-0.65,0.15,2\n")
    with pytest.raises(ValueError, match=r"csv:2: column 'name': 's0' is not a number"):
        read_rows(path)
    # a label column of another name is named; without one training cannot read the table
    path.write_text("species,t0,t1,t2\nfrog,0.5,0.25,0.75\n")
    assert not looks_like_rows(path) and looks_like_rows(path, "species")
    assert read_rows(path, "species").labels == ["frog"]
    with pytest.raises(ValueError, match=r"csv:1: a header row without a 'label' column"):
        read_rows(path)
    path.write_text("t0,t1,t2,label\n0.5,0.25,0.75,frog\n")  # a name of one's own, missing
    with pytest.raises(ValueError, match=r"csv:1: a header row without a 'klass' column"):
        read_rows(path, "klass")


def test_rows_are_told_from_texts_and_tables_and_errors_name_the_line(tmp_path):
    """Token ids (integers) stay text; a header or words make a table or text lines."""
    path = tmp_path / "x.txt"
    for text in ("1 12 55 3 9\n", "label,text\n1,0.5\n", "pos 0.5 is a score\n", "1\t0.5\n"):
        path.write_text(text)
        assert not looks_like_rows(path), text
    assert not looks_like_rows(tmp_path / "missing.tsv")
    path.write_text("1\t0.5\tNaN\t0.7\n")
    with pytest.raises(ValueError, match=r"x.txt:1: step 2: missing value 'NaN'"):
        read_rows(path)
    path.write_text("1\t0.5\t0.6\n2\tNaN\tNaN\n")
    with pytest.raises(ValueError, match=r"x.txt:2: no values after the label '2'"):
        read_rows(path)
    path.write_text("1,0.5,0.6\n2,0.5,x\n")
    with pytest.raises(ValueError, match=r"x.txt:2: step 2: 'x' is not a number"):
        read_rows(path)


TS_HEADER = """# a comment
@problemName Toy
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength false
@classLabel true a b
@data
"""


def test_read_ts_variable_length(tmp_path):
    path = tmp_path / "toy.ts"
    path.write_text(TS_HEADER + "1,2,3:4,5,6:a\n\n0.5:-1e3:b\n")
    data = read_ts(path)
    assert data.labels == ["a", "b"] and data.source == str(path)
    np.testing.assert_array_equal(data.features[0], [[1, 4], [2, 5], [3, 6]])
    np.testing.assert_array_equal(data.features[1], [[0.5, -1000]])
    # variable lengths padded to the longest with missing values, as some exports write them
    path.write_text(TS_HEADER + "1,2,3:4,5,6:a\n0.5,?,?:-1e3,NaN,nan:b\n")
    np.testing.assert_array_equal(read_ts(path).features[1], [[0.5, -1000]])


@pytest.mark.parametrize(
    ("data_lines", "message"),
    [
        ("1,2:3,4:a\n1,2:3:b\n", r"toy.ts:11: dimensions of different lengths \(2, 1\)"),
        ("?,1:3,4:a\n", r"toy.ts:10: dimension 1: missing value '\?' at step 1 \(missing"),
        ("1,NaN,2:3,4,5:a\n", r"toy.ts:10: dimension 1: missing value 'NaN' at step 2"),
        ("1,?:3,4:a\n", r"toy.ts:10: dimensions of different lengths \(1, 2\)"),
        ("?,?:3,4:a\n", r"toy.ts:10: dimension 1 has no values"),
        ("1,2:3,4:c\n", r"toy.ts:10: label 'c' is not one of the @classLabel labels a b"),
        ("1,2:3,4:5,6:a\n", r"toy.ts:10: 3 dimensions, expected 2"),
        ("1,x:3,4:a\n", r"toy.ts:10: dimension 1: 'x' is not a number"),
        ("1,2::a\n", r"toy.ts:10: dimension 2 has no values"),
        ("", r"toy.ts: no examples after @data"),
    ],
)
def test_read_ts_malformed(tmp_path, data_lines, message):
    path = tmp_path / "toy.ts"
    path.write_text(TS_HEADER + data_lines)
    with pytest.raises(ValueError, match=message):
        read_ts(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("@classLabel true a\n1:a\n", r"toy.ts:2: data before @data"),
        ("@classLabel true a\n", r"toy.ts: no @data line"),
        ("@classLabel false\n@data\n", r"toy.ts:1: @classLabel false"),
        ("@data\n1:a\n", r"toy.ts:1: @data before any @classLabel"),
        ("@colour red\n", r"toy.ts:1: unknown header '@colour'"),
        ("@timeStamps true\n", r"toy.ts:1: time stamps are not supported"),
        (
            "@seriesLength 2\n@classLabel true a\n@data\n1,2,3:a\n",
            r"toy.ts:4: 3 values per dimension, @seriesLength is 2",
        ),
    ],
)
def test_read_ts_bad_header(tmp_path, text, message):
    path = tmp_path / "toy.ts"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_ts(path)


def test_read_ts_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"nope.ts: file not found"):
        read_ts(tmp_path / "nope.ts")


# ---------------------------------------------------------------- .npz


def test_read_npz_equal_length_with_lengths(tmp_path):
    X = np.arange(2 * 4 * 3, dtype=np.float64).reshape(2, 4, 3)
    np.savez(tmp_path / "d.npz", X=X, y=np.array([3, 10]), lengths=np.array([2, 4]))
    data = read_npz(tmp_path / "d.npz")
    assert data.labels == ["3", "10"]
    np.testing.assert_array_equal(data.features[0], X[0, :2])
    np.testing.assert_array_equal(data.features[1], X[1])
    assert data.features[0].dtype == np.float32


def test_read_npz_one_feature_and_string_labels(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.ones((3, 5)), y=np.array(["cat", "dog", "cat"]))
    data = read_npz(tmp_path / "d.npz")
    assert data.labels == ["cat", "dog", "cat"]
    assert [x.shape for x in data.features] == [(5, 1)] * 3


def test_read_npz_per_example(tmp_path):
    seqs = [np.ones((3, 2)), np.zeros((1, 2)), np.full((7, 2), 2.0)]
    y = np.array([0, 1, 0])
    np.savez(tmp_path / "d.npz", y=y, **{f"X_{i}": x for i, x in enumerate(seqs)})
    data = read_npz(tmp_path / "d.npz")
    assert data.labels == ["0", "1", "0"]
    for got, want in zip(data.features, seqs, strict=True):
        np.testing.assert_array_equal(got, want)
    # 1-D per-example arrays are one feature; X_10 must sort after X_9 (numerically).
    seqs = [np.arange(i + 1.0) for i in range(11)]
    np.savez(tmp_path / "e.npz", y=np.arange(11), **{f"X_{i}": x for i, x in enumerate(seqs)})
    data = read_npz(tmp_path / "e.npz")
    assert [len(x) for x in data.features] == list(range(1, 12))
    assert data.labels[10] == "10"


def test_read_npz_object_array_explains(tmp_path):
    ragged = np.empty(2, dtype=object)
    ragged[:] = [np.zeros((3, 2)), np.zeros((4, 2))]
    np.savez(tmp_path / "d.npz", X=ragged, y=np.array([1, 2]))
    with pytest.raises(ValueError, match=r"d.npz: key 'X' is an object .*X_\{i\}"):
        read_npz(tmp_path / "d.npz")


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"X": np.zeros((2, 3, 1))}, r"d.npz: no key 'y'"),
        ({"y": np.array([1])}, r"d.npz: no key 'X'"),
        ({"X": np.zeros((2, 3, 1)), "y": np.array([1])}, r"key 'X' has 2 examples but key 'y'"),
        ({"X_0": np.zeros(3), "X_2": np.zeros(3), "y": np.array([1, 2])}, r"key 'X_1' missing"),
        ({"X": np.zeros((2, 3, 1)), "y": np.array([0.5, 1])}, r"key 'y' has non-integer"),
        (
            {"X": np.zeros((2, 3, 1)), "y": np.array([0, 1]), "lengths": np.array([1, 4])},
            r"key 'lengths': example 1 has length 4, expected 1..3",
        ),
        ({"X": np.full((1, 2, 1), np.inf), "y": np.array([0])}, r"example 0 has a non-finite"),
        ({"X": np.zeros((1, 2, 1, 1)), "y": np.array([0])}, r"key 'X' has shape \(1, 2, 1, 1\)"),
    ],
)
def test_read_npz_malformed(tmp_path, arrays, message):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        read_npz(tmp_path / "d.npz")


def test_read_npz_unlabelled_for_predict(tmp_path):
    # an input to predict from has no labels; one that has them is read the same
    X = np.arange(2 * 4 * 3, dtype=np.float64).reshape(2, 4, 3)
    np.savez(tmp_path / "d.npz", X=X)
    data = read_npz(tmp_path / "d.npz", labelled=False)
    assert data.labels == ["", ""] and [x.shape for x in data.features] == [(4, 3)] * 2
    np.savez(tmp_path / "e.npz", X=X, y=np.array([0.5]))  # not read: neither shape nor type
    np.testing.assert_array_equal(read_npz(tmp_path / "e.npz", labelled=False).features[1], X[1])
    np.savez(tmp_path / "f.npz", X_0=np.ones(3), X_1=np.ones((2, 1)))
    assert [len(x) for x in read_npz(tmp_path / "f.npz", labelled=False).features] == [3, 2]
    with pytest.raises(ValueError, match=r"d.npz: no key 'y'"):
        read_npz(tmp_path / "d.npz")


def test_read_npz_not_an_archive(tmp_path):
    (tmp_path / "d.npz").write_text("hello")
    with pytest.raises(ValueError, match=r"d.npz: not a .npz archive") as caught:
        read_npz(tmp_path / "d.npz")
    assert "pickle" not in str(caught.value)  # numpy's own message suggested allow_pickle


# ---------------------------------------------------------------- IDX


def _idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def test_read_idx_mnist_t10k(data_dir):
    images_path = data_dir / "mnist/t10k-images-idx3-ubyte.gz"
    labels_path = data_dir / "mnist/t10k-labels-idx1-ubyte.gz"
    data = read_idx_images(images_path, labels_path)
    assert len(data) == 10000 and data.num_features == 28
    assert data.features[0].shape == (28, 28) and data.features[0].dtype == np.float32
    # Oracle: the documented layout (16-byte header for images, 8 for labels).
    raw = np.frombuffer(gzip.decompress(images_path.read_bytes()), np.uint8, offset=16)
    np.testing.assert_array_equal(data.features[9999] * 255, raw[-784:].reshape(28, 28))
    labels = np.frombuffer(gzip.decompress(labels_path.read_bytes()), np.uint8, offset=8)
    assert data.labels == [str(v) for v in labels]
    assert data.labels[:5] == ["7", "2", "1", "0", "4"]
    assert 0.0 == min(x.min() for x in data.features[:100])
    assert max(x.max() for x in data.features[:100]) == 1.0


def test_read_idx_tiny_plain_and_gzip(tmp_path):
    values = np.arange(-12, 12, dtype=np.int16).reshape(2, 3, 4) * 100
    (tmp_path / "a.idx").write_bytes(_idx_bytes(values, 0x0B))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(_idx_bytes(values, 0x0B)))
    for name in ("a.idx", "a.idx.gz"):
        got = read_idx(tmp_path / name)
        assert got.dtype == np.int16 and got.dtype.isnative
        np.testing.assert_array_equal(got, values)
    images = np.array([[[0, 255], [51, 102]], [[255, 0], [0, 0]]], dtype=np.uint8)
    (tmp_path / "i.idx").write_bytes(_idx_bytes(images, 0x08))
    (tmp_path / "l.idx").write_bytes(_idx_bytes(np.array([5, 0], np.uint8), 0x08))
    data = read_idx_images(tmp_path / "i.idx", tmp_path / "l.idx")
    assert data.labels == ["5", "0"]
    np.testing.assert_allclose(data.features[0], [[0, 1], [0.2, 0.4]], rtol=1e-6)


def test_read_idx_broken(tmp_path):
    good = _idx_bytes(np.zeros((3, 2, 2), np.uint8), 0x08)
    (tmp_path / "short.idx").write_bytes(good[:-1])
    with pytest.raises(ValueError, match=r"short.idx: 27 bytes, but the header's shape"):
        read_idx(tmp_path / "short.idx")
    (tmp_path / "short.gz").write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(ValueError, match=r"short.gz: damaged gzip"):
        read_idx(tmp_path / "short.gz")
    (tmp_path / "magic.idx").write_bytes(b"\x01" + good[1:])
    with pytest.raises(ValueError, match=r"magic.idx: not an IDX file"):
        read_idx(tmp_path / "magic.idx")
    (tmp_path / "type.idx").write_bytes(good[:2] + b"\x07" + good[3:])
    with pytest.raises(ValueError, match=r"type.idx: unknown IDX type code 0x07"):
        read_idx(tmp_path / "type.idx")
    (tmp_path / "l.idx").write_bytes(_idx_bytes(np.zeros(4, np.uint8), 0x08))
    (tmp_path / "i.idx").write_bytes(good)
    with pytest.raises(ValueError, match=r"l.idx: 4 labels for the 3 images"):
        read_idx_images(tmp_path / "i.idx", tmp_path / "l.idx")


# ---------------------------------------------------------------- audio


def _delta(c: np.ndarray, order: int) -> np.ndarray:
    """Oracle: the regression delta over 9 frames (edges repeated), applied ``order`` times
    for order 1; order 2 is the least-squares second derivative of a quadratic fit."""
    padded = np.pad(c, ((0, 0), (4, 4)), mode="edge")
    n = np.arange(-4, 5, dtype=np.float64)
    if order == 1:
        weights = n / (n**2).sum()
    else:  # second derivative of the local least-squares quadratic: 2 * coefficient of n^2
        design = np.stack([np.ones_like(n), n, n**2], axis=1)
        weights = 2 * np.linalg.pinv(design)[2]
    T = c.shape[1]
    return np.stack([padded[:, t : t + 9] @ weights for t in range(T)], axis=1)


@pytest.fixture(scope="module")
def fsdd_subset(data_dir, tmp_path_factory):
    """Symlinks to 30 FSDD recordings: digits 0-9, three speakers' take 3 and two test takes."""
    recordings = data_dir / "fsdd/recordings"
    folder = tmp_path_factory.mktemp("fsdd")
    for digit in range(10):
        for index in (0, 4, 7):
            name = f"{digit}_jackson_{index}.wav"
            (folder / name).symlink_to(recordings / name)
    return folder


def test_audio_features_match_librosa(fsdd_subset):
    import librosa

    path = fsdd_subset / "3_jackson_7.wav"
    x = audio_features(path)
    y, sr = librosa.load(path, sr=8000)
    assert sr == 8000
    assert x.shape == (1 + len(y) // 80, 60) and x.dtype == np.float32
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=200, hop_length=80, n_mels=40)
    log_mel = 10 * np.log10(np.maximum(mel, 1e-10))
    np.testing.assert_allclose(audio_features(path, features="logmel"), log_mel.T, rtol=1e-4)
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=20)
    np.testing.assert_allclose(x[:, :20], mfcc.T, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(x[:, 20:40], _delta(mfcc, 1).T, rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(x[:, 40:], _delta(mfcc, 2).T, rtol=1e-3, atol=1e-2)


def test_audio_features_short_and_bad(tmp_path):
    import soundfile

    soundfile.write(tmp_path / "tiny.wav", np.full(50, 0.1), 8000)
    frames = audio_features(tmp_path / "tiny.wav", n_mfcc=13)  # 50 samples < one 200-sample frame
    assert frames.shape[0] >= 1 and frames.shape[1] == 39 and np.isfinite(frames).all()
    soundfile.write(tmp_path / "empty.wav", np.zeros(0), 8000)
    with pytest.raises(ValueError, match=r"empty.wav: no audio samples"):
        audio_features(tmp_path / "empty.wav")
    (tmp_path / "junk.wav").write_text("not audio")
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match=r"junk.wav: cannot read audio: \S"):
            audio_features(tmp_path / "junk.wav")
    assert not shown  # librosa's own warnings on the way are not the user's to read
    with pytest.raises(ValueError, match="features='mel'"):
        audio_features(tmp_path / "tiny.wav", features="mel")
    with pytest.raises(ValueError, match="hop_ms=0"):
        audio_features(tmp_path / "tiny.wav", hop_ms=0)


def test_read_audio_folder_split(fsdd_subset):
    train, test = read_audio_folder(fsdd_subset, test_pattern=r"_[0-4]\.wav$", features="logmel")
    assert test is not None
    assert (len(train), len(test)) == (10, 20) and train.num_features == 40
    assert train.names == sorted(train.names) and train.names[0] == "0_jackson_7.wav"
    assert test.names[:2] == ["0_jackson_0.wav", "0_jackson_4.wav"]
    assert train.labels == [str(d) for d in range(10)]
    np.testing.assert_array_equal(
        test.features[1], audio_features(fsdd_subset / "0_jackson_4.wav", features="logmel")
    )
    everything, none = read_audio_folder(fsdd_subset, label_pattern=r"[a-z]+", n_mfcc=5)
    assert none is None and len(everything) == 30 and everything.num_features == 15
    assert set(everything.labels) == {"jackson"}  # no group: the whole match


def test_read_audio_folder_of_one_subfolder_a_class(fsdd_subset, tmp_path):
    """Speech Commands' layout (``yes/*.wav``, ``no/*.wav``): a folder with no audio file of
    its own labels each file by its subfolder; test_pattern reads ``subfolder/name``."""
    import shutil

    for wav in sorted(fsdd_subset.glob("[01]_*.wav")):
        word = "zero" if wav.name.startswith("0") else "one"
        (tmp_path / word).mkdir(exist_ok=True)
        shutil.copy(wav, tmp_path / word / wav.name)
    train, test = read_audio_folder(tmp_path, test_pattern=r"_[0-4]\.wav$", n_mfcc=5)
    assert test is not None and (len(train), len(test)) == (2, 4)
    assert train.labels == ["one", "zero"] and train.names == [
        "one/1_jackson_7.wav",
        "zero/0_jackson_7.wav",
    ]
    assert sorted(set(test.labels)) == ["one", "zero"]


def test_read_audio_folder_errors(fsdd_subset, tmp_path):
    with pytest.raises(ValueError, match=r"0_jackson_0.wav: file name does not match .*'\^x'"):
        read_audio_folder(fsdd_subset, label_pattern="^x")
    with pytest.raises(ValueError, match="test_pattern 'zzz' matches no file"):
        read_audio_folder(fsdd_subset, test_pattern="zzz")
    with pytest.raises(ValueError, match="label_pattern='\\(': not a regular expression"):
        read_audio_folder(fsdd_subset, label_pattern="(")
    with pytest.raises(ValueError, match=r"no audio files .*, nor in its subfolders"):
        read_audio_folder(tmp_path)


# ---------------------------------------------------------------- CSV / TSV


def test_read_table_by_name_and_index(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('id,review,1\n7,"good, very good",1\n8,bad,0\n')
    by_name = read_table(path, "review", "1")  # "1" names a column here, not index 1
    assert by_name == [LabeledLine("1", "good, very good", 2), LabeledLine("0", "bad", 3)]
    # "2" is no column name: an index (the header here fools the sniffer: say it is one)
    assert read_table(path, 1, "2", header=True) == by_name
    assert [e.label for e in read_table(path, "review", "id")] == ["7", "8"]


def test_read_table_default_columns_find_the_usual_names(tmp_path):
    """A Kaggle-style ``Review,Sentiment`` file needed --text-column and --label-column: the
    defaults (text, label) now also find the usual other names, in any case; a name of one's
    own is the only one looked for."""
    path = tmp_path / "t.csv"
    path.write_text("id,Review,Sentiment\n0,a fine film,positive\n1,dull,negative\n")
    assert read_table(path, "text", "label") == [
        LabeledLine("positive", "a fine film", 2),
        LabeledLine("negative", "dull", 3),
    ]
    assert [e.text for e in read_table(path, "text", "text")] == ["a fine film", "dull"]
    with pytest.raises(ValueError, match="label column 'verdict': no such column"):
        read_table(path, "text", "verdict")
    path.write_text("sentence,text,label\nignored,the text,1\nx,more,0\n")
    assert [e.text for e in read_table(path, "text", "label")] == ["the text", "more"]


def test_read_table_header_names_are_read_without_their_spaces(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id, review ,sentiment\n0,a fine film,good\n1,dull,bad\n")
    assert [e.text for e in read_table(path, "review", "sentiment")] == ["a fine film", "dull"]


def test_read_table_multiline_records_and_tsv(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('label,text\npos,"line one\nline two"\n\nneg,"x ""quoted"""\n')
    assert read_table(path, "text", "label") == [
        LabeledLine("pos", "line one\nline two", 2),
        LabeledLine("neg", 'x "quoted"', 5),
    ]
    tsv = tmp_path / "t.tsv"
    tsv.write_text("label\ttext\n01\ta, b; c\n")
    assert read_table(tsv, "text", "label") == [LabeledLine("01", "a, b; c", 2)]
    semi = tmp_path / "semi.txt"
    semi.write_text("label;text\n1;hello there\n0;bye now\n")
    assert read_table(semi, "text", "label")[1] == LabeledLine("0", "bye now", 3)


def test_read_table_header_detection_with_indices(tmp_path):
    with_header = tmp_path / "h.csv"
    with_header.write_text("label,text\n1,a fine film\n0,dull\n1,ok\n")
    assert [e.line for e in read_table(with_header, 1, 0)] == [2, 3, 4]
    without = tmp_path / "n.csv"
    without.write_text("1,a fine film\n0,dull\n1,ok\n")
    assert [e.label for e in read_table(without, 1, 0)] == ["1", "0", "1"]
    assert len(read_table(with_header, 1, 0, header=False)) == 4


def test_read_table_a_number_never_makes_the_first_record_a_header(tmp_path):
    """Columns given by index as the CLI passes them ("1", "0") in a headerless file whose
    first record's label is 1: before, "1" was taken for that cell's column name, the record
    for a header and the labels for the texts (100 % accuracy on nothing)."""
    path = tmp_path / "yelp.csv"
    path.write_text('1,"a fine, fine film"\n0,dull\n1,ok then\n0,"bad, really"\n')
    examples = read_table(path, "1", "0")
    assert [(e.label, e.text, e.line) for e in examples] == [
        ("1", "a fine, fine film", 1), ("0", "dull", 2), ("1", "ok then", 3),
        ("0", "bad, really", 4),
    ]  # fmt: skip
    # text first: a first record whose label recurs below is data, whatever the sniffer says
    text_first = tmp_path / "text_first.csv"
    text_first.write_text("a fine film,1\ndull and slow,0\nok,1\nbad,0\n")
    assert [e.line for e in read_table(text_first, "0", "1")] == [1, 2, 3, 4]
    named = tmp_path / "named.csv"
    named.write_text("text,label\nfine,1\n")
    with pytest.raises(ValueError, match=r"named.csv: the text column \('text'\) and the label"):
        read_table(named, "text", "0")  # column "text" is column 0


def test_read_table_leaves_out_records_with_an_empty_text_or_label_when_asked(tmp_path):
    """A review with no body (or no rating) is one record of many: a training run leaves it
    out and says where; without ``skipped`` (a predict input, whose rows must all be
    answered) it is an error naming the line."""
    path = tmp_path / "t.csv"
    path.write_text('label,text\npos,fine\nneg,""\n,no label\nneg, dull \nNaN,pandas\n')
    skipped: list[int] = []
    examples = read_table(path, "text", "label", skipped=skipped)
    assert [(e.label, e.text, e.line) for e in examples] == [("pos", "fine", 2), ("neg", "dull", 5)]
    assert skipped == [3, 4, 6]  # NaN: how pandas writes a missing label
    with pytest.raises(ValueError, match=r"t.csv:3: empty text"):
        read_table(path, "text", "label")
    empty = tmp_path / "empty.csv"
    empty.write_text("label,text\npos,\n")
    with pytest.raises(ValueError, match=r"empty.csv: no examples \(every record has an empty"):
        read_table(empty, "text", "label", skipped=[])


def test_read_table_errors(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("label,text\npos,fine\nneg\n")
    with pytest.raises(ValueError, match=r"t.csv:3: 1 columns, expected at least 2"):
        read_table(path, "text", "label")
    with pytest.raises(ValueError, match=r"t.csv:1: text column 'body': no such column"):
        read_table(path, "body", "label")
    with pytest.raises(ValueError, match=r"t.csv: text column 'text' is a column name, which"):
        read_table(path, "text", "label", header=False)
    with pytest.raises(ValueError, match=r"t.csv.missing: file not found"):
        read_table(tmp_path / "t.csv.missing", 0, 1)
    (tmp_path / "bin.csv").write_bytes(b"label,text\npos,\xff\n")
    with pytest.raises(ValueError, match=r"bin.csv:2: not UTF-8"):
        read_table(tmp_path / "bin.csv", 1, 0)


def test_text_lines_end_blank_lines_are_dropped_but_a_blank_line_inside_is_an_error(tmp_path):
    path = tmp_path / "inputs.txt"
    path.write_bytes(b"\xef\xbb\xbfa fine film\r\ndull\r\n\r\n  \r\n")
    assert read_text_lines(path) == ["a fine film", "dull"]
    path.write_text("a fine film\n\ndull\n")
    with pytest.raises(ValueError, match=r"inputs.txt:2: blank line, expected a text"):
        read_text_lines(path)


# ------------------------------------------------- what real files hold (a helper's sweep)


def test_a_quote_mark_opening_a_tsv_text_is_text_not_quoting(tmp_path):
    """GLUE-style TSV: a text opening with `"` swallowed every line up to the next quote
    mark (300 rows read as 110, one text of 18 808 characters)."""
    rows = ['" the film is great', "plain text", '"funny', "dull and long"]
    path = tmp_path / "glue.tsv"
    path.write_text("sentence\tlabel\n" + "".join(f"{t}\t{i % 2}\n" for i, t in enumerate(rows)))
    examples = read_table(path, "sentence", "label")
    assert [e.text for e in examples] == [r.strip() for r in rows]
    assert [e.line for e in examples] == [2, 3, 4, 5]
    quoted = tmp_path / "pandas.tsv"  # pandas quotes a text holding a tab: real quoting
    quoted.write_text('text\tlabel\n"a\tb"\t1\nplain\t0\n"two\nlines"\t1\n')
    assert [e.text for e in read_table(quoted, "text", "label")] == ["a\tb", "plain", "two\nlines"]


def test_a_record_with_more_columns_than_the_header_is_an_error(tmp_path):
    """A tab inside a TSV text made its tail the label: five classes out of two."""
    path = tmp_path / "t.tsv"
    path.write_text("text\tlabel\nfine\t1\ncut\there\t0\n")
    with pytest.raises(ValueError, match=r"t.tsv:3: 3 columns, but the header has 2"):
        read_table(path, "text", "label")
    closing = tmp_path / "c.csv"  # an empty field closing a line is no column
    closing.write_text("text,label\nfine,1,\nok,0\n")
    assert len(read_table(closing, "text", "label")) == 2


def test_missing_labels_as_pandas_writes_them_are_left_out(tmp_path):
    path = tmp_path / "m.csv"
    labels = ["1", "NA", "null", "?", "N/A", "NaN", "0", ""]
    path.write_text("text,label\n" + "".join(f"t{i},{lab}\n" for i, lab in enumerate(labels)))
    skipped: list[int] = []
    examples = read_table(path, "text", "label", skipped=skipped)
    assert [e.label for e in examples] == ["1", "0"] and skipped == [3, 4, 5, 6, 7, 9]


def test_a_column_name_given_twice_in_the_header_is_an_error(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label,text\na,1,b\n")
    with pytest.raises(ValueError, match=r"d.csv:1: text column 'text': two columns"):
        read_table(path, "text", "label")


def test_compressed_utf16_joined_and_pickled_files(tmp_path):
    """gzip and UTF-16 were "not UTF-8 text"; the byte order mark of a second file joined
    with cat became part of a label ("\\ufeff1", a third class); a pickle was read as text."""
    text = "text,label\nnice film,1\nbad film,0\n"
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "t16.csv").write_bytes(text.encode("utf-16"))
    for name in ("t.csv.gz", "t16.csv"):
        assert [e.label for e in read_table(tmp_path / name, "text", "label")] == ["1", "0"]
    bom = b"\xef\xbb\xbf"
    (tmp_path / "joined.txt").write_bytes(bom + b"1 nice\n" + bom + b"0 bad\n")
    assert [e.label for e in read_labeled_lines(tmp_path / "joined.txt")] == ["1", "0"]
    (tmp_path / "rolls.pickle").write_bytes(pickle.dumps({"train": [[60, 64]]}))
    with pytest.raises(ValueError, match=r"rolls.pickle: a Python pickle, which rnnkit does"):
        read_labeled_lines(tmp_path / "rolls.pickle")


def test_npz_nan_padding_ends_each_example(tmp_path):
    """NaN padding, rnnkit.Classifier's convention, was "a non-finite value" in an .npz."""
    X = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    X[0, 2] = np.nan
    X[1, 0, 1] = np.nan  # inside a sequence: still an error
    np.savez(tmp_path / "p.npz", X=X[:1], y=[1])
    assert [len(x) for x in read_npz(tmp_path / "p.npz").features] == [2]
    np.savez(tmp_path / "bad.npz", X=X, y=[1, 0])
    with pytest.raises(ValueError, match=r"example 1 has a non-finite value"):
        read_npz(tmp_path / "bad.npz").check()


def test_pandas_variable_length_series_a_line_is_told_as_rows(tmp_path):
    """pandas writes the NaN padding of shorter series as empty cells, after its index."""
    path = tmp_path / "var.csv"
    path.write_text(",t0,t1,t2,t3,label\n0,0.5,1.5,,,1\n1,0.25,1.0,2.0,3.5,0\n")
    assert looks_like_rows(path)
    data = read_rows(path)
    assert [len(x) for x in data.features] == [2, 4] and data.labels == ["1", "0"]
