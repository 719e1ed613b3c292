"""Concepts: NMF properties, recovery of planted concepts, importance (Sobol against analytic
truths, and the exact share), refine, attribution maps, the page and the CLI."""

import argparse
import re
import tracemalloc
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest

from xmaco import concepts
from xmaco.concepts import (
    ConceptBank,
    attribution_maps,
    attribution_overlay,
    discover,
    nmf,
    plot_attributions,
    project,
    refine,
    sobol_importance,
    total_order,
    visualize_concepts,
    write_page,
)

SIZE = 64  # images; the model reads 32 x 32 crops of them (crop_size 0.5: no rescaling)
# Planted concepts: how the two texture detectors spread over the 8 channels of "features".
MIXING = np.array(
    [
        [1.0, 1.0, 1.0, 0.0, 0.0, 0.2, 0.0, 0.5],  # stripes
        [0.0, 0.0, 0.3, 1.0, 1.0, 1.0, 0.0, 0.5],  # dots
    ],
    np.float32,
)
# The weights of the two classes: for class 0 a unit of stripes adds 2.54 to the logit, a unit
# of dots 0.75; for class 1 stripes add 0.2 and dots 3.
CLASS_WEIGHTS = np.array(
    [[1.0, 1.0, 0.5, 0.2, 0.2, 0.2, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]],
    np.float32,
).T


