"""How the primary of `serve --processes N` starts a secondary: `python -m entrypoints.secondary
PRIMARY_PID serve --listen-fd FD ...`.

A secondary holds the listening socket from its first instant (the descriptor is inherited),
so it must not outlive the primary even while it is still importing: a service started again
could not bind its port. So before any import that takes time it asks the kernel for SIGTERM
when its parent dies (Linux), and leaves at once if the primary is already gone."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int = signal.SIGTERM) -> bool:
    """Linux's PR_SET_PDEATHSIG: `signum` the moment the parent exits; False elsewhere."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def main() -> int:
    primary, argv = int(sys.argv[1]), sys.argv[2:]
    die_with_parent()
    if os.getppid() != primary:
        os._exit(0)  # gone before we asked: nothing to serve for
    from entrypoints.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
