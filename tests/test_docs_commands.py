"""The commands and code of README.md, docs/tutorial.md and docs/cli.md run as written.

Shell lines (```bash / ```console blocks) that call `graphc` run through graphc.cli.main in a
scratch folder (with cli.md's model.py written there and examples/ reachable); Python blocks
of a page run in order in one namespace. Expected outputs are not compared here: the tests of
each feature check them.
"""
import contextlib
import io
import os
import re
import shlex

import pytest

from graphc import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _blocks(page, kinds):
    text = open(os.path.join(ROOT, page), encoding="utf-8").read()
    return [body for kind, body in re.findall(r"```(\w+)\n(.*?)```", text, re.S) if kind in kinds]


def _shell_commands(page):
    out = []
    for body in _blocks(page, ("bash", "console")):
        for line in body.splitlines():
            line = line.removeprefix("$ ").split("  #")[0].strip()
            if line.startswith("graphc "):
                out.append(line)
    return out


COMMANDS = [(page, c) for page in ("docs/cli.md", "docs/tutorial.md", "README.md")
            for c in _shell_commands(page)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    work = tmp_path_factory.mktemp("docs")
    (work / "model.py").write_text(_blocks("docs/cli.md", ("python",))[0])
    os.symlink(os.path.join(ROOT, "examples"), work / "examples")
    return work


def _run(folder, command):
    """One shell line: `graphc ...`, joined by `&&`, with `> FILE` redirections."""
    for part in command.split("&&"):
        words = shlex.split(part)
        target = None
        if ">" in words:
            target = words[words.index(">") + 1]
            words = words[:words.index(">")]
        assert words[0] == "graphc", command
        buf = io.StringIO()
        old = os.getcwd()
        os.chdir(folder)
        try:
            with contextlib.redirect_stdout(buf):
                code = cli.main(words[1:])
        finally:
            os.chdir(old)
        assert code == 0, f"`{command}` exited {code}"
        if target:
            (folder / target).write_text(buf.getvalue())


def test_the_docs_show_commands():
    assert len(COMMANDS) >= 15


@pytest.mark.parametrize("page, command", COMMANDS, ids=[c for _, c in COMMANDS])
def test_documented_command_runs(folder, monkeypatch, page, command):
    pytest.importorskip("numba")
    monkeypatch.setenv("GRAPHC_VIZ_ENGINE", "matplotlib")
    if "bench" in command:
        pytest.skip("the benchmark suite has its own tests (tests/test_benchmarks.py)")
    _run(folder, command)


@pytest.mark.parametrize("page", ["README.md", "docs/tutorial.md"])
def test_documented_python_runs(tmp_path, monkeypatch, page):
    pytest.importorskip("numba")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GRAPHC_VIZ_ENGINE", "matplotlib")
    namespace = {"__name__": "__docs__"}
    for k, code in enumerate(_blocks(page, ("python",))):
        exec(compile(code, f"{page} block {k}", "exec"), namespace)
