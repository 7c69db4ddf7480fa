import os

import matplotlib

matplotlib.use("Agg")
# Keep test runs on this 2-core machine predictable.
os.environ.setdefault("OMP_NUM_THREADS", "2")
