"""CSV to one long frame (unique_id, ds, y): layout and column detection, frequency, validation.

Every error names the file and the column, line or series at fault and says what to do. Repairs
(sorting, filling under `--fill`) are reported back as notes, never done silently.

The package's modules, in the order a file passes through them: `reading` (the file to raw
frames), `columns` (which column is what; the long frame), `dates` and `numbers` (parsing and
checking values), `regular` (order, duplicates, gaps, fill), `frequency`, then `long`
(`prepare`: all of these in turn), `chunks` (by blocks of rows) and `loading` (the loaders).
"""

from rnnforecast.data.chunks import CHUNK_ROWS, trim_heap
from rnnforecast.data.columns import ID_NAME, KEY_COLUMNS, TARGET_NAME, TIME_NAMES, detect_columns
from rnnforecast.data.frequency import guess_freq, normalize_freq
from rnnforecast.data.loading import load, load_chunks, load_compact
from rnnforecast.data.long import prepare
from rnnforecast.data.numbers import LARGEST, SMALLEST
from rnnforecast.data.regular import MAX_FILL_SHARE
from rnnforecast.data.results import Compact, Loaded, Schema, compact

__all__ = [
    "CHUNK_ROWS",
    "ID_NAME",
    "KEY_COLUMNS",
    "LARGEST",
    "MAX_FILL_SHARE",
    "SMALLEST",
    "TARGET_NAME",
    "TIME_NAMES",
    "Compact",
    "Loaded",
    "Schema",
    "compact",
    "detect_columns",
    "guess_freq",
    "load",
    "load_chunks",
    "load_compact",
    "normalize_freq",
    "prepare",
    "trim_heap",
]