def _textures(seed: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Images made of four 32 x 32 quadrants, each stripes, dots or blank; and the layout
    (count, 2, 2) with 1 = stripes, 2 = dots, 0 = blank."""
    rng = np.random.default_rng(seed)
    stripes, dots = _tile(1)[..., 0], _tile(2)[..., 0]
    layout = rng.choice(3, size=(count, 2, 2), p=[0.2, 0.4, 0.4])
    images = np.zeros((count, SIZE, SIZE, 1), np.float32)
    for i in range(count):
        for row in range(2):
            for col in range(2):
                tile = {0: np.zeros_like(stripes), 1: stripes, 2: dots}[layout[i, row, col]]
                images[i, 32 * row : 32 * row + 32, 32 * col : 32 * col + 32, 0] = tile
    return images, layout


def _planted_model() -> keras.Model:
    """Gradient magnitudes -> a stripe detector (horizontal gradient only) and a dot
    detector (both gradients), pooled over 8 x 8 windows -> 8 mixed channels -> GAP ->
    Dense. All weights fixed."""
    inputs = keras.Input((32, 32, 1))
    gradients = keras.layers.Conv2D(4, 2, use_bias=False, activation="relu", name="gradients")
    detectors = keras.layers.Conv2D(2, 8, use_bias=False, activation="relu", name="detectors")
    mixing = keras.layers.Conv2D(8, 1, use_bias=False, activation="relu", name="features")
    x = mixing(detectors(gradients(inputs)))
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    logits = keras.layers.Dense(2, name="logits")
    model = keras.Model(inputs, logits(x), name="planted")
    gx = np.array([[-1.0, 1.0], [-1.0, 1.0]]) / 2
    gy = gx.T
    kernel = np.stack([gx, -gx, gy, -gy], axis=-1)[:, :, None, :]
    gradients.kernel.assign(kernel.astype(np.float32))
    # stripes: |gx| - 2 |gy| (dots have as much of one as of the other); dots: 4 |gy| - 2 |gx|,
    # which gives both detectors about the same response to their texture
    window = np.ones((8, 8, 4, 2), np.float32) / 64
    window[:, :, :, 0] *= np.array([1.0, 1.0, -2.0, -2.0])[:, None].T
    window[:, :, :, 1] *= np.array([-2.0, -2.0, 4.0, 4.0])[:, None].T
    detectors.kernel.assign(window)
    mixing.kernel.assign(MIXING[None, None])
    logits.set_weights([CLASS_WEIGHTS, np.zeros(2, np.float32)])
    return model


@pytest.fixture(scope="module")
def planted():
    images, layout = _textures(seed=0, count=60)
    return _planted_model(), images, layout


def _cover(bank: ConceptBank, layout: np.ndarray, texture: int) -> np.ndarray:
    """The fraction of each crop covered by quadrants of ``texture``."""
    quadrant = (layout == texture).astype(np.float64)  # (N, 2, 2)
    y1, x1, y2, x2 = (bank.boxes[:, i].astype(np.float64) for i in range(4))
    out = np.zeros(len(bank.boxes))
    for row in range(2):
        for col in range(2):
            dy = np.clip(np.minimum(y2, (row + 1) / 2) - np.maximum(y1, row / 2), 0, None)
            dx = np.clip(np.minimum(x2, (col + 1) / 2) - np.maximum(x1, col / 2), 0, None)
            out += quadrant[bank.owners, row, col] * dy * dx
    return out / ((y2 - y1) * (x2 - x1))


# ---------------------------------------------------------------------------- NMF
def test_nmf_is_non_negative_has_the_shapes_and_its_error_never_increases():
    rng = np.random.default_rng(0)
    matrix = rng.random((120, 3)) @ rng.random((3, 40)) + 0.05 * rng.random((120, 40))
    factors = nmf(matrix, rank=3, iterations=60, tol=0.0, seed=1)
    assert factors.coefficients.shape == (120, 3) and factors.components.shape == (3, 40)
    assert factors.coefficients.min() >= 0 and factors.components.min() >= 0
    assert len(factors.errors) == 60
    assert np.all(np.diff(factors.errors) <= 1e-12)
    np.testing.assert_allclose(np.linalg.norm(factors.components, axis=1), 1.0, rtol=1e-6)
    direct = np.linalg.norm(matrix - factors.coefficients @ factors.components)
    assert factors.error == pytest.approx(direct / np.linalg.norm(matrix), rel=1e-6)
    assert factors.error < 0.05


def test_nmf_recovers_an_exact_low_rank_factorisation():
    rng = np.random.default_rng(2)
    truth = np.maximum(rng.normal(size=(4, 30)), 0)
    amounts = rng.gamma(0.5, size=(500, 4))
    factors = nmf(amounts @ truth, rank=4, seed=0)
    assert factors.error < 1e-2
    cosine = _unit(factors.components) @ _unit(truth).T
    assert np.all(cosine.max(axis=1) > 0.99)


def test_nmf_is_reproducible_and_float32_by_default():
    matrix = np.random.default_rng(3).random((50, 12)).astype(np.float32)
    first, second = nmf(matrix, 2, seed=5), nmf(matrix, 2, seed=5)
    assert first.components.dtype == np.float32
    np.testing.assert_array_equal(first.components, second.components)


def _planted_activations(crops: int) -> np.ndarray:
    """(crops, 1280): ten non-negative concepts over EfficientNet's 1280 channels, mixed."""
    rng = np.random.default_rng(0)
    truth = np.maximum(rng.normal(size=(10, 1280)), 0).astype(np.float32)
    return rng.gamma(0.5, size=(crops, 10)).astype(np.float32) @ truth


def test_nmf_of_tens_of_thousands_of_crops_needs_memory_linear_in_the_matrix():
    matrix = _planted_activations(20000)
    tracemalloc.start()
    try:
        factors = nmf(matrix, rank=10, iterations=3, seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert factors.coefficients.shape == (20000, 10) and len(factors.errors) == 3
    # a few copies of the matrix (3 today, one of them float64); an n x n array alone would
    # weigh 16 matrices
    assert peak < 6 * matrix.nbytes, peak / matrix.nbytes


def test_nmf_stops_on_its_tolerance_after_tens_of_iterations():
    factors = nmf(_planted_activations(5000), rank=10, seed=0)
    assert 10 < len(factors.errors) <= 60, len(factors.errors)  # the cap is 500
    assert factors.error < 0.01, factors.error


def test_project_solves_non_negative_least_squares():
    components = _unit(np.random.default_rng(4).random((3, 10)))
    amounts = np.array([[1.0, 0.0, 2.0], [0.5, 3.0, 0.0]])
    np.testing.assert_allclose(project(amounts @ components, components), amounts, atol=1e-4)


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: nmf(-np.ones((4, 4)), 2), "non-negative"),
        (lambda: nmf(np.ones((4, 4)), 5), "rank=5"),
        (lambda: nmf(np.ones((4,)), 1), "2-D"),
        (lambda: nmf(np.ones((4, 4)), 2, tol=-1), "tol=-1"),
        (lambda: project(np.ones((4, 4)), np.ones((2, 3))), "(k, 4)"),
    ],
)
def test_nmf_bad_inputs_name_the_argument(call, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        call()


# ---------------------------------------------------------------------------- planted concepts
def test_the_planted_model_sees_the_textures_apart(planted):
    model = planted[0]
    detectors = keras.Model(model.inputs[0], model.get_layer("detectors").output)
    stripes = np.asarray(detectors(_tile(1)[None])).mean(axis=(0, 1, 2))
    dots = np.asarray(detectors(_tile(2)[None])).mean(axis=(0, 1, 2))
    assert stripes[0] > 0.1 and stripes[1] < 0.02 * stripes[0]
    assert dots[1] > 0.1 and dots[0] < 0.02 * dots[1]


def test_concepts_recover_the_planted_ones_and_rank_the_decisive_first(planted):
    model, images, layout = planted
    bank = discover(
        model, "features", images, 0, rank=2, crops=24, crop_size=0.5, importance="share"
    )
    cosine = _unit(bank.vectors) @ _unit(MIXING).T  # recovered x planted
    match = cosine.argmax(axis=1)
    assert sorted(match) == [0, 1]
    assert np.all(cosine.max(axis=1) > 0.95), cosine
    for k in range(2):
        cover = _cover(bank, layout, texture=match[k] + 1)
        assert np.corrcoef(bank.coefficients[:, k], cover)[0, 1] > 0.9
    # for class 0, stripes (planted 0) weigh more than dots: they rank first
    assert match[0] == 0
    assert bank.importance[0] > bank.importance[1] > 0
    assert bank.importance_method == "linear head"
    assert abs(np.abs(bank.importance).sum() - 1) < 1e-9
    # for class 1, dots do
    other = discover(model, "features", images, class_index=1, rank=2, crops=24, crop_size=0.5)
    assert (_unit(other.vectors) @ _unit(MIXING).T)[0].argmax() == 1


def test_top_crops_express_their_concept(planted):
    model, images, layout = planted
    bank = discover(model, "features", images, 0, rank=2, crops=24, crop_size=0.5, top=5)
    assert bank.top.shape == (2, 5) and bank.top_crops.shape == (2, 5, 32, 32, 1)
    for k in range(2):
        chosen = bank.coefficients[bank.top[k], k]
        assert np.all(np.diff(chosen) <= 0)
        assert chosen[-1] >= np.quantile(bank.coefficients[:, k], 0.9)
    texture = (_unit(bank.vectors) @ _unit(MIXING).T)[0].argmax() + 1
    assert _cover(bank, layout, texture)[bank.top[0]].mean() > 0.8


def test_a_non_linear_head_uses_the_sensitivity_and_agrees(planted):
    model, images, _ = planted
    x = keras.layers.GlobalAveragePooling2D()(model.get_layer("features").output)
    x = keras.layers.Activation("softplus", name="soft")(model.get_layer("logits")(x))
    nonlinear = keras.Model(model.inputs, x)
    bank = discover(
        nonlinear, "features", images, 0, rank=2, crops=16, crop_size=0.5, importance="share"
    )
    assert bank.importance_method == "sensitivity"
    assert (_unit(bank.vectors) @ _unit(MIXING).T)[0].argmax() == 0
    assert bank.importance[0] > bank.importance[1] > 0


def test_visualize_concepts_is_one_batched_run_and_the_page_ranks_them(planted, tmp_path):
    model, images, _ = planted
    bank = discover(model, "features", images[:10], 0, rank=2, crops=8, crop_size=0.5, top=3)
    result = visualize_concepts(bank, model, steps=2, crops=2, image_size=48, seed=0)
    assert len(result) == 2 and result.history.shape == (2, 2)
    assert result.names == ["class 0 concept 1", "class 0 concept 2"]
    assert result.config["objective"] == ["features:direction 0", "features:direction 1"]
    # recorded to 6 decimals
    assert result.config["concepts"]["importance"] == pytest.approx(bank.importance, abs=5e-7)
    page = write_page(tmp_path / "page", bank, result)
    _check_page(page, concepts=2, crops=3)


def test_discover_reads_a_folder_and_checks_its_inputs(planted, tmp_path):
    model, images, _ = planted
    folder = _write_folder(tmp_path / "class0", images[:4])
    bank = discover(model, "features", folder, 0, rank=2, crops=4, crop_size=0.5)
    assert bank.owners.max() == 3
    negative = keras.Model(model.inputs, keras.layers.Dense(3, name="signed")(model.output))
    with pytest.raises(ValueError, match="non-negative activations"):
        discover(negative, "signed", images[:2], 0, rank=1, crops=2)
    with pytest.raises(ValueError, match="none found"):
        discover(model, "features", tmp_path, 0)
    with pytest.raises(ValueError, match="class_index=7"):
        discover(model, "features", images[:2], 7)
    with pytest.raises(ValueError, match="crop_size=1.5"):
        discover(model, "features", images[:2], 0, crop_size=1.5)


# ---------------------------------------------------------------------------- Sobol importance
WEIGHTS = np.array([3.0, 2.0, 1.0], np.float32)


def _linear_model() -> keras.Model:
    """Three identity channels ("features", ReLU) over a 4 x 4 image, pooled, and a logit
    ``3 mean(c0) + 2 mean(c1) + 1 mean(c2) + 0.5``."""
    inputs = keras.Input((4, 4, 3))
    features = keras.layers.Conv2D(3, 1, use_bias=False, activation="relu", name="features")
    pooled = keras.layers.GlobalAveragePooling2D()(features(inputs))
    logit = keras.layers.Dense(1, name="logit")
    model = keras.Model(inputs, logit(pooled))
    features.kernel.assign(np.eye(3, dtype=np.float32)[None, None])
    logit.set_weights([WEIGHTS[:, None], np.array([0.5], np.float32)])
    return model


def test_sobol_indices_of_a_linear_head_match_the_truth_within_the_stated_error():
    """Truth. The concepts are the three channels (``W = I``) and every image holds ``u_j``
    of channel j at every position, so ``U = u`` and the residual is 0. Masked, the logit is
    ``f(m) = sum_j m_j w_j u_j + 0.5`` with independent uniform ``m_j``: a sum of independent
    terms, ``Var f = sum_j (w_j u_j)^2 / 12``, and the total-order index of concept j is
    ``(w_j u_j)^2 / sum_i (w_i u_i)^2``. With ``u = (1, 1, 1)``: 9/14, 4/14, 1/14; with
    ``u = (1, 2, 3)``: 9/34, 16/34, 9/34. The images average them.
    """
    model = _linear_model()
    amounts = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]], np.float32)
    images = np.broadcast_to(amounts[:, None, None, :], (2, 4, 4, 3))
    truth = (np.array([9, 4, 1]) / 14 + np.array([9, 16, 9]) / 34) / 2
    found = sobol_importance(model, "features", images, np.eye(3), 0, designs=64, seed=0)
    assert list(np.argsort(-found.indices)) == list(np.argsort(-truth))
    assert np.all(np.abs(found.indices - truth) <= found.error), (found.indices, truth)
    assert np.all(found.error < 0.1), found.error
    assert found.per_image.shape == (2, 3)
    np.testing.assert_allclose(found.per_image[0], np.array([9, 4, 1]) / 14, atol=0.05)
    assert found.record() == {
        "method": "sobol",
        "estimator": "jansen",
        "designs": 64,
        "seed": 0,
        "images": 2,
        "target": "class logit",
    }


