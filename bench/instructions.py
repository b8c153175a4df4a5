"""Instructions executed, counted by callgrind around chosen calls: a figure that repeats to a few parts
in ten thousand from run to run, whatever else the machine does, where CPU time here moves by a tenth
(issue 7, eighteenth round). For changes of a few percent, which CPU time cannot show on this machine.

Run the bench under ``valgrind --tool=callgrind --collect-atstart=no``; ``Counting.on()`` and ``.off()``
then start and stop the count (callgrind's client requests, ``CALLGRIND_TOGGLE_COLLECT``, through a shim
compiled here with gcc, as valgrind's header gives them only as C macros). Outside valgrind they do
nothing. The total is in the file callgrind writes at exit (``callgrind_annotate`` reads it, and where
the instructions went function by function, C and Python's interpreter alike).
"""

from __future__ import annotations

import ctypes
import subprocess
import tempfile
from pathlib import Path

_SHIM = r"""
#include <valgrind/callgrind.h>
void counting_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }
int counting_under_valgrind(void) { return RUNNING_ON_VALGRIND; }
"""


class Counting:
    def __init__(self) -> None:
        folder = Path(tempfile.mkdtemp(prefix="instructions_"))
        (folder / "shim.c").write_text(_SHIM)
        subprocess.run(
            ["gcc", "-O2", "-shared", "-fPIC", "-o", str(folder / "shim.so"), str(folder / "shim.c")],
            check=True,
        )
        self._shim = ctypes.CDLL(str(folder / "shim.so"))
        self.active = bool(self._shim.counting_under_valgrind())
        self.armed = False  # for callers that count only from some point on (op_inprocess's rounds)
        self._on = False

    def on(self) -> None:
        if self.active and not self._on:
            self._shim.counting_toggle()
            self._on = True

    def off(self) -> None:
        if self.active and self._on:
            self._shim.counting_toggle()
            self._on = False
