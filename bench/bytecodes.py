"""Python bytecodes executed, counted by function around chosen calls (issue 7, twenty-first round).

callgrind (``bench/instructions.py``) counts instructions by C function, and the interpreter runs every
Python function in one of them (``_PyEval_EvalFrameDefault``) and the C it calls: it says how much the
interpreter did, not for which Python function. This says that: ``sys.settrace`` with opcode events
between ``on()`` and ``off()``, each bytecode counted against its function. The count repeats exactly
for the same inputs. A bytecode is not an instruction (one of a loop over bytes costs a tenth of one that
calls into C), so a change found here is then counted by callgrind. Tracing makes the calls tens of
times slower: never with a timing.
"""

from __future__ import annotations

import sys
from collections import Counter
from types import CodeType, FrameType
from typing import Any


class Bytecodes:
    def __init__(self) -> None:
        self.counts: Counter[CodeType] = Counter()
        # Code made by exec (dataclasses' and namedtuples' __init__, __eq__, ...) shares the file "<string>"
        # and its function's name: counted by the class of the object it ran for.
        self.generated: Counter[str] = Counter()

    def on(self) -> None:
        sys.settrace(self._call)

    def off(self) -> None:
        sys.settrace(None)

    def _call(self, frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        code = frame.f_code
        if code.co_filename == "<string>" and "self" in frame.f_locals:
            # The class is known at the call: the frame's every opcode counted against it.
            kind = type(frame.f_locals["self"])
            name = f"{kind.__module__}.{kind.__qualname__}.{code.co_name}"

            def generated_step(frame: FrameType, event: str, arg: Any) -> Any:
                if event == "opcode":
                    self.generated[name] += 1
                return generated_step

            return generated_step
        return self._step

    def _step(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "opcode":
            self.counts[frame.f_code] += 1
        return self._step

    def report(self, per: int, top: int) -> dict[str, Any]:
        """Per call (``per`` of them): the total, by package or module, and the ``top`` functions."""
        by_function: Counter[str] = Counter()
        by_place: Counter[str] = Counter()
        for code, count in self.counts.items():
            where = _short(code.co_filename)
            by_function[f"{where}:{code.co_qualname}"] += count
            by_place[_place(where)] += count
        for name, count in self.generated.items():
            by_function[f"<string>:{name}"] += count
            by_place["<string>"] += count
        total = sum(self.counts.values()) + sum(self.generated.values())
        return {
            "bytecodes": round(total / per),
            "by_place": {place: round(count / per) for place, count in by_place.most_common(top)},
            "functions": {name: round(count / per) for name, count in by_function.most_common(top)},
        }


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    for package in ("/broker/", "/bench/", "/mock_vneid/"):
        if package in filename:
            return package.strip("/") + "/" + filename.split(package, 1)[1]
    return filename


def _place(where: str) -> str:
    """The broker's own modules by subpackage, anything else by its top package or module."""
    parts = where.split("/")
    if parts[0] == "broker" and len(parts) > 2:
        return "/".join(parts[:2])
    return parts[0]
