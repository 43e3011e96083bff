"""``python -m verify.gnc_figures``: every figure of the G&C paper (see :mod:`verify.gnc.suite`)."""
import sys

from verify.gnc.suite import main

if __name__ == "__main__":
    sys.exit(main())
