"""The floor under a calibrated match threshold: what a calibration must show before the
door uses it.

Why: the threshold decides who the door lets in. A site calibration on a handful of
faces picks a threshold from a handful of impostor scores, and that threshold can be
very low: two people with two photos each gave 0.119 (53% of the 1,690 impostor pairs
of ``../shared/faces`` pass it), three gave 0.169 (32%); the bundled one is 0.408. So a
calibration is refused unless it can demonstrate its target:

* **rule of three**: with n impostor pairs and no false match, the 95% upper bound on
  the FMR is about 3/n, so at least ``3 / target_fmr`` impostor pairs are needed
  (1e-3 needs 3,000; 1e-2 needs 300);
* **people**: those pairs must come from at least `MIN_PEOPLE` (20) distinct people,
  because pairs among 3 people are 3 comparisons repeated, not 3,000 independent ones.
  The setting can be raised, never lowered;
* the **Clopper-Pearson** 95% upper bound on the FMR at the chosen threshold is reported
  and stored with the calibration, so a reviewer sees what the set can and cannot show;
* a threshold **below the model pack's bundled one** is raised to it: going lower needs
  a threshold policy signed by the centre (not part of this release, so never).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kiosk.config import CALIBRATION_MIN_PEOPLE
from kiosk.errors import CalibrationNotDemonstrable, ConfigError

RULE_OF_THREE = 3.0
MIN_PEOPLE = CALIBRATION_MIN_PEOPLE
CONFIDENCE = 0.95


def format_rate(rate: float) -> str:
    """1e-3 rather than 0.001: how FMR targets are written in the field."""
    exponent = round(math.log10(rate)) if rate > 0 else 0
    if rate > 0 and math.isclose(rate, 10.0**exponent, rel_tol=1e-9):
        return f"1e{exponent}"
    return f"{rate:g}"


def impostor_pairs_needed(target_fmr: float) -> int:
    """Impostor pairs needed to show `target_fmr` by the rule of three (3 / FMR)."""
    if not 0.0 < target_fmr < 1.0:
        raise ConfigError(f"target FMR {target_fmr} is not in (0, 1)")
    return math.ceil(RULE_OF_THREE / target_fmr - 1e-9)


def rule_of_three(trials: int) -> float:
    """Lowest error rate that `trials` error-free trials demonstrate at 95% confidence.

    With 0 errors in n trials the one-sided 95% upper bound is 1 - 0.05**(1/n) ~ 3/n, so
    a target FMR F needs at least 3/F impostor pairs (ISO/IEC 19795-1, Annex B).
    """
    if trials <= 0:
        raise ValueError("the rule of three needs at least one trial")
    return 3.0 / trials


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space (exact for the n here)."""
    if k < 0:
        return 0.0
    if k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    log_n = math.lgamma(n + 1)
    terms = [
        log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        for i in range(k + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * math.fsum(math.exp(x - top) for x in terms))


def clopper_pearson_upper(errors: int, trials: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson upper bound on an error rate seen `errors` times in
    `trials`: the p at which P(X <= errors) = 1 - confidence, i.e. the beta quantile
    Beta(confidence; errors + 1, trials - errors), found by bisection (CDF falls in p)."""
    if trials <= 0 or not 0 <= errors <= trials:
        raise ValueError(f"need 0 <= errors <= trials and trials > 0, got {errors}/{trials}")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    if errors == trials:
        return 1.0
    alpha = 1.0 - confidence
    if errors == 0:  # closed form; also the rule of three's exact version
        return 1.0 - math.pow(alpha, 1.0 / trials)
    lo, hi = errors / trials, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if binomial_cdf(errors, trials, mid) > alpha:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    return (lo + hi) / 2


@dataclass(frozen=True)
class FloorVerdict:
    """What a calibration shows, and why it cannot be used when it cannot."""

    target_fmr: float
    impostor_pairs: int
    impostor_pairs_needed: int
    false_matches: int
    fmr_upper_95: float
    people: int | None  # None where the pairs carry no person labels (a pairs CSV)
    min_people: int
    measured_threshold: float
    threshold: float  # what the file holds: never below the bundled threshold
    bundled_threshold: float | None
    reasons: tuple[str, ...]

    @property
    def demonstrable(self) -> bool:
        return not self.reasons

    @property
    def raised_to_bundled(self) -> bool:
        return self.threshold > self.measured_threshold

    def refuse_unless_demonstrable(self) -> None:
        if self.reasons:
            raise CalibrationNotDemonstrable("calibration refused: " + "; ".join(self.reasons))

    def as_fields(self) -> dict[str, Any]:
        """Stored in the calibration file and its signed record."""
        fields: dict[str, Any] = {
            "impostor_pairs_needed": self.impostor_pairs_needed,
            "false_matches": self.false_matches,
            "fmr_upper_95": round(self.fmr_upper_95, 8),
            "min_people": self.min_people,
            "measured_threshold": round(self.measured_threshold, 6),
            "target_demonstrable": self.demonstrable,
        }
        if self.people is not None:
            fields["people"] = self.people
        if self.bundled_threshold is not None:
            fields["bundled_threshold"] = self.bundled_threshold
        return fields


def check_min_people(min_people: int) -> int:
    """The configured people floor: may be raised above `MIN_PEOPLE`, never lowered."""
    if isinstance(min_people, bool) or not isinstance(min_people, int):
        raise ConfigError("[match] calibration_min_people must be a whole number")
    if min_people < MIN_PEOPLE:
        raise ConfigError(
            f"[match] calibration_min_people = {min_people} is below the floor of "
            f"{MIN_PEOPLE}; it can be raised, never lowered"
        )
    return min_people


def assess(
    *,
    target_fmr: float,
    impostor_scores: Any,
    threshold: float,
    people: int | None,
    min_people: int = MIN_PEOPLE,
    bundled_threshold: float | None = None,
) -> FloorVerdict:
    """Judge a calibration at `threshold` (chosen for `target_fmr` on `impostor_scores`)."""
    scores = [float(s) for s in impostor_scores]
    n = len(scores)
    needed = impostor_pairs_needed(target_fmr)
    min_people = check_min_people(min_people)
    final = threshold
    if bundled_threshold is not None and threshold < bundled_threshold:
        final = bundled_threshold
    false_matches = sum(1 for s in scores if s >= final)
    reasons = []
    if n < needed:
        reasons.append(
            f"{n} impostor pairs cannot show {format_rate(target_fmr)}: the rule of three "
            f"needs at least {needed} (3 / target FMR)"
        )
    if people is not None and people < min_people:
        reasons.append(
            f"{people} people cannot show it: impostor pairs must come from at least "
            f"{min_people} distinct people"
        )
    return FloorVerdict(
        target_fmr=target_fmr,
        impostor_pairs=n,
        impostor_pairs_needed=needed,
        false_matches=false_matches,
        fmr_upper_95=clopper_pearson_upper(false_matches, n),
        people=people,
        min_people=min_people,
        measured_threshold=threshold,
        threshold=final,
        bundled_threshold=bundled_threshold,
        reasons=tuple(reasons),
    )


def check_stored_calibration(table: dict[str, Any], where: object) -> None:
    """Refuse a site calibration file that does not show its own target (the fields
    written by `FloorVerdict.as_fields`); ConfigError names what is missing."""
    target = table.get("target_fmr")
    pairs = table.get("impostor_pairs")
    if not isinstance(target, int | float) or not isinstance(pairs, int) or not 0 < target < 1:
        raise CalibrationNotDemonstrable(f"{where}: no target FMR or impostor pair count")
    reasons = []
    needed = impostor_pairs_needed(float(target))
    if pairs < needed:
        reasons.append(
            f"{pairs} impostor pairs cannot show {format_rate(float(target))} (needs {needed})"
        )
    people = table.get("people")
    floor = max(MIN_PEOPLE, int(table.get("min_people", MIN_PEOPLE)))
    if isinstance(people, int) and people < floor:
        reasons.append(f"{people} people, fewer than {floor}")
    if table.get("target_demonstrable") is not True:
        reasons.append("the file does not say its target was demonstrated")
    bundled = table.get("bundled_threshold")
    threshold = table.get("threshold")
    numbers = isinstance(bundled, int | float) and isinstance(threshold, int | float)
    if numbers and threshold < bundled:  # type: ignore[operator]
        reasons.append(f"threshold {threshold} is below the bundled {bundled}")
    if reasons:
        raise CalibrationNotDemonstrable(f"{where} is not usable: " + "; ".join(reasons))


def check_recorded(calibration_sha256: str, recorded: Any, where: object) -> None:
    """Refuse a site calibration file that no signed ``calibration`` record names: a file
    dropped in place (or edited) after the technician confirmed another one."""
    for body in recorded:
        if isinstance(body, dict) and body.get("calibration_sha256") == calibration_sha256:
            return
    raise CalibrationNotDemonstrable(
        f"{where} does not match any signed calibration record in the ledger (edited, or "
        "written without the technician's confirmation)"
    )


__all__ = [
    "MIN_PEOPLE",
    "FloorVerdict",
    "assess",
    "binomial_cdf",
    "check_min_people",
    "check_recorded",
    "check_stored_calibration",
    "clopper_pearson_upper",
    "format_rate",
    "impostor_pairs_needed",
    "rule_of_three",
]
