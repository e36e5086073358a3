"""AS-Norm in the runtime: the normaliser, the bundle's cohort, calibration binding, and the
same normalised score in verify, evaluation and the gallery — on a copy of the default voice
model given a cohort (the shipped bundle scores raw cosines: docs/models.md says why)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bioverify.bundle import BUNDLE_FILE, BundleInfo, load_bundle
from bioverify.errors import InvalidInput, ModelError, ModelMismatch
from bioverify.gallery import Gallery
from bioverify.verify import Verifier
from bioverify.verify.api import default_bundle
from bioverify.verify.evaluation import Pair, score_pairs, score_samples
from bioverify.verify.score_norm import ScoreNormalizer, bundle_key, install_cohort
from helpers import make_fake_lfw, one_line_error, run_cli, write_split

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
A1, A2, B1 = (str(EXAMPLES / f"voice_{n}.ogg") for n in ("a1", "a2", "b1"))


TOP_K = 20


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def normed_voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default voice bundle with a cohort (100 random unit rows, top 20) and a
    calibration fitted on normalised scores (synthetic), bound to both."""
    from bioverify.calibration import fit_calibration

    folder = Path(shutil.copytree(default_bundle("voice"), tmp_path_factory.mktemp("v") / "v"))
    info = load_bundle(folder)
    rows = _unit(np.random.default_rng(7), 100, info.embedding_dim).astype(np.float32)
    install_cohort(info, rows, TOP_K, "100 random unit rows")
    info = load_bundle(folder)
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.normal(3.0, 1.0, 600), rng.normal(0.0, 1.0, 4000)])
    fit_calibration(
        scores,
        np.arange(scores.size) < 600,
        target_fars=(1e-2,),
        model_sha256=info.model_sha256,
        score_normalization=bundle_key(info),
    ).save(folder / "calibration.json")
    return folder


@pytest.fixture(scope="module")
def voice(normed_voice: Path) -> Verifier:
    return Verifier.load(normed_voice)


def test_normalizer_is_the_as_norm_formula() -> None:
    rng = np.random.default_rng(0)
    cohort, a, b = _unit(rng, 50, 8), _unit(rng, 5, 8), _unit(rng, 5, 8)
    norm = ScoreNormalizer(cohort, 10, "0" * 64)
    expected = []
    for x, y in zip(a, b, strict=True):
        top_x, top_y = np.sort(cohort @ x)[-10:], np.sort(cohort @ y)[-10:]
        s = float(x @ y)
        expected.append(
            0.5
            * (
                (s - top_x.mean()) / (top_x.std() + 1e-6)
                + (s - top_y.mean()) / (top_y.std() + 1e-6)
            )
        )
    assert np.allclose(norm.score(a, b), expected)
    with pytest.raises(ModelError, match=r"top_k 51 must be in 1\.\.50"):
        ScoreNormalizer(cohort, 51, "0" * 64)


def test_a_bundle_with_a_cohort_scores_with_as_norm(voice: Verifier) -> None:
    assert Verifier.load("voice").normalizer is None  # the shipped bundle: raw cosines
    assert voice.normalizer is not None and voice.normalizer.top_k == TOP_K
    assert voice.normalizer.cohort.shape[1] == 256
    assert voice.calibration is not None
    assert voice.calibration.score_normalization == voice.normalizer.key
    assert bundle_key(voice.info) == voice.normalizer.key
    raw = Verifier.load(
        voice.info.folder, calibration=False, threshold=0.0, score_normalization="none"
    )
    same, other = voice.verify_many([(A1, A2), (A1, B1)])
    raw_same = raw.verify(A1, A2).score
    a1, a2 = voice.embed([A1, A2])
    assert -1.0 <= raw_same <= 1.0 and raw_same == pytest.approx(float(a1 @ a2), abs=1e-6)
    assert same.score == pytest.approx(voice.normalizer.score(a1, a2)[0])
    assert same.score == pytest.approx(voice.score(a1, a2))
    assert same.score > other.score
    with pytest.raises(InvalidInput, match="score_normalization must be one of"):
        Verifier.load(voice.info.folder, score_normalization="snorm")


