"""``python -m cnncost``."""

from .cli import run

# Guarded: the training processes ``cnncost train --nproc-per-node`` spawns import the main module
# again (as ``__mp_main__``), and must not run the command line a second time.
if __name__ == "__main__":
    run()
