"""SuperMemo SM-2, exactly as published (https://super-memory.com/english/ol/sm2.htm).

Easiness moves in steps of 0.02, so it is held as an integer number of hundredths:
binary floats drift (``ceil(10 * 2.6)`` gives 27) and change intervals after a few reviews.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

MIN_EASINESS_CENTS = 130
START_EASINESS_CENTS = 250
PASSING_QUALITY = 3


@dataclass(frozen=True, slots=True)
class Sm2State:
    """Repetitions n, easiness EF and interval I (days) of one card for one person."""

    repetitions: int
    easiness_cents: int
    interval: int

    def __init__(self, repetitions: int, easiness: float | Decimal | str | int, interval: int) -> None:
        object.__setattr__(self, "repetitions", int(repetitions))
        object.__setattr__(self, "easiness_cents", _to_cents(easiness))
        object.__setattr__(self, "interval", int(interval))

    @classmethod
    def new(cls) -> Sm2State:
        return cls(0, Decimal("2.5"), 0)

    @classmethod
    def from_cents(cls, repetitions: int, easiness_cents: int, interval: int) -> Sm2State:
        return cls(repetitions, Decimal(easiness_cents) / 100, interval)

    @property
    def easiness(self) -> Decimal:
        """EF as an exact decimal with two places (2.60); ``float()`` of it is 2.6."""
        return (Decimal(self.easiness_cents) / 100).quantize(Decimal("0.01"))

    def __repr__(self) -> str:
        return f"Sm2State(repetitions={self.repetitions}, easiness={self.easiness}, interval={self.interval})"


def _to_cents(easiness: float | Decimal | str | int) -> int:
    # repr() of a float is its shortest round-trip form: 2.6, not 2.600000000000000088817841970012523.
    value = Decimal(repr(easiness)) if isinstance(easiness, float) else Decimal(str(easiness))
    cents = value * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"easiness must have at most two decimals, got {easiness!r}")
    return int(cents)


def check_quality(quality: object) -> int:
    """Return quality as an int, or raise ValueError for anything but an integer 0..5."""
    if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 5:
        raise ValueError(f"quality must be an integer from 0 to 5, got {quality!r}")
    return quality


def grade(state: Sm2State, quality: int) -> Sm2State:
    """Apply one SM-2 repetition with quality 0..5 and return the new state."""
    q = check_quality(quality)
    if q < PASSING_QUALITY:
        # Start over as if newly memorised; EF is left unchanged (SM-2 step 6).
        return Sm2State.from_cents(1, state.easiness_cents, 1)
    miss = 5 - q
    # EF' = EF + (0.1 - (5-q)*(0.08 + (5-q)*0.02)), in hundredths: 10 - miss*(8 + 2*miss).
    cents = max(MIN_EASINESS_CENTS, state.easiness_cents + 10 - miss * (8 + 2 * miss))
    repetitions = state.repetitions + 1
    if repetitions == 1:
        interval = 1
    elif repetitions == 2:
        interval = 6
    else:
        interval = _ceil(Fraction(state.interval * cents, 100))
    return Sm2State.from_cents(repetitions, cents, interval)


def _ceil(value: Fraction) -> int:
    return -(-value.numerator // value.denominator)