def test_a_calibration_fitted_on_other_scores_is_refused(voice: Verifier) -> None:
    folder = voice.info.folder
    with pytest.raises(ModelMismatch, match=rf"fitted on as-norm top_k={TOP_K} .* raw cosine"):
        Verifier.load(folder, score_normalization="none")
    from tiny_bundles import synthetic_calibration

    raw_calibration = synthetic_calibration(voice.model_sha256)
    with pytest.raises(ModelMismatch, match="fitted on raw cosine scores, but the verifier"):
        Verifier.load(folder, calibration=raw_calibration)
    loaded = Verifier.load(folder, calibration=raw_calibration, score_normalization="none")
    assert loaded.normalizer is None and loaded.threshold is not None


def test_evaluation_scores_are_the_scores_of_verify(voice: Verifier) -> None:
    pairs = [
        Pair(Path(A1), Path(A2), True, "a", "a"),
        Pair(Path(A1), Path(B1), False, "a", "b"),
        Pair(Path(A2), Path(B1), False, "a", "b"),
    ]
    direct = [r.score for r in voice.verify_many([(p.a, p.b) for p in pairs])]
    assert np.allclose(score_pairs(voice, pairs).scores, direct, atol=1e-6)
    trials = score_samples(voice, [A1, A2, B1], ["a", "a", "b"], smallest_far=0.5)
    assert trials.labels.tolist().count(True) == 1 and trials.scores.size == 3  # every pair
    assert np.allclose(np.sort(trials.scores), np.sort(direct), atol=1e-6)


def test_gallery_verify_and_identify_decide_on_the_same_normalised_score(
    voice: Verifier, tmp_path: Path
) -> None:
    with Gallery(tmp_path / "g.db", voice) as gallery:
        assert gallery.enroll("alice", [A1]).ok and gallery.enroll("bob", [B1]).ok
        claims = {name: gallery.verify(name, A2) for name in ("alice", "bob")}
        found = gallery.identify(A2, top_k=2)
    assert claims["alice"].score == pytest.approx(voice.verify(A1, A2).score, abs=1e-6)
    assert claims["bob"].score == pytest.approx(voice.verify(B1, A2).score, abs=1e-6)
    scores = {c.identity: c.score for c in found.candidates}
    for name, claim in claims.items():
        assert (name in scores) == claim.match
        if name in scores:
            assert scores[name] == claim.score  # bit for bit


def _copy_voice(source: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(source, tmp_path / "voice"))


def _rewrite(folder: Path, **section: object) -> None:
    data = json.loads((folder / BUNDLE_FILE).read_text())
    data["score_normalization"].update(section)
    (folder / BUNDLE_FILE).write_text(json.dumps(data))


def test_a_tampered_missing_or_malformed_cohort_is_refused(
    normed_voice: Path, tmp_path: Path
) -> None:
    folder = _copy_voice(normed_voice, tmp_path)
    cohort = folder / "cohort.npy"
    data = bytearray(cohort.read_bytes())
    data[-1] ^= 1
    cohort.write_bytes(bytes(data))
    with pytest.raises(ModelMismatch, match="cohort"):
        load_bundle(folder)
    with pytest.raises(ModelMismatch, match="cohort"):
        Verifier.load(folder, calibration=False)
    cohort.unlink()
    with pytest.raises(ModelError, match=r"cohort file cohort\.npy is missing"):
        load_bundle(folder)
    for array, problem in (
        (np.array([{"x": 1}], dtype=object), "not a readable .npy"),
        (np.ones((10, 3), np.float32), "must be float32 \\[K, 256\\]"),
        (np.full((10, 256), 2.0, np.float32), "finite unit vectors"),
    ):
        np.save(cohort, array, allow_pickle=True)
        from bioverify.bundle import file_sha256

        _rewrite(folder, cohort_sha256=file_sha256(cohort))
        with pytest.raises(ModelError, match=problem):
            Verifier.load(folder, calibration=False)
    _rewrite(folder, top_k="200")
    with pytest.raises(ModelError, match="top_k must be a positive integer"):
        load_bundle(folder)
    _rewrite(folder, top_k=200, cohort_file="../cohort.npy")
    with pytest.raises(ModelError, match="plain file name"):
        load_bundle(folder)


