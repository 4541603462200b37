"""spotify_assets: weekly Spotify playlist snapshots as Dagster assets."""

import os

# Arrow's default mimalloc pool keeps a heap of its own, so the memory Python frees (the raw
# JSON bytes once parsed) is not reused for the tables: the system allocator lowered the peak
# memory of normalizing a 10,000-entry playlist from 5.9x to 4.6x its raw bytes (bench/run.py).
# Arrow reads this once, when pyarrow is first imported; an explicit setting wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