def test_total_order_indices_count_interactions():
    """Truth. ``f(m) = m1 m2 + m3`` over independent uniform masks: ``Var(m1 m2) = 1/9 -
    1/16 = 7/144``, ``Var(m3) = 12/144``, ``Var f = 19/144``. The total-order index of m1 is
    ``E[Var(f | m2, m3)] / Var f = E[m2^2] Var(m1) / Var f = (1/36) / (19/144) = 4/19``, the
    same for m2, and 12/19 for m3: they sum to 20/19 > 1, the interaction counted twice."""
    truth = np.array([4, 4, 12]) / 19

    def function(maps):
        return maps[:, 0, 0] * maps[:, 0, 1] + maps[:, 0, 2]

    found = total_order(function, np.ones((1, 1, 3)), np.eye(3), designs=256, seed=1)
    assert np.all(np.abs(found.indices - truth) <= found.error), (found.indices, truth)
    assert np.argmax(found.indices) == 2
    assert found.indices.sum() > 1.0


def test_the_seed_reproduces_and_the_spread_over_seeds_is_within_the_error():
    model = _linear_model()
    images = np.ones((1, 4, 4, 3), np.float32)
    first, again = (
        sobol_importance(model, "features", images, np.eye(3), 0, designs=32, seed=7)
        for _ in range(2)
    )
    np.testing.assert_array_equal(first.indices, again.indices)
    np.testing.assert_array_equal(first.error, again.error)
    others = np.stack(
        [
            sobol_importance(model, "features", images, np.eye(3), 0, designs=32, seed=s).indices
            for s in range(5)
        ]
    )
    assert not np.allclose(others[0], others[1])
    assert np.all(others.std(axis=0) <= first.error), (others.std(axis=0), first.error)


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda f: total_order(f, np.ones((1, 1, 3)), np.eye(3), designs=12), "designs=12"),
        (lambda f: total_order(f, np.ones((1, 1, 3)), np.eye(2)), "vectors of shape (2, 2)"),
        (lambda f: total_order(f, np.ones((1, 1, 3)), np.eye(3), seed=1.5), "seed=1.5"),
    ],
)
def test_sobol_bad_arguments_name_them(call, fragment):
    with pytest.raises(
        (ValueError, TypeError), match=fragment.replace("(", r"\(").replace(")", r"\)")
    ):
        call(lambda maps: maps.sum(axis=(1, 2)))


