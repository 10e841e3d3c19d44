"""Dark and light themes: Fusion with a palette. "system" follows the desktop's colour scheme
and is dark when the desktop does not say (the default of DAWs and sound libraries)."""

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette

CHOICES = [("Follow the system", "system"), ("Dark", "dark"), ("Light", "light")]
ERROR = "#e5534b"  # readable on both themes (contrast ≥ 3.9:1)

_DARK = {
    QPalette.ColorRole.Window: "#2b2b2e", QPalette.ColorRole.WindowText: "#e8e8e8",
    QPalette.ColorRole.Base: "#1d1d20", QPalette.ColorRole.AlternateBase: "#26262a",
    QPalette.ColorRole.Text: "#e8e8e8", QPalette.ColorRole.Button: "#38383c",
    QPalette.ColorRole.ButtonText: "#e8e8e8", QPalette.ColorRole.BrightText: "#ffffff",
    QPalette.ColorRole.Highlight: "#2767ad", QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.ToolTipBase: "#38383c", QPalette.ColorRole.ToolTipText: "#e8e8e8",
    QPalette.ColorRole.PlaceholderText: "#9a9aa0", QPalette.ColorRole.Link: "#6cb4ff",
    QPalette.ColorRole.Light: "#505056", QPalette.ColorRole.Midlight: "#434348",
    QPalette.ColorRole.Mid: "#5c5c63", QPalette.ColorRole.Dark: "#18181a",
    QPalette.ColorRole.Shadow: "#000000",
}
_DARK_DISABLED = {QPalette.ColorRole.WindowText: "#7c7c82", QPalette.ColorRole.Text: "#7c7c82",
                  QPalette.ColorRole.ButtonText: "#7c7c82"}


def scheme(choice: str, app) -> str:
    """"dark" or "light" for a choice of CHOICES."""
    if choice in ("dark", "light"):
        return choice
    return "light" if app.styleHints().colorScheme() == Qt.ColorScheme.Light else "dark"


def palette(name: str, app) -> QPalette:
    if name == "light":
        pal = app.style().standardPalette()
        pal.setColor(QPalette.ColorRole.Highlight, QColor(_DARK[QPalette.ColorRole.Highlight]))
        return pal
    pal = QPalette()
    for role, color in _DARK.items():
        pal.setColor(role, QColor(color))
    for role, color in _DARK_DISABLED.items():
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(color))
    return pal


def apply(app, choice: str) -> str:
    """Theme the whole application; returns the scheme used."""
    app.setStyle("Fusion")
    name = scheme(choice, app)
    app.setPalette(palette(name, app))
    return name


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours (1 to 21; body text wants 4.5 or more)."""
    def luminance(c: QColor) -> float:
        def channel(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)
