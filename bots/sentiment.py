"""Message sentiment from VADER: offline (its lexicon ships with the package) and tuned for short social text."""

from functools import cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def sentiment_score(text: str) -> float:
    """-1 (negative) .. 1 (positive); 0 for empty text."""
    if not text.strip():
        return 0.0
    return round(float(_analyzer().polarity_scores(text)["compound"]), 4)
