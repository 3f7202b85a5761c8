"""rnnforecast: recurrent forecasters from CSV time series."""

__version__ = "0.1.0"
