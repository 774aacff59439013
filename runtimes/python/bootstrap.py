# Stratus's Python runtime: the entry point of a python3.x execution
# environment, run as
#
#     /usr/bin/python3 -S -B -u /var/runtime/python/bootstrap.py
#
# Everything lives in _stratus_runtime, which a pre-started interpreter can
# also import and drive itself (load_handler, then serve).
import sys

import _stratus_runtime

del sys.path[0]  # this directory: the function must not see the runtime's files
_stratus_runtime.main()