@pytest.fixture(scope="module")
def planted_bank():
    images, layout = _textures(seed=0, count=24)
    model = _planted_model()
    bank = discover(model, "features", images, 0, rank=2, crops=12, crop_size=0.5, designs=32)
    return model, images, layout, bank


def test_discover_ranks_by_sobol_and_records_it(planted_bank):
    model, images, _, bank = planted_bank
    assert bank.importance_method == "sobol"
    assert bank.importance_settings["designs"] == 32 and bank.importance_settings["seed"] == 0
    assert bank.importance_error.shape == (2,)
    assert bank.importance[0] >= bank.importance[1]
    # class 0 weighs stripes (planted 0) more: the Sobol ranking agrees with the exact share
    assert (_unit(bank.vectors) @ _unit(MIXING).T)[0].argmax() == 0
    share = discover(
        model, "features", images, 0, rank=2, crops=12, crop_size=0.5, importance="share"
    )
    assert share.importance_method == "linear head"
    np.testing.assert_allclose(share.vectors, bank.vectors)


def test_refine_splits_a_concept_at_an_earlier_layer(planted_bank):
    model, images, _, bank = planted_bank
    sub = refine(bank, 0, model, "detectors", images, rank=2, regions=12, crops=6, designs=16)
    assert isinstance(sub, ConceptBank) and sub.layer == "detectors"
    assert sub.labels == ["1.1", "1.2"] and sub.parent == "1" and sub.parent_layer == "features"
    expected = np.argsort(-bank.coefficients[:, 0], kind="stable")[:12]
    np.testing.assert_array_equal(sub.regions, expected)
    assert sub.importance_settings["target"] == "class logit"
    assert sub.importance[0] >= sub.importance[1]
    # the regions are stripes: the first sub-concept is the stripe detector (channel 0)
    assert sub.vectors[0].argmax() == 0
    parent = refine(
        bank,
        0,
        model,
        "detectors",
        images,
        rank=2,
        regions=12,
        crops=6,
        designs=16,
        target="parent",
    )
    assert parent.importance_settings["target"] == "presence of concept 1"
    assert parent.vectors[0].argmax() == 0
    deeper = refine(sub, 0, model, "gradients", images, rank=2, regions=8, crops=4, designs=8)
    assert deeper.labels == ["1.1.1", "1.1.2"]


