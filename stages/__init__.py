"""One thin entry point per DVC stage (see dvc.yaml): parse, load params, call the library.

Importing this package pins what decides float results (reprolab/core/kernels.py) before any
stage script loads torch or numpy: every stage passes through here, so none can forget it.
"""

from reprolab.core import kernels

kernels.pin_configured()
