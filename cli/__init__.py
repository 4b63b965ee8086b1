"""adc command-line interface."""
