"""graphc.save / graphc.load: round trips, atomic writes, malformed and hostile files."""
from __future__ import annotations

import io
import json
import math
import os
import zipfile

import numpy as np
import pytest

import graphc as gc
import graphc.nn as nn
import graphc.optim as optim
from graphc.errors import GraphFormatError


def test_round_trip_of_nested_objects(tmp_path):
    obj = {"w": gc.randn(3, 2), "i": gc.arange(4), "flag": gc.tensor([True, False]),
           "scalar": gc.tensor(2.5, dtype=gc.float64), "arr": np.arange(6).reshape(2, 3),
           3: ("tuple", 1.5, None, [1, 2]), "inf": float("-inf"), "nested": {"x": [gc.ones(1)]}}
    path = tmp_path / "obj.gc"
    gc.save(obj, path)
    back = gc.load(path)
    assert set(back) == set(obj)
    for key in ("w", "i", "flag", "scalar"):
        assert back[key].dtype is obj[key].dtype and back[key].shape == obj[key].shape
        np.testing.assert_array_equal(back[key].numpy(), obj[key].numpy())
    assert isinstance(back["arr"], np.ndarray) and back["arr"].dtype == np.int64
    assert back[3] == ("tuple", 1.5, None, [1, 2])
    assert back["inf"] == -math.inf
    assert back["nested"]["x"][0].tolist() == [1.0]
    assert os.listdir(tmp_path) == ["obj.gc"]  # no temporary files left behind


def test_model_and_optimizer_checkpoint_resume_identically(tmp_path):
    def model():
        gc.manual_seed(0)
        return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 1))
    x, y = gc.randn(8, 3), gc.randn(8, 1)

    def train(m, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            loss = nn.functional.mse_loss(m(x), y)
            loss.backward()
            opt.step()
        return loss.item()

    a = model()
    opt_a = optim.Adam(a.parameters(), lr=0.01)
    train(a, opt_a, 3)
    gc.save({"model": a.state_dict(), "optim": opt_a.state_dict()}, tmp_path / "ck")
    final_a = train(a, opt_a, 3)
    b = model()
    opt_b = optim.Adam(b.parameters(), lr=0.5)
    ck = gc.load(tmp_path / "ck")
    b.load_state_dict(ck["model"])
    opt_b.load_state_dict(ck["optim"])
    assert train(b, opt_b, 3) == final_a


def test_requires_grad_survives_and_file_objects_work():
    buf = io.BytesIO()
    gc.save(gc.tensor([1.0, 2.0], requires_grad=True), buf)
    buf.seek(0)
    t = gc.load(buf)
    assert t.requires_grad and t.detach().tolist() == [1.0, 2.0]


def test_unsupported_objects_are_refused_at_save(tmp_path):
    with pytest.raises(TypeError, match="cannot save an object of type Adam"):
        gc.save(optim.Adam(nn.Linear(2, 2).parameters()), tmp_path / "m")  # (modules: see
        # test_serialization_modules.py)
    with pytest.raises(TypeError, match="dtype object"):
        gc.save(np.array([object()]), tmp_path / "m")
    assert not (tmp_path / "m").exists()


def _archive(path, manifest=None, files=None):
    with zipfile.ZipFile(path, "w") as zf:
        if manifest is not None:
            zf.writestr("manifest.json", manifest if isinstance(manifest, str)
                        else json.dumps(manifest))
        for name, data in (files or {}).items():
            zf.writestr(name, data)
    return path


def _npy(arr):
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _manifest(root):
    return {"format": "graphc.save", "version": 1, "root": root}


@pytest.mark.parametrize("build,match", [
    (lambda p: p.write_bytes(b"not a zip at all"), "not a graphc.save file"),
    (lambda p: p.write_bytes(b"\x80\x04\x95 pickle"), "not a graphc.save file"),
    (lambda p: _archive(p, None, {"x": b""}), "no manifest.json"),
    (lambda p: _archive(p, "{broken"), "not valid JSON"),
    (lambda p: _archive(p, {"format": "other"}), "does not describe"),
    (lambda p: _archive(p, {"format": "graphc.save", "version": 99, "root": 1}), "version 99"),
    (lambda p: _archive(p, _manifest({"tensor": "arrays/0.npy"})), "missing from the archive"),
    (lambda p: _archive(p, _manifest({"python_object": "os.system"})), "unknown entry tag"),
    (lambda p: _archive(p, _manifest({"tensor": "arrays/0.npy"}),
                        {"arrays/0.npy": _npy(np.array([{"a": 1}], dtype=object))}),
     "not allowed"),
    (lambda p: _archive(p, _manifest({"tensor": "arrays/0.npy"}),
                        {"arrays/0.npy": _npy(np.zeros(4))[:-16]}), "truncated array data"),
    (lambda p: _archive(p, _manifest({"tensor": "arrays/0.npy"}),
                        {"arrays/0.npy": b"\x93NUMPY garbage"}), "malformed .npy header"),
    (lambda p: _archive(p, _manifest({"dict": [[[1], 2]]})), "not hashable"),
])
def test_malformed_files_are_clear_errors(tmp_path, build, match):
    path = tmp_path / "bad"
    build(path)
    with pytest.raises(GraphFormatError, match=match):
        gc.load(path)


def test_huge_shape_claims_do_not_allocate(tmp_path):
    forged = _npy(np.zeros(1)).replace(b"(1,), }" + b" " * 9, b"(9999999999,), }")
    path = _archive(tmp_path / "big", _manifest({"ndarray": "arrays/0.npy"}),
                    {"arrays/0.npy": forged})
    with pytest.raises(GraphFormatError, match="more data than the file holds"):
        gc.load(path)


def test_zip_bombs_are_refused(tmp_path):
    path = tmp_path / "bomb"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(_manifest({"ndarray": "arrays/0.npy"})))
        zf.writestr("arrays/0.npy", _npy(np.zeros(2_000_000, np.uint8)))
    with pytest.raises(GraphFormatError, match="compression ratio"):
        gc.load(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        gc.load(tmp_path / "nope")
