"""Shared by the runtime-truth programs: the device, and which labelled lines actually ran.

`start(name, packages)` records every line executed in files of the named top-level packages (the
labelled trees) and every function entered there, and writes them at exit to
`$COVER_DIR/<name>.cover.json` (default: the current directory), with the versions and files of the
packages as imported. confirm.py joins that with probe exec's report: a label whose line never ran
is "not exercised", whatever the report says.

Python 3.12+: sys.monitoring (LINE and PY_START, each location disabled after its first event, so
the cost is one callback per line ever executed); older Pythons: sys.settrace. Neither touches
probe exec's own step hook (a separate monitoring tool id; settrace is not used by it on 3.12+).
"""
import atexit
import json
import os
import sys
import threading

DEVICE = os.environ.get("DEVICE", "cuda")


def _wanted_roots(packages):
    roots = {}
    for p in packages:
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(p, sys.path)  # never imports the package
        if spec is None:
            continue
        locs = list(spec.submodule_search_locations or []) or [os.path.dirname(spec.origin)]
        for loc in locs:
            roots[os.path.realpath(loc) + os.sep] = p
    return roots


class _Recorder:
    def __init__(self, name, packages):
        self.name = name
        self.packages = list(packages)
        self.roots = _wanted_roots(self.packages)  # before any callback: find_spec runs Python code
        self.lines = {}  # file -> set of lines
        self.funcs = {}  # file -> {(qualname, first, last)}
        self.seen_code = {}
        self.lock = threading.Lock()

    def _wanted(self, filename):
        r = self.seen_code.get(filename)
        if r is None:
            real = os.path.realpath(filename) if not filename.startswith("<") else filename
            r = any(real.startswith(root) for root in self.roots)
            self.seen_code[filename] = r
        return r

    def _func(self, code):
        lines = [ln for _, _, ln in code.co_lines() if ln is not None]
        last = max(lines) if lines else code.co_firstlineno
        qual = getattr(code, "co_qualname", code.co_name)
        with self.lock:
            self.funcs.setdefault(code.co_filename, set()).add((qual, code.co_firstlineno, last))

    def _line(self, filename, line):
        with self.lock:
            self.lines.setdefault(filename, set()).add(line)

    def start(self):
        if hasattr(sys, "monitoring"):
            mon = sys.monitoring
            tool = next((t for t in (mon.COVERAGE_ID, 4, 3, 2) if mon.get_tool(t) is None), None)
            if tool is None:
                sys.stderr.write("runtime-truth: no free sys.monitoring tool id, no coverage\n")
                return
            mon.use_tool_id(tool, "recall-runtime-cover")

            def on_start(code, offset):
                if self._wanted(code.co_filename):
                    self._func(code)
                return mon.DISABLE

            def on_line(code, line):
                if self._wanted(code.co_filename):
                    self._line(code.co_filename, line)
                return mon.DISABLE

            mon.register_callback(tool, mon.events.PY_START, on_start)
            mon.register_callback(tool, mon.events.LINE, on_line)
            mon.set_events(tool, mon.events.PY_START | mon.events.LINE)
        else:

            def local(frame, event, arg):
                if event == "line":
                    self._line(frame.f_code.co_filename, frame.f_lineno)
                return local

            def glob(frame, event, arg):
                if event == "call" and self._wanted(frame.f_code.co_filename):
                    self._func(frame.f_code)
                    return local
                return None

            sys.settrace(glob)
            threading.settrace(glob)

    def dump(self):
        if getattr(self, "_dumped", False):
            return
        self._dumped = True
        versions = {}
        for p in self.packages:
            m = sys.modules.get(p)
            versions[p] = getattr(m, "__version__", None) if m is not None else None
        try:
            from importlib.metadata import version as dist_version

            dists = {}
            for d in ("diffusers", "transformers", "timm", "torchtune", "chronos-forecasting", "eagle-llm",
                      "sglang", "torch"):
                try:
                    dists[d] = dist_version(d)
                except Exception:  # noqa: BLE001
                    dists[d] = None
        except Exception:  # noqa: BLE001
            dists = {}
        out = {
            "schema": "recall-runtime-cover/1",
            "program": self.name,
            "device": DEVICE,
            "python": sys.version.split()[0],
            "packages": versions,
            "distributions": dists,
            "roots": sorted(self.roots or []),
            "complete": not getattr(self, "_killed", False),
            "lines": {f: sorted(v) for f, v in sorted(self.lines.items())},
            "functions": {f: sorted([list(x) for x in v]) for f, v in sorted(self.funcs.items())},
        }
        path = os.path.join(os.environ.get("COVER_DIR", "."), f"{self.name}.cover.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(out, fh, indent=1)
        os.replace(tmp, path)


_rec = None


def start(name, packages):
    """Start recording lines of `packages` (top-level package names); written at exit."""
    global _rec
    _rec = _Recorder(name, packages)
    _rec.start()
    atexit.register(_rec.dump)

    def on_term(signum, frame):  # `timeout` kills with SIGTERM: keep what ran so far
        _rec._killed = True
        _rec.dump()
        os._exit(128 + signum)

    import signal

    signal.signal(signal.SIGTERM, on_term)
    deadline = float(os.environ.get("PROGRAM_DEADLINE_S", "0") or 0)
    if deadline > 0:  # end on our own, so that probe exec still writes its report (run.sh's timeout is later)
        t = threading.Timer(deadline, lambda: os.kill(os.getpid(), signal.SIGTERM))
        t.daemon = True
        t.start()
    return _rec


def section(title):
    """A marker in the program's output (one line), so the log says which part ran."""
    print(f"--- {title}", flush=True)


def run_section(title, fn, step, reps=3, inference=False):
    """Run `fn` `reps` times through the program's own `step` (the function probe exec counts),
    under torch.inference_mode() when asked. A failure is printed and the program goes on, so one
    failing part does not hide the others."""
    import contextlib
    import traceback

    import torch

    section(title)
    try:
        for _ in range(reps):
            with torch.inference_mode() if inference else contextlib.nullcontext():
                step(fn)
        sync_device()
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        print(f"!!! {title}: {type(e).__name__}: {e}", flush=True)


def bare_package(name):
    """Make `import name.sub` work without running `name/__init__.py` (a heavy import-time
    dependency list, e.g. torchtune's torchao/datasets check): registers an empty package module
    whose __path__ is the real directory. Subpackages' own __init__ files still run."""
    import importlib.machinery
    import types

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.machinery.PathFinder.find_spec(name, sys.path)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"no package {name} on sys.path")
    mod = types.ModuleType(name)
    mod.__path__ = list(spec.submodule_search_locations)
    mod.__file__ = spec.origin
    mod.__package__ = name
    mod.__spec__ = spec
    sys.modules[name] = mod
    return mod


