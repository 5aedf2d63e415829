"""One TOML configuration with defaults that work offline.

(Just over 400 lines on purpose: every section's defaults in one place, so a reader sees
the whole configuration; ranges live in config_ranges.py.)

Precedence, lowest first: the defaults below, the TOML file (``--config``, ``KIOSK_CONFIG``
or ``<data_dir>/kiosk.toml``), then ``KIOSK_<SECTION>_<KEY>`` environment variables,
e.g. ``KIOSK_RUNTIME_PROVIDER=cpu`` or ``KIOSK_SYNC_CENTRE_URL=http://127.0.0.1:8800``.
Unknown sections or keys and values of the wrong type are refused with a message that
names them, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.config_ranges import RANGES, check_ranges, parse_cue_weights, parse_required_cues, shown
from kiosk.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_MODELS = REPO_ROOT / "models"
BUNDLED_ASSETS = REPO_ROOT / "assets"
# The fewest distinct people a site calibration may be measured on (the floor).
CALIBRATION_MIN_PEOPLE = 20


def _default_data_dir() -> str:
    # platformdirs is a dependency, but config must stay stdlib-cheap to import.
    from platformdirs import user_data_dir

    return user_data_dir("exam-door-kiosk", appauthor=False)


@dataclass
class PathsConfig:
    data_dir: str = ""  # empty: the platform's user data dir
    models_dir: str = str(BUNDLED_MODELS)
    assets_dir: str = str(BUNDLED_ASSETS)

    def resolved_data_dir(self) -> Path:
        return Path(self.data_dir or _default_data_dir()).expanduser()


@dataclass
class RuntimeConfig:
    provider: str = "auto"  # auto | cpu | cuda
    # One thread budget for the whole process, chosen here once (kiosk/vision/runtime.py
    # applies it): the recogniser gets `intra_op_threads`, the detector, the dense
    # landmarker and OpenCV one each, and no ORT pool spins. A door shares its cores with
    # the UI, camera decoding and liveness: spinning worker threads burn the very CPU they
    # wait for (a frame took 105-137 ms under load with spinning, 60 ms without).
    intra_op_threads: int = 2
    # The detector is small (≈2 ms) and gains nothing from a thread pool.
    detector_intra_op_threads: int = 1
    landmark_intra_op_threads: int = 1
    opencv_threads: int = 1  # cv2's own pool (resize, warpAffine, imdecode)
    inter_op_threads: int = 1
    allow_spinning: bool = False  # ORT intra/inter-op threads busy-wait between runs
    # Keep ORT's optimised graph in <data_dir>/ort_cache keyed by the pack manifest's hash
    # (verified before use): a cold start skips graph optimisation.
    cache_optimized_models: bool = True
    graph_optimization: str = "all"  # disable | basic | extended | all
    log_level: str = "warning"


@dataclass
class VisionConfig:
    pack: str = "default"  # "default" = models_dir; else an installed pack's name
    detector_long_side: int = 320  # frames are resized so their long side is this
    det_score_threshold: float = 0.6
    nms_iou_threshold: float = 0.3
    max_faces: int = 10


@dataclass
class QualityConfig:
    min_inter_eye_px: float = 28.0
    min_face_height_frac: float = 0.15
    max_yaw_deg: float = 25.0
    max_pitch_deg: float = 25.0
    max_roll_deg: float = 20.0
    min_sharpness: float = 40.0  # variance of Laplacian on the aligned face
    min_luminance: float = 60.0
    max_luminance: float = 200.0
    max_underexposed_frac: float = 0.25
    max_overexposed_frac: float = 0.15
    min_illumination_uniformity: float = 0.55
    min_det_score: float = 0.75
    # Another face counts as a second person in view when at least this large relative
    # to the main face (someone at the applicant's shoulder, not a poster far behind).
    second_face_area_ratio: float = 0.2


@dataclass
class MatchConfig:
    # Thresholds come from the calibration file; empty means the pack's bundled one.
    calibration_file: str = ""
    target_fmr: float = 1e-3
    frames_to_fuse: int = 3
    # A stand-in who scores this close to another booked applicant is sent to a proctor.
    identification_margin: float = 0.05
    # Distinct people a site calibration's impostor pairs must come from; may be raised,
    # never set below CALIBRATION_MIN_PEOPLE (kiosk/checkin/calibration_floor.py).
    calibration_min_people: int = 20


@dataclass
class CheckinConfig:
    claim_timeout_s: float = 60.0
    capture_timeout_s: float = 12.0
    liveness_timeout_s: float = 15.0
    max_attempts: int = 3
    early_window_min: float = 45.0
    late_window_min: float = 15.0
    # How long the decision screen stays before the kiosk is ready for the next person.
    decision_display_s: float = 6.0
    # Where this kiosk stands: a roster for another room is refused at the claim.
    centre_id: str = ""
    room: str = ""
    # A booking QR still held up after its decision is not a new claim: the same QR seen
    # within this many seconds of the result screen clearing is ignored (no record).
    qr_repeat_ignore_s: float = 10.0
    # Identity continuity during the liveness challenge: a face embedding is costly, so
    # only sampled frames are embedded: the first frame of each challenge step (each new
    # prompt) and then every n-th frame with a face (0: one sample per step only). With 0
    # a demo attempt embeds 8 faces in ~40 frames (3 fused + 5 samples); with 4, 13-14.
    identity_sample_every: int = 0


@dataclass
class LivenessConfig:
    mode: str = "active+passive"  # active+passive | passive | active | off-requires-proctor
    # 3 steps: a turn, one more action, a blink or an open mouth (liveness_prompts.py); a
    # 4th step adds ~1.2 s for a genuine applicant and stops no attack type the three miss
    # in docs/LIVENESS.md's set, so it is a site's choice, not the default.
    challenge_steps: int = 3  # at most this many actions per challenge
    challenge_min_steps: int = 3  # at least this many (the count is drawn at random)
    step_timeout_s: float = 4.0
    turn_deg: float = 15.0
    passive_threshold: float = 0.5
    # --- appended by the liveness work (kiosk/vision/liveness.py, docs/LIVENESS.md) ---
    pitch_deg: float = 10.0  # look_up / look_down: this much pitch from the baseline
    baseline_ms: float = 300.0  # frontal time that sets the per-person baseline
    baseline_timeout_s: float = 6.0
    hold_ms: float = 250.0  # a turn, nod or open mouth must be held this long (frame times)
    blink_rise: float = 0.25  # blink score above the person's own resting score
    mouth_rise: float = 0.25  # mouth-open score above the person's own resting score
    landmark_interval_ms: float = 70.0  # dense landmarks at most this often (~14 Hz)
    rigidity_min_margin: float = 0.004  # IED: a rigid head must beat one and two planes by this
    max_reaction_s: float = 0.75  # mean prompt → half-way time over the timed steps
    # Slower than that: this many more steps, then the mean over all of them must be
    # within max_reaction_extended_s (docs/LIVENESS.md "Slow reactions"); 0 = none.
    reaction_extra_steps: int = 2
    max_reaction_extended_s: float = 0.80
    max_wrong_moves: int = 1  # clear turns the wrong way tolerated per session
    identity_min_cosine: float = 0.3  # every frame's embedding vs the first frame's
    max_face_gap_s: float = 1.0  # face not seen this long = face lost, session fails
    min_frames: int = 8  # fewer analysed frames than this: cannot decide
    passive_duration_s: float = 2.5  # mode "passive": how long to watch a still face
    # Cues that must be computable; one that is not sends the applicant to a proctor.
    required_cues: str = "parallax,moire"
    # Weighted mean of per-cue live-likelihoods; "name=weight" comma-separated.
    cue_weights: str = (
        "parallax=0.30,moire=0.25,border=0.20,micro_motion=0.10,"
        "glare=0.10,gamut=0.05,pad_model=0.50"
    )
    cue_veto: float = 0.1  # any cue with live-likelihood below this fails the session
    # Ramp ends per cue: live-likelihood is 0 at *_attack and 1 at *_live.
    parallax_attack: float = 0.02
    parallax_live: float = 0.06
    moire_attack: float = 3.0
    moire_live: float = 2.2
    border_attack: float = 1.6
    border_live: float = 0.9
    micro_motion_attack: float = 0.001
    micro_motion_live: float = 0.004
    glare_attack: float = 0.25
    glare_live: float = 0.05
    gamut_attack: float = 0.20
    gamut_live: float = 0.38
    # each frame's embedding vs the previous frame's: a swap is a sudden drop
    identity_step_min_cosine: float = 0.5


@dataclass
class LedgerConfig:
    db_file: str = ""  # empty: <data_dir>/ledger.sqlite
    retention_days: int = 30


@dataclass
class SyncConfig:
    centre_url: str = ""  # empty: offline; records wait in the outbox
    batch_size: int = 500
    interval_s: float = 10.0
    timeout_s: float = 10.0
    max_backoff_s: float = 300.0


@dataclass
class CentreConfig:
    db_url: str = ""  # empty: sqlite file under the data dir; KIOSK_CENTRE_DB overrides
    host: str = "127.0.0.1"
    port: int = 8800
    max_batch: int = 2000
    override_rate_alert: float = 0.05


@dataclass
class CameraConfig:
    source: str = "0"  # device index, video file, or image folder
    width: int = 1280
    height: int = 720
    fps: int = 30


@dataclass
class KeysConfig:
    # How the device private key and template key are kept at rest (kiosk/ledger/keyseal.py):
    # auto = the OS keyring if usable, else sealed with KIOSK_KEY_PASSPHRASE, else refuse;
    # "plaintext-dev" only for throw-away demo data dirs (logged loudly on every load).
    protection: str = "auto"


@dataclass
class UiConfig:
    language: str = "kk"  # kk | ru | en: the door greets in Kazakh first
    fullscreen: bool = True


@dataclass
class KioskConfig:
    paths: PathsConfig = field(default_factory=PathsConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    vision: VisionConfig = field(default_factory=VisionConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    match: MatchConfig = field(default_factory=MatchConfig)
    checkin: CheckinConfig = field(default_factory=CheckinConfig)
    liveness: LivenessConfig = field(default_factory=LivenessConfig)
    ledger: LedgerConfig = field(default_factory=LedgerConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    centre: CentreConfig = field(default_factory=CentreConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    keys: KeysConfig = field(default_factory=KeysConfig)
    ui: UiConfig = field(default_factory=UiConfig)

    @property
    def data_dir(self) -> Path:
        return self.paths.resolved_data_dir()

    @property
    def ledger_path(self) -> Path:
        return Path(self.ledger.db_file) if self.ledger.db_file else self.data_dir / "ledger.sqlite"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("runtime", "provider"): ("auto", "cpu", "cuda"),
    ("runtime", "graph_optimization"): ("disable", "basic", "extended", "all"),
    ("runtime", "log_level"): ("verbose", "info", "warning", "error", "fatal"),
    ("liveness", "mode"): ("active+passive", "passive", "active", "off-requires-proctor"),
    ("ui", "language"): ("en", "ru", "kk"),
    ("keys", "protection"): ("auto", "keyring", "passphrase", "plaintext-dev"),
}


def _coerce(section: str, key: str, value: Any, target: Any, origin: str) -> Any:
    where = f"{origin}: [{section}] {key}"
    if target is bool:
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{where} must be true or false, got {shown(value)}")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"{where} must be a {target.__name__}, got {shown(value)}")
    if target is str:
        return str(value)
    try:
        if target is int and isinstance(value, float):
            raise ValueError
        result = target(value)
    except (ValueError, OverflowError):  # OverflowError: float() of a 400-digit integer
        kind = "an integer" if target is int else "a number"
        raise ConfigError(f"{where} must be {kind}, got {shown(value)}") from None
    # NaN compares false with everything, so a NaN threshold silently turns its check off
    # (found by tests/test_fuzz_config.py); infinities are never a meaningful setting either.
    if target is float and not math.isfinite(result):
        raise ConfigError(f"{where} must be a finite number, got {shown(value)}")
    return result


def _apply(cfg: KioskConfig, data: dict[str, Any], origin: str) -> None:
    sections = {f.name: f for f in dataclasses.fields(cfg)}
    for section, values in data.items():
        if section not in sections:
            raise ConfigError(
                f"{origin}: unknown section [{section}]; known: {', '.join(sections)}"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{origin}: [{section}] must be a table")
        obj = getattr(cfg, section)
        hints = typing.get_type_hints(type(obj))
        for key, value in values.items():
            if key not in hints:
                known = ", ".join(hints)
                raise ConfigError(f"{origin}: unknown key [{section}] {key}; known: {known}")
            setattr(obj, key, _coerce(section, key, value, hints[key], origin))


def validate(cfg: KioskConfig) -> None:
    """Refuse values that parse but make no sense, naming the key."""
    for (section, key), allowed in CHOICES.items():
        value = getattr(getattr(cfg, section), key)
        if value not in allowed:
            raise ConfigError(
                f"[{section}] {key} = {value!r}; expected one of {', '.join(allowed)}"
            )
    check_ranges({(section, key): getattr(getattr(cfg, section), key) for section, key in RANGES})
    if cfg.vision.detector_long_side % 32:
        raise ConfigError("[vision] detector_long_side must be a multiple of 32")
    if not 0.0 < cfg.match.target_fmr < 1.0:
        raise ConfigError("[match] target_fmr must be between 0 and 1")
    if cfg.match.calibration_min_people < CALIBRATION_MIN_PEOPLE:
        raise ConfigError(
            f"[match] calibration_min_people must be at least {CALIBRATION_MIN_PEOPLE} "
            "(it can be raised, never lowered)"
        )
    if not 1 <= cfg.centre.port <= 65535:
        raise ConfigError("[centre] port must be 1..65535")
    if cfg.quality.min_luminance > cfg.quality.max_luminance:
        raise ConfigError("[quality] min_luminance must not be above max_luminance")
    # Cue lists are checked here, not first when liveness starts (mid check-in).
    parse_cue_weights(cfg.liveness.cue_weights)
    parse_required_cues(cfg.liveness.required_cues)


def _env_overrides(environ: typing.Mapping[str, str]) -> dict[str, dict[str, str]]:
    cfg = KioskConfig()
    out: dict[str, dict[str, str]] = {}
    sections = [f.name for f in dataclasses.fields(cfg)]
    for name, value in environ.items():
        if not name.startswith("KIOSK_") or name in {"KIOSK_CONFIG", "KIOSK_CENTRE_DB"}:
            continue
        rest = name[len("KIOSK_") :].lower()
        for section in sections:
            if rest.startswith(section + "_"):
                out.setdefault(section, {})[rest[len(section) + 1 :]] = value
                break
    if "KIOSK_CENTRE_DB" in environ:
        out.setdefault("centre", {})["db_url"] = environ["KIOSK_CENTRE_DB"]
    return out


def default_config_path(environ: typing.Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get("KIOSK_CONFIG"):
        return Path(environ["KIOSK_CONFIG"])
    data_dir = environ.get("KIOSK_PATHS_DATA_DIR") or _default_data_dir()
    return Path(data_dir) / "kiosk.toml"


def load_config(
    path: Path | str | None = None, *, environ: typing.Mapping[str, str] | None = None
) -> KioskConfig:
    """Build the configuration: defaults, then the TOML file if it exists, then env vars.

    An explicitly given path that does not exist is an error; the default path may be absent.
    """
    environ = os.environ if environ is None else environ
    cfg = KioskConfig()
    explicit = path is not None or bool(environ.get("KIOSK_CONFIG"))
    file = Path(path) if path is not None else default_config_path(environ)
    if file.is_dir():
        raise ConfigError(f"{file} is a folder, not a config file")
    if file.exists():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read the config file ({exc.strerror})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
        _apply(cfg, data, str(file))
    elif explicit:
        raise ConfigError(f"config file {file} does not exist")
    _apply(cfg, _env_overrides(environ), "environment")
    validate(cfg)
    return cfg


def dump_toml(cfg: KioskConfig) -> str:
    import tomli_w

    return tomli_w.dumps(cfg.to_dict())


__all__ = [
    "BUNDLED_ASSETS",
    "BUNDLED_MODELS",
    "REPO_ROOT",
    "KioskConfig",
    "dump_toml",
    "load_config",
    "validate",
]
