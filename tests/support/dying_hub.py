"""``onestop-hub`` that kills itself (SIGKILL) as soon as its processor has committed an alert and returned it:
a hub worker that dies between an alert's commit and anything the worker does with it afterwards (publish it,
wake its senders). Run as a script: ``python tests/support/dying_hub.py serve ...`` (the arguments of
``onestop-hub``)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from hub.cli import main
from hub.processor import BatchOutcome, Processor


def _dies_after_an_alert(method: Callable[..., Any]) -> Callable[..., Any]:
    def committed_then_killed(self: Processor, *args: Any, **kwargs: Any) -> Any:
        result = method(self, *args, **kwargs)  # returns after its transaction committed
        if result.alerts if isinstance(result, BatchOutcome) else result:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    return committed_then_killed


Processor.process = _dies_after_an_alert(Processor.process)  # type: ignore[method-assign]
Processor.tick = _dies_after_an_alert(Processor.tick)  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
