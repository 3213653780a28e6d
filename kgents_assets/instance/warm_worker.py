"""``python -m kgents_assets.instance.warm_worker ORIGIN``: a run worker that has already
loaded the code location, forking one child per run (``warm_launcher.py`` starts it).

Why: a run launched through the code server is a fresh ``spawn`` process that imports
Dagster and the code location and builds the repository before its first event: 6 s of a
save's 13 s on two shared cores, every run. This process pays that once, then forks: the
child starts with every module imported and the repository built, and executes the run as
``dagster api execute_run`` does (the same function, so the same events).

Fork safety: this process starts no thread and keeps no database connection open when it
forks (it builds the instance once, and dagster-postgres connects per query); SIGCHLD is
ignored so children are reaped.

A run never executes stale code: before each fork the files of every loaded module outside
the interpreter's own directories are compared with what was loaded; any change and the
worker answers "stale" and exits, and the launcher starts a fresh one.

Protocol (JSON lines): argv[1] is the serialized ``RepositoryPythonOrigin``, argv[2] the
serialized ``InstanceRef`` of the launcher's instance. stdout: ``{"ready": pid}`` once
loaded (or ``{"error": text}`` and exit). stdin: ``{"run_id": ..., "instance_ref": ...}``
per run; answer ``{"pid": child}`` or ``{"stale": path}``. EOF on stdin (the launcher's
process is gone) ends the worker; running children finish their runs.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import sysconfig
import traceback
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagster import DagsterInstance

SourceStamps = dict[str, int]


def _reply(out: IO[str], message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def _interpreter_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {sys.prefix, sys.base_prefix, paths["stdlib"], paths["purelib"], paths["platlib"]}
    return tuple(str(Path(d).resolve()) + os.sep for d in dirs)


def source_stamps() -> SourceStamps:
    """mtime of every loaded module's file that is not the interpreter's or an installed
    package's: the project's code (also when installed editable) and the location file."""
    skip = _interpreter_dirs()
    stamps: SourceStamps = {}
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str):
            continue
        path = os.path.realpath(file)
        if path.startswith(skip):
            continue
        try:
            stamps[path] = Path(path).stat().st_mtime_ns
        except OSError:
            continue
    return stamps


def changed_source(stamps: SourceStamps) -> str | None:
    """The first loaded file that changed or vanished since ``stamps``, or None."""
    for path, mtime in stamps.items():
        try:
            if Path(path).stat().st_mtime_ns != mtime:
                return path
        except OSError:
            return path
    return None


def _load(origin_json: str, instance_ref_json: str) -> DagsterInstance | None:
    """Import and build everything a run needs before its first event; the instance too,
    when its database answers (else each child creates its own and reports why)."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.origin import RepositoryPythonOrigin
    from dagster._serdes import ConfigurableClassData, deserialize_value
    from dagster._utils.hosted_user_process import recon_repository_from_origin

    ref = deserialize_value(instance_ref_json, InstanceRef)
    for data in ref:
        if isinstance(data, ConfigurableClassData):
            importlib.import_module(data.module_name)
    # What the child runs: imported here so no child imports it again.
    importlib.import_module("dagster._cli.api")
    importlib.import_module("dagster._core.execution.api")
    importlib.import_module("kgents_assets.instance.warm_launcher")
    origin = deserialize_value(origin_json, RepositoryPythonOrigin)
    # The child's ``recon_job_from_origin`` builds an equal object, and ``get_definition``
    # is cached per equal object: the child finds this repository already built.
    definition = recon_repository_from_origin(origin).get_definition()
    for name in definition.job_names:
        definition.get_job(name)  # resolved once: every child starts from the built job
    # Building the instance checks the database and Dagster's schema: several round trips
    # per run otherwise. dagster-postgres holds no connection between queries (NullPool),
    # so a forked child inherits no socket, only the checked configuration.
    try:
        return DagsterInstance.from_ref(ref)
    except Exception:
        traceback.print_exc()
        return None


def _run_child(request: dict[str, Any], prebuilt: DagsterInstance | None, ref_json: str) -> None:
    """In the forked child: execute the run exactly as ``dagster api execute_run`` does."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the run's own subprocesses are waited
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(2, 1)  # the run's prints must not reach the protocol pipe

        from dagster import DagsterInstance
        from dagster._cli.api import _execute_run_command_body
        from dagster._core.instance.ref import InstanceRef
        from dagster._serdes import deserialize_value
        from dagster._utils.interrupts import capture_interrupts

        from kgents_assets.instance.warm_launcher import worker_tag

        if prebuilt is not None and request["instance_ref"] == ref_json:
            instance = prebuilt
        else:
            instance = DagsterInstance.from_ref(
                deserialize_value(request["instance_ref"], InstanceRef)
            )
        with capture_interrupts(), instance:
            # before the run starts, so that nothing else writes the run concurrently
            instance.add_run_tags(request["run_id"], worker_tag(os.getpid()))
            _execute_run_command_body(
                request["run_id"], instance, lambda _event: None, set_exit_code_on_failure=False
            )
        code = 0
    except BaseException:  # the run's failure is in its event log; this is for the worker's log
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve(origin_json: str, ref_json: str, requests: IO[str], out: IO[str]) -> int:
    try:
        instance = _load(origin_json, ref_json)
    except Exception:
        _reply(out, {"error": traceback.format_exc()})
        return 1
    stamps = source_stamps()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    _reply(out, {"ready": os.getpid()})
    while line := requests.readline():
        request = json.loads(line)
        stale = changed_source(stamps)
        if stale is not None:
            _reply(out, {"stale": stale})
            return 0
        pid = os.fork()
        if pid == 0:
            _run_child(request, instance, ref_json)
        _reply(out, {"pid": pid})
    return 0


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: python -m kgents_assets.instance.warm_worker ORIGIN INSTANCE_REF")
        return 2
    # The protocol owns stdout; anything printed while loading goes to stderr instead.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    try:
        return serve(sys.argv[1], sys.argv[2], sys.stdin, out)
    except KeyboardInterrupt:  # Ctrl-C on `dagster dev` reaches the whole process group
        return 0


if __name__ == "__main__":
    sys.exit(main())
