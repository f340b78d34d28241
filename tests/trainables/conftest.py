"""One torch thread, as Ray gives a 1-CPU trial; keeps timings stable on a shared 2-core box."""

from __future__ import annotations

import torch

torch.set_num_threads(1)
