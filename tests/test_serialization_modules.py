"""graphc.save(model) / graphc.load(path, weights_only=...): whole modules in the safe format
(no pickle), the allow-list (add_safe_globals / safe_globals), and hostile or damaged files."""
from __future__ import annotations

import collections
import io
import json
import pickle
import zipfile

import numpy as np
import pytest

import graphc as gc
import graphc.nn as nn
import graphc.nn.functional as F
import graphc.optim as optim
from graphc import serialization
from graphc.errors import GraphFormatError


class Net(nn.Module):
    """A user model: tied weights, a plain attribute, a dict referring back to the model."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 6)
        self.lstm = nn.LSTM(6, 5, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(10, 6)
        self.out = nn.Linear(6, 10, bias=False)
        self.out.weight = self.emb.weight  # tied
        self.scale = 0.5
        self.links = {"root": self}

    def forward(self, x):
        return self.out(F.relu(self.proj(self.lstm(self.emb(x))[0]))) * self.scale


class Config:
    """A plain user class stored on a module."""

    def __init__(self, width):
        self.width = width


def log_shapes(module, args, out):
    module.seen = tuple(out.shape)


def _round_trip(obj, **load_kwargs):
    buf = io.BytesIO()
    gc.save(obj, buf)
    buf.seek(0)
    return gc.load(buf, **load_kwargs)


def _same_outputs(a, b, *inputs):
    np.testing.assert_array_equal(a(*inputs).detach().numpy(), b(*inputs).detach().numpy())


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.2), nn.Linear(12, 4))


def test_graphc_modules_round_trip_without_allow_listing():
    gc.manual_seed(0)
    cnn = _cnn()
    x = gc.randn(2, 1, 4, 4)
    cnn(x).sum().backward()  # BatchNorm statistics move: buffers are saved too
    cnn.eval()
    back = _round_trip(cnn)
    assert repr(back) == repr(cnn) and not back.training and not back[1].training
    assert list(back.state_dict()) == list(cnn.state_dict())
    assert back[0].weight.requires_grad and back[0].weight.grad is None
    assert type(back[0].weight) is nn.Parameter and back[1].running_mean._persistent
    _same_outputs(cnn, back, x)
    gc.manual_seed(1)
    rnn = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    _same_outputs(lambda v: rnn(v)[0], lambda v: _round_trip(rnn)(v)[0], gc.randn(5, 2, 3))
    tf = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, activation=F.gelu)
    src, tgt = gc.randn(4, 2, 8), gc.randn(3, 2, 8)
    _same_outputs(tf, _round_trip(tf), src, tgt)
    wn = nn.utils.weight_norm(nn.Linear(3, 2))
    back = _round_trip(wn)
    assert list(back.state_dict()) == ["bias", "weight_g", "weight_v"]
    with gc.no_grad():
        back.weight_g.mul_(2)  # the restored pre-hook recomputes weight from g and v
    np.testing.assert_allclose(back(gc.ones(1, 3)).detach().numpy(),
                               (gc.ones(1, 3) @ (2 * wn.weight).T + wn.bias).detach().numpy(),
                               rtol=1e-6)


def test_user_model_needs_allowing_then_round_trips():
    gc.manual_seed(0)
    net = Net()
    buf = io.BytesIO()
    gc.save(net, buf)
    for weights_only in (None, True):
        buf.seek(0)
        with pytest.raises(serialization.UnsafeGlobalError,
                           match=r"unsupported global .*Net .*add_safe_globals\(\[Net\]\)"):
            gc.load(buf, weights_only=weights_only)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError):  # what PyTorch programs catch
        gc.load(buf)
    x = gc.tensor(np.array([[1, 4, 2]]))
    buf.seek(0)
    with serialization.safe_globals([Net]):
        assert Net in serialization.get_safe_globals()
        back = gc.load(buf)
    assert Net not in serialization.get_safe_globals()
    _same_outputs(net, back, x)
    assert back.out.weight is back.emb.weight and back.links["root"] is back
    assert back.scale == 0.5 and type(back) is Net
    buf.seek(0)
    _same_outputs(net, gc.load(buf, weights_only=False), x)  # the user trusts the file
    serialization.add_safe_globals([Net])
    try:
        buf.seek(0)
        _same_outputs(net, gc.load(buf), x)
    finally:
        serialization.clear_safe_globals()


def test_loaded_model_trains_and_compiles_like_the_original():
    gc.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    x, y = gc.randn(8, 3), gc.randn(8, 1)
    back = _round_trip(net)
    for model in (net, back):
        opt = optim.SGD(model.parameters(), lr=0.1)
        for _ in range(2):
            opt.zero_grad()
            F.mse_loss(model(x), y).backward()
            opt.step()
    _same_outputs(net, back, x)
    step = gc.jit(lambda v: back(v), target="reference")
    np.testing.assert_allclose(step(x).numpy(), net(x).detach().numpy(), rtol=1e-6)


def test_hooks_and_user_objects_on_modules():
    layer = nn.Linear(2, 3)
    layer.register_forward_hook(log_shapes)
    layer.config = Config(7)
    buf = io.BytesIO()
    gc.save(layer, buf)
    buf.seek(0)
    with pytest.raises(serialization.UnsafeGlobalError, match="Config"):
        gc.load(buf, weights_only=False)  # not a Module subclass: only by allow-listing
    buf.seek(0)
    with serialization.safe_globals([Config, log_shapes]):
        back = gc.load(buf)
    assert back.config.width == 7
    back(gc.ones(4, 2))
    assert back.seen == (4, 3)
    handle = back.register_forward_hook(lambda m, a, o: None)  # fresh id, no clash
    assert len(back._hooks["forward"]) == 2
    handle.remove()
    layer.register_forward_hook(lambda m, a, o: None)
    with pytest.raises(TypeError, match="not lambdas"):
        gc.save(layer, io.BytesIO())
    counting = nn.Linear(2, 2)
    counting.counts = collections.defaultdict(int)  # its type would be lost: refused
    with pytest.raises(TypeError, match="attribute of type defaultdict inside an object"):
        gc.save(counting, io.BytesIO())
    pair = collections.namedtuple("pair", "a b")
    assert _round_trip({"t": pair(1, 2)}) == {"t": (1, 2)}  # plain data: as graphc.save was
    with pytest.raises(TypeError, match="cannot save an object of type SGD"):
        gc.save(optim.SGD(layer.parameters(), lr=0.1), io.BytesIO())


def test_checkpoint_of_model_and_state_dicts_and_state_dict_files_unchanged(tmp_path):
    model = nn.Linear(2, 2)
    gc.save({"model": model, "epoch": 3}, tmp_path / "ck")
    ck = gc.load(tmp_path / "ck")
    assert ck["epoch"] == 3 and isinstance(ck["model"], nn.Linear)
    gc.save(model.state_dict(), tmp_path / "sd")
    with zipfile.ZipFile(tmp_path / "sd") as zf:
        assert json.loads(zf.read("manifest.json"))["version"] == 1  # older readers read it


# ---- hostile and damaged files ---------------------------------------------------------------------
def _saved_manifest(obj):
    buf = io.BytesIO()
    gc.save(obj, buf)
    buf.seek(0)
    with zipfile.ZipFile(buf) as zf:
        return json.loads(zf.read("manifest.json")), {n: zf.read(n) for n in zf.namelist()}


def _load_edited(edit, obj=None, **kwargs):
    manifest, files = _saved_manifest(nn.Linear(2, 2) if obj is None else obj)
    edit(manifest)
    files["manifest.json"] = json.dumps(manifest)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    buf.seek(0)
    return gc.load(buf, **kwargs)


def _set_class(name):
    def edit(m):
        m["root"]["object"] = name
    return edit


@pytest.mark.parametrize("name", ["os:system", "subprocess:Popen", "builtins:eval",
                                  "graphc.serialization:_Encoder", "collections:OrderedDict"])
def test_classes_outside_the_allow_list_are_refused_even_with_weights_only_false(name):
    with pytest.raises(serialization.UnsafeGlobalError, match=name.replace(":", ".")):
        _load_edited(_set_class(name), weights_only=False)


def test_globals_by_name_are_never_imported_or_called():
    def edit(m):
        m["root"]["state"]["dict"].append(["hook", {"global": "antigravity:geohash"}])
    with pytest.raises(serialization.UnsafeGlobalError, match="never imports"):
        _load_edited(edit, weights_only=False)

    def edit_fn(m):
        m["root"]["state"]["dict"].append(["hook", {"global": "shutil:rmtree"}])
    with pytest.raises(serialization.UnsafeGlobalError, match="shutil.rmtree"):
        _load_edited(edit_fn, weights_only=False)

    def edit_save(m):
        m["root"]["state"]["dict"].append(["hook", {"global": "graphc:save"}])
    with pytest.raises(serialization.UnsafeGlobalError, match="graphc.save"):
        _load_edited(edit_save)


@pytest.mark.parametrize("edit,match", [
    (lambda m: m["root"].update(state=[1, 2]), "not a dict of attribute names"),
    (lambda m: m["root"].update(state={"dict": [[1, 2]]}), "not a dict of attribute names"),
    (lambda m: m["root"]["state"]["dict"][0].__setitem__(1, {"odict": [["w", "oops"]]}),
     "_parameters does not hold Parameters"),
    (lambda m: m["root"]["state"]["dict"].append(["x", {"ref": 99}]), "reference .99. to an entry not read"),
    (lambda m: m["root"]["state"]["dict"].append(["x", {"dtype": "float128x"}]), "tag 'dtype'"),
    (lambda m: m["root"]["state"]["dict"].append(["x", {"op": "no_such_op"}]), "tag 'op'"),
    (lambda m: m["root"].update(object="graphc.nn.linear:Linear:x"), "malformed global"),
    (lambda m: m["root"].update(extra=1), "unexpected entry"),
    (lambda m: m.update(version=3), "version 3 is not supported"),
    (lambda m: m.update(version=1), "unexpected entry"),
])
def test_malformed_module_entries_are_clear_errors(edit, match):
    with pytest.raises(GraphFormatError, match=match):
        _load_edited(edit)


def test_truncated_module_file(tmp_path):
    path = tmp_path / "m.gc"
    gc.save(Net(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(GraphFormatError, match="damaged|truncated"):
        gc.load(path, weights_only=False)


# ---- PyTorch -----------------------------------------------------------------------------------------
def test_loaded_modules_state_dict_loads_into_pytorch():
    torch = pytest.importorskip("torch")
    gc.manual_seed(0)
    ours = _round_trip(nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True))
    theirs = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(gc.tensor(x))[0].detach().numpy(),
                               theirs(torch.tensor(x))[0].detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    assert repr(ours) == repr(theirs)


def test_random_edits_of_a_module_file_load_or_raise_graph_format_error():
    """Any subtree of the manifest replaced by another entry (CRCs recomputed): the load
    works or is a GraphFormatError, never another exception."""
    import copy
    import random
    model = nn.Sequential(nn.Linear(2, 3), nn.utils.weight_norm(nn.Linear(3, 2)), nn.GRU(2, 2))
    manifest, files = _saved_manifest(model)

    def paths(x, path=()):
        yield path
        items = x.items() if isinstance(x, dict) else enumerate(x) if isinstance(x, list) else ()
        for k, v in items:
            yield from paths(v, path + (k,))
    where = [p for p in paths(manifest) if p]
    entries = [None, 1, "x", [], {}, {"ref": 0}, {"odict": []}, {"dict": [[1, 2]]},
               {"set": [[]]}, True, {"global": "graphc.nn.linear:Linear"},
               {"tensor": "arrays/0.npy"}, {"object": "graphc.nn.linear:Linear",
                                            "state": {"dict": []}}]
    rng = random.Random(0)
    for _ in range(300):
        edited = copy.deepcopy(manifest)
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(where)
            target = edited
            try:
                for key in path[:-1]:
                    target = target[key]
                target[path[-1]] = copy.deepcopy(rng.choice(entries))
            except (KeyError, IndexError, TypeError):
                pass
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in {**files, "manifest.json": json.dumps(edited)}.items():
                zf.writestr(name, data)
        buf.seek(0)
        try:
            gc.load(buf)
        except GraphFormatError:
            pass


# ---- lazy modules --------------------------------------------------------------------------------
def _lazy_net(L):
    return L.nn.Sequential(L.nn.LazyLinear(3), L.nn.ReLU(), L.nn.LazyBatchNorm1d(),
                           L.nn.Linear(3, 2))


def test_unmaterialized_lazy_module_round_trips_still_lazy():
    """As torch.save / torch.load(weights_only=False) of a lazy model: still lazy after
    loading, sizes inferred at its first call; its state dict saves too."""
    loaded = _round_trip(_lazy_net(gc))
    lazy = loaded[0]
    assert type(lazy).__name__ == "LazyLinear" and lazy.has_uninitialized_params()
    assert type(lazy.weight).__name__ == "UninitializedParameter" and lazy.weight.requires_grad
    assert type(loaded[2]).__name__ == "LazyBatchNorm1d"
    params = list(loaded.parameters())
    out = loaded(gc.ones(4, 5))
    assert out.shape == (4, 2) and type(lazy).__name__ == "Linear"
    assert lazy.weight.shape == (3, 5) and lazy.weight is params[0]  # the same object
    out.sum().backward()
    assert lazy.weight.grad.shape == (3, 5)
    state = _round_trip(_lazy_net(gc).state_dict())
    assert type(state["0.weight"]).__name__ == "UninitializedParameter"
    assert state["3.weight"].shape == (2, 3)


def test_lazy_module_file_round_trips_like_pytorchs():
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save(_lazy_net(torch), buf)
    buf.seek(0)
    expected = torch.load(buf, weights_only=False)
    loaded = _round_trip(_lazy_net(gc))
    assert repr(loaded) == repr(expected)
    assert list(loaded.state_dict()) == list(expected.state_dict())
    assert [type(m).__name__ for m in loaded] == [type(m).__name__ for m in expected]


@pytest.mark.parametrize("entry", [
    {"uninitialized_parameter": "float99"},
    {"uninitialized_parameter": "float32", "extra": 1},
    {"uninitialized_parameter": 3},
])
def test_malformed_uninitialized_parameter_entries(entry):
    def edit(m):
        m["root"]["state"]["dict"].append(["x", entry])
    with pytest.raises(GraphFormatError, match="unexpected entry"):
        _load_edited(edit)
