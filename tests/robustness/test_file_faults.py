"""Checkpoints and graph files under faults: interrupted saves, hostile files."""
import io
import json
import signal
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import graphc as gc
from graphc.ir.serialize import graph_to_json

OLD = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "step": 7}


def _graph(scale):
    x = gc.placeholder((2, 3), name="x")
    return gc.tanh(x) * scale


def _old_files(tmp_path):
    ckpt, graph = tmp_path / "model.ckpt", tmp_path / "model.json"
    gc.save(OLD, ckpt)
    gc.save_graph(_graph(2.0), graph)
    return ckpt, graph


def _assert_old(ckpt, graph):
    loaded = gc.load(ckpt)
    np.testing.assert_array_equal(loaded["w"], OLD["w"])
    assert loaded["step"] == 7
    consts = [n for n in gc.load_graph(graph).nodes if n.op.name == "constant"]
    assert [float(n.attrs["value"]) for n in consts] == [2.0]


def _no_temporaries(folder):
    assert sorted(p.name for p in folder.iterdir()) == ["model.ckpt", "model.json"]


# ---- interrupted saves -----------------------------------------------------------------------------
def test_a_failing_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    ckpt, graph = _old_files(tmp_path)
    written = []

    def write_then_fail(stream, arr, **kw):
        if written:
            raise OSError(28, "No space left on device")
        written.append(arr)
        np.lib.format.__dict__["_original_write_array"](stream, arr, **kw)
    monkeypatch.setitem(np.lib.format.__dict__, "_original_write_array",
                        np.lib.format.write_array)
    monkeypatch.setattr(np.lib.format, "write_array", write_then_fail)
    with pytest.raises(OSError, match="No space"):
        gc.save({"a": np.ones(3), "b": np.ones(4)}, ckpt)
    _assert_old(ckpt, graph)
    _no_temporaries(tmp_path)


def test_a_failing_write_keeps_the_previous_graph(tmp_path, monkeypatch):
    ckpt, graph = _old_files(tmp_path)

    def fail(*a, **k):
        raise KeyboardInterrupt  # even an interrupt from the user in the middle
    monkeypatch.setattr(json, "dump", fail)
    with pytest.raises(KeyboardInterrupt):
        gc.save_graph(_graph(5.0), graph)
    _assert_old(ckpt, graph)
    _no_temporaries(tmp_path)


KILLED_WRITER = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import graphc as gc
    target = sys.argv[2]

    def stall(*args, **kwargs):  # half of the data written, then the process is killed
        stream = args[-1] if sys.argv[1] == "graph" else args[0]
        stream.write("x" * 100000 if sys.argv[1] == "graph" else b"x" * 100000)
        stream.flush()
        print("writing", flush=True)
        time.sleep(120)
    if sys.argv[1] == "graph":
        json.dump = stall
        x = gc.placeholder((2, 3), name="x")
        gc.save_graph(gc.tanh(x) * 5.0, target)
    else:
        np.lib.format.write_array = stall
        gc.save({"w": np.zeros((256, 1024), np.float32), "step": 8}, target)