def test_sub_concepts_are_visualized_on_the_same_engine(planted_bank):
    model, images, _, bank = planted_bank
    sub = refine(bank, 1, model, "detectors", images, rank=2, regions=8, crops=4, designs=8)
    result = visualize_concepts(sub, model, steps=2, crops=2, image_size=32, seed=0)
    assert result.names == ["class 0 concept 2.1", "class 0 concept 2.2"]
    assert result.config["objective"] == ["detectors:direction 0", "detectors:direction 1"]
    record = result.config["concepts"]
    assert record["parent"] == "2" and record["parent_layer"] == "features"
    assert record["importance_settings"]["designs"] == 8


def test_refine_checks_its_arguments(planted_bank):
    model, images, _, bank = planted_bank
    with pytest.raises(ValueError, match="concept=2"):
        refine(bank, 2, model, "detectors", images)
    with pytest.raises(ValueError, match="Received: 3 image"):
        refine(bank, 0, model, "detectors", images[:3])
    with pytest.raises(ValueError, match="target='logit'"):
        refine(bank, 0, model, "detectors", images, target="logit")


def test_attribution_maps_find_the_concept_where_it_lies(planted_bank):
    model, _, _, bank = planted_bank
    stripes = int((_unit(bank.vectors) @ _unit(MIXING).T)[:, 0].argmax())
    photo = np.zeros((1, 64, 64, 1), np.float32)
    photo[0, :32, :32] = _tile(1)  # stripes top left
    photo[0, 32:, 32:] = _tile(2)  # dots bottom right
    maps = attribution_maps(bank, model, photo)
    assert maps.shape == (1, 2, 64, 64) and maps.dtype == np.float32
    where = maps[0, stripes]
    assert where[4:28, 4:28].mean() > 5 * where[36:60, 36:60].mean()
    dots = maps[0, 1 - stripes]
    assert dots[36:60, 36:60].mean() > 5 * dots[4:28, 4:28].mean()
    unweighted = attribution_maps(bank, model, photo, weighted=False)
    np.testing.assert_allclose(
        maps[0, 0], unweighted[0, 0] * bank.importance[0], rtol=1e-4, atol=1e-6
    )
    shown = attribution_overlay(photo[0], where, bank.values_range)
    assert shown.shape == (64, 64, 1)
    assert shown[4:28, 4:28].mean() > shown[36:60, 36:60].mean()
    figure = plot_attributions(bank, photo[0], maps[0])
    assert len(figure.axes) == 3