def sync_device():
    import torch

    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


class _Stub:
    """Stands for anything of a package that is not installed: a class, a function, a decorator, a
    constant. Only for import-time uses of packages that the executed code never calls."""

    def __init__(self, *a, **k):
        pass

    def __call__(self, *a, **k):
        if len(a) == 1 and callable(a[0]) and not k:
            return a[0]  # used as a decorator
        return _Stub()

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _StubMeta(name, (_Stub,), {})

    def __iter__(self):
        return iter(())

    def __bool__(self):
        return False

    def __mro_entries__(self, bases):
        return (_Stub,)

    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):  # a field typed by a stub accepts anything
        from pydantic_core import core_schema

        return core_schema.any_schema()


class _StubMeta(type):
    def __getattr__(cls, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _StubMeta(name, (_Stub,), {})

    def __call__(cls, *a, **k):
        if len(a) == 1 and callable(a[0]) and not k:
            return a[0]
        return type.__call__(cls, *a, **k)

    def __getitem__(cls, item):
        return cls

    def __or__(cls, other):
        return cls

    def __ror__(cls, other):
        return cls

    def __iter__(cls):
        return iter(())


def stub_missing_modules(prefixes):
    """Let `import X` succeed for the top-level names in `prefixes` that are not installed: each is a
    module whose every attribute is a stub (see _Stub). Used only to import a wheel's module whose
    import chain names packages that the labelled functions never call (listed in the program)."""
    import importlib.abc
    import importlib.machinery
    import types

    class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] not in prefixes:
                return None
            return importlib.machinery.ModuleSpec(name, self, is_package=True)

        def create_module(self, spec):
            mod = types.ModuleType(spec.name)
            mod.__path__ = []
            mod.__file__ = None

            def attr(name):
                if name.startswith("__") and name.endswith("__"):
                    raise AttributeError(name)
                return _StubMeta(name, (_Stub,), {})

            mod.__getattr__ = attr
            return mod

        def exec_module(self, module):
            pass

    sys.meta_path.append(Finder())  # last: a package that is installed is found first
