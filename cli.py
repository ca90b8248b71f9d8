"""The ``subsidy`` command, runnable from a clone as ``python cli.py …``.

The commands live in the library (:mod:`subsidy_rules.cli`, one module per command group); the installed
``subsidy`` script calls the same ``main``. This file is not installed.
"""
from subsidy_rules.cli import main

if __name__ == "__main__":
    main()
