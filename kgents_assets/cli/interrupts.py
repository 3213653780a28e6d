"""Make a ``kg`` process stop on SIGINT and SIGTERM however it was started.

A shell without job control (a script's ``kg ... &``) starts background commands with
SIGINT ignored. Dagster's in-process execution gives SIGTERM whatever SIGINT does
(``dagster._utils.interrupts``) and leaves it so after the run: the process, and every
child it starts from then on (compute-log ``tail -F``, code servers, the record child),
would ignore SIGTERM. ``kill`` would then do nothing, and Dagster itself waits 30 s for
each ``tail`` it terminates at the end of a step.
"""

from __future__ import annotations

import signal
import threading


def accept_interrupts() -> None:
    """Undo an inherited "ignore" of SIGINT and SIGTERM (main thread only: Python allows
    no other to change a disposition)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
