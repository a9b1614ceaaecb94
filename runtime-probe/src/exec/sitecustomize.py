# probe exec's step hook, put first on PYTHONPATH only when --step is given. It tells the
# injection library where each call of the step function begins and ends, then hands over to
# the sitecustomize module it shadows. It must never break the program: any failure is a warning.
import os
import sys


def _install_step_hook():
    spec = os.environ.get("PROBE_STEP")
    library = os.environ.get("PROBE_INJECT")
    if not spec or not library:
        return
    import ctypes

    lib = ctypes.CDLL(library)  # the library the CUDA driver loads later: the same copy
    begin, end = lib.probe_step_begin, lib.probe_step_end
    module, _, qualname = spec.partition(":")
    tail = module.replace(".", os.sep)

    def in_module(filename):
        if module == "__main__":
            main = getattr(sys.modules.get("__main__"), "__file__", None)
            return main is not None and os.path.abspath(main) == os.path.abspath(filename)
        stem = filename[:-3] if filename.endswith(".py") else filename
        return stem.endswith(os.sep + tail) or stem.endswith(os.sep + tail + os.sep + "__init__")

    def is_step(code):
        name = getattr(code, "co_qualname", code.co_name)
        return name == qualname and in_module(code.co_filename)

    if sys.version_info >= (3, 12):
        mon = sys.monitoring
        tool = next(t for t in range(6) if mon.get_tool(t) is None)
        mon.use_tool_id(tool, "probe-exec-step")
        steps = set()

        def on_start(code, offset):
            if code in steps:
                begin()
                return None
            if is_step(code):
                steps.add(code)
                mon.set_local_events(tool, code, mon.events.PY_RETURN)
                begin()
                return None
            # Never called back again for this code object: no cost outside the step function.
            return mon.DISABLE

        def on_return(code, offset, value):
            if code in steps:
                end()

        def on_unwind(code, offset, exc):
            if code in steps:
                end()

        mon.register_callback(tool, mon.events.PY_START, on_start)
        mon.register_callback(tool, mon.events.PY_RETURN, on_return)
        mon.register_callback(tool, mon.events.PY_UNWIND, on_unwind)
        mon.set_events(tool, mon.events.PY_START | mon.events.PY_UNWIND)
    else:
        import threading

        # Before 3.11 a code object has no qualified name: a method is recognised by its name, its
        # module, and the class of `self` (or one of its bases) whose attribute it is.
        name = qualname.rsplit(".", 1)[-1]
        owner = qualname.rsplit(".", 1)[0] if "." in qualname else None

        def is_step_frame(frame):
            code = frame.f_code
            if code.co_name != name or not in_module(code.co_filename):
                return False
            if owner is None:
                return True
            this = frame.f_locals.get("self")
            return this is not None and any(
                k.__qualname__ == owner and getattr(k.__dict__.get(name), "__code__", None) is code
                for k in type(this).__mro__
            )

        def profile(frame, event, arg):
            if event in ("call", "return") and is_step_frame(frame):
                (begin if event == "call" else end)()

        sys.setprofile(profile)
        threading.setprofile(profile)


def _chain_to_shadowed_sitecustomize():
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        sys.modules["sitecustomize"] = module
        spec.loader.exec_module(module)


try:
    _install_step_hook()
except Exception as e:  # noqa: BLE001 - the program must run on
    sys.stderr.write(f"probe exec: the step hook could not be installed: {e}\n")
try:
    _chain_to_shadowed_sitecustomize()
except Exception as e:  # noqa: BLE001
    sys.stderr.write(f"probe exec: the program's own sitecustomize failed: {e}\n")