def test_attribution_maps_want_a_spatial_layer(planted_bank):
    model, images, _, bank = planted_bank
    pooled = keras.Model(model.inputs, model.get_layer("pool").output)
    flat = ConceptBank(**{**bank.__dict__, "layer": "pool"})
    with pytest.raises(ValueError, match="spatial activations"):
        attribution_maps(flat, pooled, images[:1])


def test_write_page_checks_refined_and_the_photo(planted_bank, tmp_path):
    model, images, _, bank = planted_bank
    result = visualize_concepts(bank, model, steps=2, crops=2, image_size=32, seed=0)
    with pytest.raises(ValueError, match="photo and maps together"):
        write_page(tmp_path, bank, result, photo=images[0])
    with pytest.raises(ValueError, match="key 5"):
        write_page(tmp_path, bank, result, refined={5: (bank, result)})
    with pytest.raises(ValueError, match=re.escape("maps.shape=(1, 64, 64)")):
        write_page(tmp_path, bank, result, photo=images[0], maps=np.zeros((1, 64, 64)))


# ---------------------------------------------------------------------------- CLI
def test_the_concepts_command_writes_a_page_per_class(planted, tmp_path):
    from xmaco.cli.concepts import add_concepts_command, run_concepts

    model, images, layout = planted
    path = tmp_path / "planted.keras"
    model.save(path)
    folders = [
        _write_folder(tmp_path / "zero", images[:8]),
        _write_folder(tmp_path / "one", images[8:16]),
    ]
    parser = argparse.ArgumentParser(prog="xmaco")
    add_concepts_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "concepts",
            "--model",
            str(path),
            "--layer",
            "features",
            "--class",
            "0",
            "1",
            "--images",
            *map(str, folders),
            "--out",
            str(tmp_path / "out"),
            "--rank",
            "2",
            "--image-crops",
            "6",
            "--steps",
            "2",
            "--crops",
            "2",
            "--image-size",
            "48",
            "--top",
            "2",
            "--designs",
            "8",
            "--refine-layer",
            "detectors",
            "--sub-rank",
            "2",
            "--quiet",
        ]
    )
    assert args.handler is run_concepts
    assert run_concepts(args) == 0
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    for page in ("class-0/index.html", "class-1/index.html"):
        assert f'href="{page}"' in index
        _check_page(tmp_path / "out" / page, concepts=2, crops=2, attribution=True, sub=2)
        text = (tmp_path / "out" / page).read_text(encoding="utf-8")
        assert "concepts.refine(bank, 0, model, &#x27;detectors&#x27;" in text
    with pytest.raises(SystemExit):
        parser.parse_args(["concepts", "--class", "0", "--images", "x", "--designs", "12"])
    stray = parser.parse_args(
        ["concepts", "--class", "0", "--images", str(folders[0]), "--sub-rank", "2"]
    )
    with pytest.raises(ValueError, match="only with --refine-layer"):
        run_concepts(stray)


