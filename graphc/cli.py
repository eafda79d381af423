"""The `graphc` command line: dump and draw graphs, run benchmarks, inspect the installation.

Exit codes: 0 success, 1 the command failed (missing or broken file, an error while building
or compiling), 2 the command line itself is wrong (unknown option, malformed TARGET).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import traceback

TARGET_HELP = ("a graph saved as JSON (graphc.save_graph / `graphc dump --json`), an ONNX model "
               "(FILE.onnx), or "
               "FILE.py:FUNCTION where FUNCTION() returns a Graph, symbolic outputs, a compiled "
               "Executable or an eager Tensor")


class UsageError(Exception):
    """The command line is wrong (exit code 2)."""


class CommandError(Exception):
    """The command could not do its work (exit code 1)."""


# ---- TARGET ----------------------------------------------------------------------------------
def load_target(spec: str):
    """What TARGET names: a loaded graph, or the result of calling FILE.py:FUNCTION."""
    path, sep, func = spec.rpartition(":")
    if sep and path.endswith(".py"):
        if not func.isidentifier():
            raise UsageError(f"TARGET {spec!r}: {func!r} is not a function name")
        return _call_function(path, func)
    if spec.endswith(".py"):
        raise UsageError(f"TARGET {spec!r} names no function: write {spec}:FUNCTION")
    if spec.endswith(".onnx"):
        return _load_onnx(spec)
    if not spec.endswith(".json"):
        raise UsageError(f"TARGET {spec!r} is neither FILE.json nor FILE.py:FUNCTION")
    if not os.path.isfile(spec):
        raise CommandError(f"no such file: {spec}")
    from .errors import GraphFormatError
    from .ir.serialize import load_graph
    try:
        return load_graph(spec)
    except GraphFormatError as e:
        raise CommandError(f"{spec} is not a valid graph file: {e}") from None


def _load_onnx(path):
    if not os.path.isfile(path):
        raise CommandError(f"no such file: {path}")
    from . import onnx as graphc_onnx  # imports the onnx package only when loading
    try:
        return graphc_onnx.load(path)
    except (ImportError, graphc_onnx.OnnxError) as e:
        raise CommandError(str(e)) from None


def _call_function(path, func):
    if not os.path.isfile(path):
        raise CommandError(f"no such file: {path}")
    path = os.path.abspath(path)
    name = "graphc_target_" + "".join(c if c.isalnum() else "_" for c in
                                      os.path.splitext(os.path.basename(path))[0])
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: dataclasses and pickling-free lookups
    sys.path.insert(0, os.path.dirname(path))  # the file's own imports of its neighbours
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise CommandError(f"importing {path} failed:\n{_user_traceback(e)}") from None
    finally:
        sys.path.remove(os.path.dirname(path))
    fn = getattr(module, func, None)
    if not callable(fn):
        available = sorted(k for k, v in vars(module).items()
                           if callable(v) and getattr(v, "__module__", None) == name)
        raise CommandError(f"{path} has no function {func!r}"
                           + (f" (functions: {', '.join(available)})" if available else ""))
    try:
        result = fn()
    except Exception as e:
        raise CommandError(f"{func}() in {path} raised:\n{_user_traceback(e)}") from None
    return _check_result(result, f"{func}()")


def _check_result(result, what):
    from .eager.tensor import Tensor
    from .ir.graph import Graph, Value
    ok = (isinstance(result, (Graph, Value, Tensor))
          or isinstance(getattr(result, "graph", None), Graph)
          or (isinstance(result, (list, tuple)) and result and
              (all(isinstance(v, Value) for v in result)
               or all(isinstance(t, Tensor) for t in result))))
    if not ok:
        raise CommandError(f"{what} returned {type(result).__name__}; return a Graph, symbolic "
                           f"outputs (a Value or a list of them), a compiled Executable or an "
                           f"eager Tensor")
    return result


def _user_traceback(e):
    """The traceback from the user's code on (this module's frame left out)."""
    tb = e.__traceback__.tb_next if e.__traceback__ is not None else None
    return "".join(traceback.format_exception(type(e), e, tb)).rstrip()


def _is_tape(obj):
    from .eager.tensor import Tensor
    return isinstance(obj, Tensor) or (isinstance(obj, (list, tuple))
                                       and isinstance(obj[0], Tensor))


def _compile(obj, target):
    """An executable for `obj` (itself if it already is one) on `target` (default: cpu if
    available, else reference)."""
    from .compile import Executable
    from .ir.graph import Graph
    from .viz.text import as_graph
    if isinstance(getattr(obj, "graph", None), Graph):
        return obj
    if _is_tape(obj):
        raise CommandError("an eager tensor runs op by op: there is no compiled form to show")
    return Executable(as_graph(obj), target=target)  # (its updates too; default: the best)


def _shapes(specs):
    """--shape NAME=D0,D1,... (or POSITION=...) options as {name or position: shape}."""
    shapes = {}
    for spec in specs or ():
        name, sep, dims = spec.partition("=")
        try:
            shape = tuple(int(d) for d in dims.split(",") if d.strip()) if sep else None
        except ValueError:
            shape = None
        if not name or shape is None:
            raise UsageError(f"--shape {spec!r}: write NAME=D0,D1,... (e.g. x=8,2)")
        shapes[int(name) if name.isdigit() else name] = shape
    return shapes


# ---- commands --------------------------------------------------------------------------------
def cmd_dump(args):
    from . import viz
    from .viz.text import as_graph
    obj = load_target(args.target)
    if args.json:
        if _is_tape(obj):
            raise CommandError("an eager tape has no JSON form; dump a static graph")
        from .ir.serialize import graph_to_json
        text = json.dumps(graph_to_json(as_graph(obj)), indent=1)
    elif args.passes:
        if _is_tape(obj):
            raise CommandError("an eager tape is not compiled: there are no passes to show")
        text = viz.dump_passes(obj)
    elif args.source:
        try:
            text = viz.dump_source(_compile(obj, args.target_name), shapes=_shapes(args.shape))
        except ValueError as e:  # a --shape that fits no input
            raise UsageError(str(e)) from None
    else:
        text = viz.dump(obj, locations=args.locations)
    print(text)


def cmd_draw(args):
    from . import viz
    from .viz.engines import FORMATS
    fmt = os.path.splitext(args.output)[1].lstrip(".").lower()
    if fmt not in ("dot", "gv") + FORMATS:
        raise UsageError(f"cannot tell the picture format of {args.output!r}: use a .dot, "
                         f".{', .'.join(FORMATS)} file")
    obj = load_target(args.target)
    if args.compiled:  # what runs: after the passes, for the inputs' (or --shape) shapes
        exe = _compile(obj, args.target_name)
        try:
            picture = viz.executable_picture(exe, collapse=args.collapse,
                                             shapes=_shapes(args.shape))
        except ValueError as e:
            raise UsageError(str(e)) from None
        drawing = viz.Drawing(picture, args.engine)
    else:  # the graph as built (an executable's too, with its updates), or an eager tape
        if not _is_tape(obj):
            from .viz.text import as_graph
            obj = as_graph(obj)
        drawing = viz.draw(obj, collapse=args.collapse, engine=args.engine)
    drawing.save(args.output)
    print(f"wrote {args.output} ({len(drawing.picture.boxes)} boxes)")


def cmd_bench(args):
    """Delegate to the benchmark suite: graphc.bench if installed, else benchmarks.run of a
    source checkout (the folder next to the graphc package)."""
    try:
        from . import bench as suite
    except ImportError:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        if not os.path.isfile(os.path.join(root, "benchmarks", "run.py")):
            raise CommandError("the benchmark suite is not available: run graphc from a source "
                               "checkout (it looks for benchmarks/run.py next to the package)")
        if root not in sys.path:
            sys.path.insert(0, root)
        from benchmarks import run as suite
    try:
        result = suite.main(list(args.bench_args))
    except SystemExit as e:  # the suite's own argparse: --help, usage errors
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return result if isinstance(result, int) else 0


def cmd_info(args):
    for key, value in collect_info():
        print(f"{key + ':':<15}{value}")


def collect_info():
    """(name, text) pairs describing this installation."""
    import platform
    from importlib import metadata
    rows = [("graphc", f"{_version()} ({os.path.dirname(os.path.abspath(__file__))})"),
            ("python", f"{platform.python_version()} ({sys.executable})")]
    versions = []
    for dist in ("numpy", "numba", "llvmlite", "scipy", "networkx", "matplotlib"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} (not installed)")
    rows.append(("packages", ", ".join(versions)))
    from .viz.engines import graphviz_available
    rows.append(("graphviz", _dot_version() if graphviz_available()
                 else "not installed (pictures are drawn with matplotlib)"))
    rows.append(("threads", _threads()))
    rows.append(("compile cache", _cache_info()))
    rows.append(("cuda", _cuda_info()))
    rows.append(("targets", ", ".join(_targets())))
    return rows


def _targets():
    from .backends import default_target, target_names, unavailable_reason
    out, default = [], default_target()
    for name in target_names():
        why = unavailable_reason(name)  # a target that cannot run here says why
        out.append(f"{name} (unavailable: {why[:60]})" if why else
                   f"{name} (default)" if name == default else name)
    return out


def _dot_version():
    import subprocess
    done = subprocess.run(["dot", "-V"], capture_output=True, text=True, timeout=30)
    return (done.stderr or done.stdout).strip()


def _threads():
    try:
        import numba
        layer = numba.config.THREADING_LAYER
        return (f"{numba.config.NUMBA_NUM_THREADS} numba threads (threading layer "
                f"{layer!r}), {os.cpu_count()} CPUs")
    except ImportError:
        return f"numba is not installed; {os.cpu_count()} CPUs"


def _cache_info():
    try:
        from runtime.cache import cache_info
    except ImportError:
        return "none (runtime.cache is not available)"
    info = cache_info()
    return (f"{info['path']} ({info['modules']} programs, {info['bytes'] / 1e6:.1f} MB)")


def _cuda_info():
    try:
        from numba import cuda
    except ImportError:
        return "not available (numba-cuda is not installed)"
    try:
        if cuda.is_available():
            gpus = ", ".join(d.name.decode() if isinstance(d.name, bytes) else str(d.name)
                             for d in cuda.gpus)
            return f"available: {gpus}"
        return "not available (no CUDA driver or GPU found)"
    except Exception as e:  # a broken driver is reported, not raised
        return f"not available ({type(e).__name__}: {e})"


def cmd_cache_clear(args):
    try:
        from runtime import cache
    except ImportError:
        cache = None
    if cache is None or not hasattr(cache, "clear_cache"):
        raise CommandError("this installation has no compile cache (runtime.cache is missing)")
    before = cache.cache_info() if hasattr(cache, "cache_info") else {}
    cache.clear_cache()
    where = f" ({before['path']}: {before.get('modules', '?')} programs, " \
            f"{before.get('bytes', 0) / 1e6:.1f} MB)" if "path" in before else ""
    print(f"compile cache cleared{where}")


# ---- the parser ----------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        raise UsageError(message)


def build_parser():
    p = _Parser(prog="graphc", description="graphc: dump and draw graphs, run the "
                "benchmarks, inspect the installation.",
                epilog="exit codes: 0 ok, 1 the command failed, 2 bad command line")
    p.add_argument("--version", action="version", version=f"graphc {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    d = sub.add_parser("dump", help="print a graph as typed IR text",
                       description="Print a graph as typed IR, one node a line (an eager "
                       "tensor: its tape).")
    d.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    what = d.add_mutually_exclusive_group()
    what.add_argument("--passes", action="store_true",
                      help="the graph after each compiler pass, with a one-line summary")
    what.add_argument("--source", action="store_true",
                      help="the generated source code of the compiled executable")
    what.add_argument("--json", action="store_true", help="the graph in the JSON format")
    d.add_argument("--locations", action="store_true",
                   help="append the user's source line to each node")
    d.add_argument("--target", dest="target_name", metavar="NAME",
                   help="compile target for --source (default: cpu when it loads)")
    d.add_argument("--shape", action="append", metavar="NAME=D0,D1,...",
                   help="for --source: the shape of input NAME (or its position) to generate "
                        "code for; symbolic dims not given are set to 8 (repeatable)")
    d.set_defaults(func=cmd_dump)

    r = sub.add_parser("draw", help="draw a graph to an SVG, PNG, PDF or DOT file",
                       description="Draw a graph, a compiled executable or an eager tape. "
                       "SVG/PNG/PDF use Graphviz when installed, else matplotlib.")
    r.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    r.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="output file; its suffix picks the format (.svg .png .pdf .dot)")
    r.add_argument("--compiled", action="store_true",
                   help="draw what runs after the compiler's passes: fused kernels, buffers, "
                        "in-place updates (without it: the graph as built)")
    r.add_argument("--collapse", action="store_true",
                   help="one box per module scope (or source line)")
    r.add_argument("--engine", choices=("auto", "graphviz", "matplotlib"), default="auto",
                   help="how to render SVG/PNG (default: Graphviz if installed)")
    r.add_argument("--target", dest="target_name", metavar="NAME",
                   help="compile target for --compiled (default: cpu if available)")
    r.add_argument("--shape", action="append", metavar="NAME=D0,D1,...",
                   help="for --compiled: compile for this shape of input NAME (symbolic dims "
                        "otherwise stay symbolic: no memory plan is drawn)")
    r.set_defaults(func=cmd_draw)

    b = sub.add_parser("bench", help="run the benchmark suite (arguments are passed on)",
                       description="Run the benchmark suite; every argument after `bench` is "
                       "passed to it (try `graphc bench --help`).")
    b.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments of the suite")
    b.set_defaults(func=cmd_bench)

    i = sub.add_parser("info", help="versions, threads, compile cache and CUDA",
                       description="Show versions, threads, the compile cache and whether "
                       "CUDA is usable.")
    i.set_defaults(func=cmd_info)

    c = sub.add_parser("cache", help="manage the compile cache",
                       description="Manage the on-disk compile cache.")
    csub = c.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    csub.required = True
    cc = csub.add_parser("clear", help="delete every cached compiled program",
                         description="Delete every cached compiled program.")
    cc.set_defaults(func=cmd_cache_clear)
    return p


def _version():
    from . import __version__
    return __version__


def main(argv=None) -> int:
    parser = build_parser()
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        if argv[:1] == ["bench"]:  # everything after `bench` belongs to the suite
            rest = argv[1:2] == ["--"] and argv[2:] or argv[1:]
            args = argparse.Namespace(func=cmd_bench, bench_args=rest)
        else:
            args = parser.parse_args(argv)
        code = args.func(args)
        return code if isinstance(code, int) else 0
    except UsageError as e:
        print(f"graphc: error: {e}", file=sys.stderr)
        return 2
    except CommandError as e:
        print(f"graphc: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `graphc dump ... | head`
        sys.stderr.close()
        return 0
    except Exception as e:  # a graphc error while compiling or drawing: short, not a trace
        if os.environ.get("GRAPHC_TRACEBACK"):
            traceback.print_exc()
        print(f"graphc: error: {type(e).__name__}: {e}\n(set GRAPHC_TRACEBACK=1 to see the "
              f"traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
