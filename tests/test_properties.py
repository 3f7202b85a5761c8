"""Property tests: whatever CSV arrives, train exits 0 or 2, never with a traceback, and
leaves no output behind when it fails."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from rnnforecast.cli import app

TINY = [
    "--epochs",
    "1",
    "--hidden-size",
    "2",
    "--layers",
    "1",
    "--lookback",
    "3",
    "--horizon",
    "2",
    "-q",
]
runner = CliRunner()

cells = st.one_of(
    st.dates().map(str),
    st.text(alphabet="0123456789-:T /", max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(["", "NaN", "inf", "-inf", "null", "abc", '"x,y"', "1e400"]),
    st.text(max_size=6),
)
names = st.sampled_from(["ds", "date", "time", "y", "value", "unique_id", "x", "", "ds "])


@st.composite
def ragged_csv(draw) -> bytes:
    header = draw(st.lists(names, min_size=1, max_size=4))
    rows = draw(st.lists(st.lists(cells, min_size=0, max_size=5), max_size=25))
    sep = draw(st.sampled_from([",", ";", "\t"]))
    lines = [sep.join(header), *(sep.join(r) for r in rows)]
    return ("\n".join(lines) + draw(st.sampled_from(["", "\n"]))).encode("utf-8", "replace")


@st.composite
def gappy_series(draw) -> bytes:
    """A plausible daily series with random gaps, missing values, duplicates and infinities."""
    n = draw(st.integers(0, 40))
    days = sorted(draw(st.lists(st.integers(0, 60), min_size=n, max_size=n, unique=True)))
    values: list = draw(st.lists(st.floats(-1e6, 1e6), min_size=n, max_size=n))
    for _ in range(draw(st.integers(0, 2)) if n else 0):  # a few bad cells, sometimes
        values[draw(st.integers(0, n - 1))] = draw(st.sampled_from(["", "inf", "x"]))
    ids = ["a"] * n
    rows = [
        f"{i},2021-{1 + d // 28:02d}-{1 + d % 28:02d},{v}"
        for i, d, v in zip(ids, days, values, strict=True)
    ]
    return ("unique_id,ds,y\n" + "\n".join(rows) + "\n").encode()


def check(content: bytes, *extra: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "data.csv"
        data.write_bytes(content)
        result = runner.invoke(
            app, ["train", str(data), "--out", str(tmp / "model"), *TINY, *extra]
        )
        assert result.exit_code in (0, 2), result.output
        assert "Traceback" not in result.output
        if result.exit_code == 2:
            assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
            assert sorted(p.name for p in tmp.iterdir()) == ["data.csv"]  # nothing written
        else:
            assert (tmp / "model" / "manifest.json").exists()


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes(content):
    check(content)


@SETTINGS
@given(ragged_csv())
def test_random_cells_and_columns(content):
    check(content)


@SETTINGS
@given(gappy_series(), st.sampled_from(["none", "ffill", "interpolate", "zero"]))
def test_random_dates_gaps_and_values(content, fill):
    check(content, "--fill", fill, "--freq", "D", "--val-size", "0")