def _check_page(
    page: Path, concepts: int, crops: int, attribution: bool = False, sub: int = 0
) -> None:
    """The page ranks its concepts by importance, links its own pictures, folds ``sub``
    sub-concepts under the first concept."""
    text = page.read_text(encoding="utf-8")
    assert text.count('class="concept"') == concepts + sub
    top_level = re.sub(r'<details class="sub">.*?</details>\n</section>', "", text, flags=re.S)
    shares = [float(v) for v in re.findall(r"Sobol index ([0-9.]+)", top_level)]
    assert shares == sorted(shares, reverse=True) and len(shares) == concepts
    assert text.count('<details class="sub">') == (1 if sub else 0)
    links = re.findall(r'src="([^"]+)"', text)
    assert len(links) == concepts * (2 + attribution + crops) + sub * (2 + crops)
    for link in links:
        assert not link.startswith(("/", "http")) and (page.parent / link).is_file(), link
    assert "<style>" in text and "http" not in text


def _write_folder(folder: Path, images: np.ndarray) -> Path:
    folder.mkdir(parents=True)
    for i, image in enumerate(images):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.rint(image * 255).astype(np.uint8))
    return folder


def _tile(texture: int) -> np.ndarray:
    """A 32 x 32 tile of stripes (1) or dots (2), as in ``_textures``."""
    y, x = np.mgrid[:32, :32]
    if texture == 1:
        return ((x % 6) < 3).astype(np.float32)[..., None]
    return (((y % 8) < 3) & ((x % 8) < 3)).astype(np.float32)[..., None]


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, np.float64)
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def test_module_exports():
    assert set(concepts.__all__) >= {"discover", "nmf", "visualize_concepts", "write_page"}
