"""Short text of figures, architectures, durations and errors, for lines and tables."""


def first_line(error):
    """The first non-empty line of an exception's message."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def format_architecture(values, limit=90):
    """A one-line, shortened `name=value` view of an architecture."""
    text = " ".join(f"{name}={value}" for name, value in values.items())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_duration(seconds):
    """Formats seconds as `HH:MM:SS`."""
    seconds = int(round(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def format_figure(value):
    """A metric for a line or a table: four decimals, or whole thousands.

    Scores get four decimals; large costs (parameters, FLOPs, bytes) are
    shown whole with thousands separators; `None` (missing) is `-`.
    """
    if value is None:
        return "-"
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"


def trial_number(trial_id):
    """The 1-based number shown for a trial (its id, when not a number)."""
    return int(trial_id) + 1 if trial_id.isdigit() else trial_id
