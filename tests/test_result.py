import json

import numpy as np
import pytest

from xmaco import Result


@pytest.fixture
def result():
    rng = np.random.default_rng(0)
    return Result(
        images=rng.normal(size=(2, 8, 6, 3)).astype("float32"),
        transparency=rng.random((2, 8, 6, 3)).astype("float32"),
        history=rng.normal(size=(5, 2)).astype("float32"),
        names=["logits[1]", "logits[2] + 0.5*conv:channel 3"],
        config={"steps": 5, "values_range": [-1.0, 1.0], "crop_size": {"schedule": "linear"}},
        seed=11,
        interrupted=True,
        stats={"traces": 1},
    )


def test_save_and_load_round_trip_exactly(result, tmp_path):
    path = result.save(tmp_path / "run")
    assert path == tmp_path / "run.npz" and (tmp_path / "run.json").is_file()
    for name in ("run", "run.npz", "run.json"):
        loaded = Result.load(tmp_path / name)
        for field in ("images", "transparency", "history"):
            assert np.array_equal(getattr(loaded, field), getattr(result, field))
            assert getattr(loaded, field).dtype == np.float32
        assert loaded.names == result.names and loaded.config == result.config
        assert loaded.seed == 11 and loaded.interrupted and loaded.stats == {"traces": 1}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_images01_uses_the_values_range(result):
    unit = result.images01()
    assert unit.min() >= 0.0 and unit.max() <= 1.0
    np.testing.assert_allclose(unit, np.clip((result.images + 1) / 2, 0, 1), atol=1e-6)


def test_load_refuses_missing_corrupt_and_hostile_files(result, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        Result.load(tmp_path / "nothing")
    path = result.save(tmp_path / "run")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="path="):
        Result.load(path)
    result.save(tmp_path / "run")
    meta = json.loads((tmp_path / "run.json").read_text())
    (tmp_path / "run.json").write_text(json.dumps({**meta, "names": ["only one"]}))
    with pytest.raises(ValueError, match="1 names for 2 images"):
        Result.load(tmp_path / "run")
    # an object array would need pickle: refused, never executed
    np.savez(
        tmp_path / "evil.npz",
        images=np.array([object()], dtype=object),
        transparency=np.zeros(1),
        history=np.zeros(1),
    )
    (tmp_path / "evil.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="path="):
        Result.load(tmp_path / "evil")