""")


@pytest.mark.parametrize("kind", ["checkpoint", "graph"])
def test_a_process_killed_mid_save_keeps_the_previous_file(tmp_path, kind):
    ckpt, graph = _old_files(tmp_path)
    script = tmp_path.parent / f"writer_{kind}.py"
    script.write_text(KILLED_WRITER)
    target = ckpt if kind == "checkpoint" else graph
    proc = subprocess.Popen([sys.executable, str(script), kind, str(target)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing", proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    _assert_old(ckpt, graph)
    # the killed process could not clean up; its temporary file is not the target
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("model.ckpt", "model.json")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".graphc-")


# ---- hostile files -----------------------------------------------------------------------------------
def _npy_with_shape(shape):
    buf = io.BytesIO()
    np.save(buf, np.zeros(1, np.float32))
    data = buf.getvalue()
    header = data[10:].split(b"\n")[0]
    forged = header.replace(b"(1,)", repr(tuple(shape)).encode())
    return data[:8] + (len(forged) + 1).to_bytes(2, "little") + forged + b"\n" + \
        data[10 + len(header) + 1:]


def _checkpoint(path, root, files=()):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", root if isinstance(root, str) else json.dumps(
            {"format": "graphc.save", "version": 1, "root": root}))
        for name, data in files:
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("shape", [(2 ** 32, 2 ** 32), (2 ** 62, 4), (2 ** 64,), (-1, -1),
                                   (10 ** 400,)])
def test_checkpoint_shapes_whose_size_overflows_are_refused(tmp_path, shape):
    path = _checkpoint(tmp_path / "c", {"ndarray": "arrays/0.npy"},
                       [("arrays/0.npy", _npy_with_shape(shape))])
    with pytest.raises(gc.GraphFormatError, match="more data than the file holds"):
        gc.load(path)


@pytest.mark.parametrize("shape", [[2 ** 32, 2 ** 32], [2 ** 62, 4], [10 ** 400]])
def test_graph_array_shapes_whose_size_overflows_are_refused(tmp_path, shape):
    doc = graph_to_json(gc.Graph.from_outputs([_graph(2.0)]))
    const = next(n for n in doc["nodes"] if n["op"] == "constant")
    const["attrs"]["value"]["$array"].update(shape=shape, data="")
    (tmp_path / "g.json").write_text(json.dumps(doc))
    with pytest.raises(gc.GraphFormatError, match="too large"):
        gc.load_graph(tmp_path / "g.json")


def test_deeply_nested_files_are_clear_errors(tmp_path):
    deep = "[" * 100000 + "]" * 100000
    (tmp_path / "g.json").write_text('{"format": "graphc.graph", "version": 1, "nodes": '
                                     + deep + "}")
    with pytest.raises(gc.GraphFormatError, match="nested too deeply"):
        gc.load_graph(tmp_path / "g.json")
    path = _checkpoint(tmp_path / "c", '{"format": "graphc.save", "version": 1, "root": '
                       + deep + "}")
    with pytest.raises(gc.GraphFormatError, match="RecursionError"):
        gc.load(path)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "arrays/../../x.npy",
                                  "arrays/0.npy\x00", 7, None])
def test_path_tricks_in_a_checkpoint_name_nothing_outside_the_archive(tmp_path, name):
    path = _checkpoint(tmp_path / "c", {"ndarray": name},
                       [("../../escape.npy", _npy_with_shape((1,)))])
    with pytest.raises(gc.GraphFormatError, match="missing from the archive"):
        gc.load(path)
    assert not (tmp_path.parent / "escape.npy").exists()


def test_code_looking_strings_stay_data(tmp_path):
    marker = tmp_path / "pwned"
    code = f"__import__('os').system('touch {marker}')"
    root = {"dict": [[code, {"ndarray": "arrays/0.npy"}], ["eval", code]]}
    path = _checkpoint(tmp_path / "c", root, [("arrays/0.npy", _npy_with_shape((1,)))])
    loaded = gc.load(path)
    assert loaded["eval"] == code and code in loaded
    doc = graph_to_json(gc.Graph.from_outputs([_graph(2.0)]))
    doc["nodes"][0]["attrs"]["name"] = doc["nodes"][0]["outputs"][0]["name"] = code
    doc["nodes"][0]["location"] = [code, 1, code + "\n" + code]
    (tmp_path / "g.json").write_text(json.dumps(doc))
    graph = gc.load_graph(tmp_path / "g.json")
    assert graph.nodes[0].outputs[0].name == code
    exe = gc.compile(graph.outputs, graph.inputs, target="cpu")
    exe(np.ones((2, 3), np.float32))
    assert code not in exe.source and not marker.exists()


@pytest.mark.parametrize("mutate", [
    lambda d: d["nodes"][0]["attrs"]["type"]["$type"].update(dtype="object"),
    lambda d: d["nodes"][0]["attrs"]["type"]["$type"].update(shape="2,3"),
    lambda d: d["nodes"][1].update(attrs={"dim": "__import__"}),
    lambda d: d["nodes"][1].update(inputs=[[0, 0], [0, 0], [0, 0]]),
    lambda d: d["nodes"][1].update(op={"$eval": "1"}),
    lambda d: d.update(outputs=[[-1, 0]]),
])
def test_wrong_types_are_clear_errors(tmp_path, mutate):
    doc = graph_to_json(gc.Graph.from_outputs([_graph(2.0)]))
    mutate(doc)
    (tmp_path / "g.json").write_text(json.dumps(doc))
    with pytest.raises(gc.GraphFormatError):
        gc.load_graph(tmp_path / "g.json")


# ---- damaged checkpoints: every cut and every flipped byte is a GraphFormatError ------------------
def _checkpoint_bytes():
    import io
    buf = io.BytesIO()
    gc.save({"w": gc.ones(3, 2), "step": 3, "m": np.arange(4.0)}, buf)
    return buf.getvalue()


def _load_bytes(data):
    import io
    return gc.load(io.BytesIO(bytes(data)))


def test_a_truncated_checkpoint_is_damaged_naming_the_member():
    data = _checkpoint_bytes()
    for n in range(4, len(data)):
        with pytest.raises(gc.GraphFormatError, match="is damaged") as info:
            _load_bytes(data[:n])
        assert "member" in str(info.value) or "ZIP directory" in str(info.value)
    with pytest.raises(gc.GraphFormatError, match="member 'arrays/0.npy' is cut short"):
        _load_bytes(data[:len(data) // 2])


def test_every_flipped_byte_is_caught_or_harmless():
    data = _checkpoint_bytes()
    caught = 0
    for i in range(len(data)):
        damaged = bytearray(data)
        damaged[i] ^= 0x10
        try:
            back = _load_bytes(damaged)
        except gc.GraphFormatError:
            caught += 1
            continue
        # unchecked bytes (timestamps, "version made by", ...) must not change what loads
        np.testing.assert_array_equal(back["w"].numpy(), np.ones((3, 2)))
        assert back["step"] == 3 and np.array_equal(back["m"], np.arange(4.0))
    assert caught > len(data) // 2


def test_a_flipped_data_byte_names_the_member():
    data = bytearray(_checkpoint_bytes())
    start = data.index(b"\x93NUMPY")  # the first array's .npy bytes
    data[start + 100] ^= 0x01
    with pytest.raises(gc.GraphFormatError, match="damaged: member 'arrays/0.npy' cannot be "
                                                  "read .*CRC"):
        _load_bytes(data)