def test_install_cohort_keeps_the_model_and_its_sha256(
    voice_bundle: BundleInfo, tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(voice_bundle.folder, tmp_path / "tiny"))
    info = load_bundle(folder)
    model_bytes = info.model_path.read_bytes()
    rows = _unit(np.random.default_rng(1), 20, info.embedding_dim).astype(np.float32)
    section = install_cohort(info, rows, 5, "20 random rows")
    reloaded = load_bundle(folder)
    assert reloaded.model_path.read_bytes() == model_bytes
    assert reloaded.model_sha256 == info.model_sha256
    assert reloaded.score_normalization == section and section["top_k"] == 5
    assert "score_normalization" not in reloaded.metadata_props()
    verifier = Verifier.load(folder, calibration=False, threshold=0.0)
    assert verifier.normalizer is not None and np.allclose(verifier.normalizer.cohort, rows)
    with pytest.raises(InvalidInput, match="does not fit"):
        install_cohort(info, rows, 21, "too few")


def test_cli_score_norm_and_info(normed_voice: Path) -> None:
    model = normed_voice
    code, _, err = run_cli("verify", A1, A2, "--model", model, "--score-norm", "none")
    assert "fitted on as-norm" in one_line_error(code, err)
    code, out, err = run_cli(
        "verify", A1, A2, "--model", model, "--score-norm", "none", "--threshold", "0.5"
    )
    assert code == 0, err
    score = float(out.split("score")[1].split()[0])
    assert -1.0 <= score <= 1.0
    _, out, _ = run_cli("info", model)
    assert f"scores       AS-Norm (top {TOP_K} cohort scores)" in out
    assert "(bound to this model)" in out


def test_cli_cohort_from_train_identities_then_calibrate(
    face_bundle: BundleInfo, tmp_path: Path
) -> None:
    bundle = Path(shutil.copytree(face_bundle.folder, tmp_path / "bundle"))
    root = make_fake_lfw(tmp_path / "data", people=8, per_person=3)
    train, test = [f"Person_{k}" for k in range(4)], [f"Person_{k}" for k in range(4, 8)]
    split = write_split(tmp_path / "split.json", test, train)
    aligned = ["--face-mode", "aligned"]
    common = ["--model", bundle, "--data", root, "--split", split, *aligned]
    code, _, err = run_cli("cohort", *common, "--size", "10", "--top-k", "4")
    assert code == 0, err
    info = load_bundle(bundle)
    section = info.score_normalization
    assert section["top_k"] == 4 and section["cohort_source"].startswith(
        "10 samples of 4 train identities of split.json (data)"
    )
    assert not any(name in section["cohort_source"] for name in train + test)
    assert np.load(bundle / "cohort.npy", allow_pickle=False).shape == (10, info.embedding_dim)
    assert info.model_sha256 == face_bundle.model_sha256
    code, _, err = run_cli(
        "calibrate", *common, "--install", "--target-far", "0.1", "--bootstrap", "20"
    )
    assert code == 0, err
    verifier = Verifier.load(bundle, face_mode="aligned")
    assert verifier.normalizer is not None and verifier.calibration is not None
    assert verifier.calibration.score_normalization == verifier.normalizer.key
    with pytest.raises(ModelMismatch, match="fitted on as-norm top_k=4"):
        Verifier.load(bundle, score_normalization="none")
