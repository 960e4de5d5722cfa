"""Scenes: TOML files or code -> frozen, validated descriptions of what to simulate and show.

Validated at the boundary (pydantic for types and ranges, the catalogue for part and interface
names); an error names the file, the key path, the value received and what is allowed. A scene
built in code (``Scene(...)``) or changed (``scene.with_changes({...})``, ``model_copy(update=...)``)
goes through the same checks as one read from TOML, and every scene gives back its TOML
(``scene.toml_text``: what a record stores), from which ``scene_from_text`` rebuilds an equal scene.
Once a Scene exists, the rest of issvis trusts it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, cast

import tomli_w
from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..core.budget import BUDGET
from ..core.errors import InputError, format_validation_error, unknown_name
from ..core.frames import ATTITUDES
from ..station.actuators import CMG_CAPACITY_NMS, CMG_TORQUE_LIMIT_NM
from ..station.catalogue import Station, build_station
from .render_settings import RenderSettings, nonzero_vector


class SceneError(InputError):
    """Bad scene input: the message says which file, which key, what was given and what is allowed.

    Not a ValueError (unlike issvis's other input errors): the Scene's own validator raises it for
    an unknown name, and pydantic would wrap a ValueError into a ValidationError without its key.
    """


#: A number of a scene: finite, and a TOML float or integer (not a boolean, not a string).
Real = Annotated[float, Strict(), AllowInfNan(False)]
#: The longest scene, s (also the bound of every time in one).
MAX_DURATION_S = 10 * 86_400
#: An angle given in degrees: one turn either way.
Angle = Annotated[Real, Field(ge=-360, le=360)]
#: A component of a direction (normalised when used): bounded so that its norm stays finite.
DirectionComponent = Annotated[Real, Field(ge=-1e6, le=1e6)]


#: How a scene built in code is named in its errors and its record (``meta["scene_source"]``).
CODE_SOURCE = "Scene(...)"


class _Strict(BaseModel):
    """A table of a scene: frozen and closed (no unknown keys). Built in code, it raises SceneError
    naming the key, as a TOML file does; copied with changes, it is validated again."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    if not TYPE_CHECKING:  # type checkers keep pydantic's typed __init__
        def __init__(self, /, **data: Any) -> None:
            try:
                super().__init__(**data)
            except ValidationError as err:
                raise SceneError(_format_pydantic(f"{type(self).__name__}(...)", err, type(self))) from None

        # Marked as pydantic's own (as pydantic's RootModel does): a table inside a scene is then
        # validated by pydantic directly, its errors keeping their key path from the top
        # ('separation.0.delta_v_mps'); only a table built by calling its class comes here.
        __init__.__pydantic_base_init__ = True

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update`` (top-level keys), one validated like a new table: frozen means frozen."""
        if not update:
            return super().model_copy(deep=deep)
        return self._changed(update, f"{type(self).__name__}.model_copy")

    def copy(self, *, include: object = None, exclude: object = None, update: Mapping[str, Any] | None = None,
             deep: bool = False) -> Self:
        """pydantic v1's copy, which never validated: the same as ``model_copy`` here."""
        if include is not None or exclude is not None:
            raise SceneError(f"{type(self).__name__}.copy(include=, exclude=) is not supported; "
                             "use model_copy(update=...) or Scene.with_changes({...})")
        return self.model_copy(update=update, deep=deep)

    @classmethod
    def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Self:  # type: ignore[override]
        """Refused: pydantic's model_construct skips validation, and issvis trusts a scene once built."""
        # (the ignore: pydantic's mypy plugin types model_construct with each model's own fields)
        raise SceneError(f"{cls.__name__}.model_construct skips validation; build it with {cls.__name__}(...) "
                         "or change a scene with scene.with_changes({...})")

    def _changed(self, update: Mapping[str, Any], source: str) -> Self:
        data = {**_plain(self), **{k: _plain(v) for k, v in update.items()}}
        try:
            return self.model_validate(data)
        except ValidationError as err:
            raise SceneError(_format_pydantic(source, err, type(self))) from None


def _plain(value: Any) -> Any:
    """value as TOML-like data: a table as a dict of the keys it was given, tuples as lists. A
    table met in the data is validated again from these (a model_copy cannot slip a bad value in)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_unset=True, exclude_none=True)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class SceneInfo(_Strict):
    title: str = "untitled scene"
    description: str = ""
    duration_s: Real = Field(1800.0, gt=0, le=MAX_DURATION_S, description="simulated time, s")


class OrbitSettings(_Strict):
    altitude_m: Real = Field(418_310.0, ge=150_000, le=2_000_000, description="circular reference orbit")


#: A component of the station's initial velocity relative to the reference orbit, m/s: the
#: linearised relative motion (CW) this model checks itself against holds for metres per second,
#: and 1 km/s is already far beyond it.
Speed = Annotated[Real, Field(ge=-1000, le=1000)]


class StationSettings(_Strict):
    attitude: str = Field("+XVV", description="named attitude of the station body in LVLH")

    @field_validator("attitude")
    @classmethod
    def _known_attitude(cls, value: str) -> str:
        if value not in ATTITUDES:
            raise ValueError(f"attitude must be one of {', '.join(ATTITUDES)}")
        return value

    attitude_offset_ypr_deg: tuple[Angle, Angle, Angle] = (0.0, 0.0, 0.0)
    rotation: Literal["lvlh-hold", "inertial"] = Field(
        "lvlh-hold", description="initial angular rate: turning with LVLH (n about the orbit normal) or none")
    velocity_lvlh_mps: tuple[Speed, Speed, Speed] = Field(
        (0.0, 0.0, 0.0), description="the station's initial velocity relative to the reference orbit, LVLH")


class SimulationSettings(_Strict):
    dt_s: Real = Field(0.1, gt=0, le=1.0, description="physics step")

    @field_validator("dt_s")
    @classmethod
    def _long_enough(cls, value: float) -> float:
        if value < BUDGET.min_dt_s:
            raise ValueError(f"must be at least {BUDGET.min_dt_s:g} s (issvis.core.budget: shorter steps gain "
                             "nothing for pushers or contacts, and a step below ~1e-300 s never advances time)")
        return value

    contact_grace_m: Real = Field(
        0.3, ge=0, le=5.0, description="collisions between the two sides of an opened interface start once "
        "its two faces are this far apart (docking hardware is not modelled)")


class RecordSettings(_Strict):
    rate_hz: Real = Field(2.0, ge=1e-6, le=100, description="sample rate near events")
    coarse_rate_hz: Real = Field(0.1, ge=1e-6, le=100, description="sample rate away from events")
    fine_window_s: Real = Field(120.0, ge=0, le=MAX_DURATION_S, description="how long after each event the fine rate lasts")


class Separation(_Strict):
    """Opening one interface: spring pushers give the two sides a relative speed."""

    interface: str
    t_s: Real = Field(ge=0, le=MAX_DURATION_S)
    delta_v_mps: Real = Field(0.1, ge=0, le=10, description="relative speed the pushers give")
    force_n: Real | None = Field(None, gt=0, le=1e6, description="push force instead of delta_v_mps: "
                                  "the speed follows from force, stroke and the two masses")
    stroke_m: Real = Field(0.1, gt=0, le=2.0, description="pusher stroke; sets the push force and time")
    misalignment_deg: Real = Field(0.0, ge=0, le=45, description="tilt of the push from the port axis")
    misalignment_azimuth_deg: Real = Field(0.0, ge=-360, le=360, description="direction of that tilt")
    tip_off_deg_s: Real = Field(0.0, ge=0, le=10, description="angular rate the push adds to the child side "
                                 "(a couple: the parent side takes the opposite angular impulse)")
    tip_off_azimuth_deg: Real = Field(0.0, ge=-360, le=360, description="the child's far end swings this way")

    @model_validator(mode="after")
    def _force_or_speed(self) -> Separation:
        if self.force_n is not None and "delta_v_mps" in self.model_fields_set:
            raise ValueError("give delta_v_mps or force_n, not both")
        return self

    @model_validator(mode="after")
    def _tip_off_needs_a_push(self) -> Separation:
        if self.tip_off_deg_s > 0 and self.delta_v_mps == 0:
            raise ValueError("tip_off_deg_s needs a push (delta_v_mps > 0) to act during")
        return self


class _Thrust(_Strict):
    """What every burn has: the part, when, how long, and which way (fixed to the part's axes)."""

    part: str
    t_s: Real = Field(ge=0, le=MAX_DURATION_S)
    duration_s: Real = Field(gt=0, le=MAX_DURATION_S)
    direction_body: tuple[DirectionComponent, DirectionComponent, DirectionComponent] = Field(
        description="thrust direction in station body axes (+X fwd, +Y stbd, +Z nadir) at t = 0; turns with the part")

    @field_validator("direction_body")
    @classmethod
    def _nonzero_direction(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        return nonzero_vector(v, "direction_body")


class Burn(_Thrust):
    """A thruster burn on one part, fixed to that part's axes, at a thrust the scene gives."""

    thrust_n: Real = Field(gt=0, le=1e6)


class CmgControl(_Strict):
    """The US segment's CMGs (docs/control.md): they hold the body that carries ``part``."""

    mode: Literal["off", "tea", "hold"] = Field("off", description="off: free body; tea: seek the torque-"
                                                "equilibrium attitude near `attitude`; hold: hold `attitude` exactly")
    part: str = Field("z1", description="the part carrying the CMGs")
    attitude: str = Field("+XVV", description="named attitude the hold is at (hold) or near (tea)")
    attitude_offset_ypr_deg: tuple[Angle, Angle, Angle] = (0.0, 0.0, 0.0)
    start_attitude: Literal["scene", "tea", "tea_after_split"] = Field(
        "tea", description="where the station starts: station.attitude (scene), the CMG goal (tea: its TEA, or "
        "the held attitude), or the TEA of the CMGs' side after the first separation, held while docked")
    capacity_nms: Real = Field(CMG_CAPACITY_NMS, gt=0, le=1e9, description="momentum store: 4 x 4,880 N m s")
    torque_limit_nm: Real = Field(CMG_TORQUE_LIMIT_NM, gt=0, le=1e8, description="largest CMG torque (estimate: 4 x 258 N m)")
    bandwidth_rad_s: Real = Field(0.005, gt=0, le=1.0, description="PD natural frequency of the hold")
    damping_ratio: Real = Field(0.9, gt=0, le=5.0)
    slew_rate_deg_s: Real = Field(0.002, gt=0, le=1.0, description="how fast the reference turns to a new TEA")
    period_s: Real = Field(1.0, gt=0, le=10.0, description="control update period")


class JetControl(_Strict):
    """The ROS's attitude hold on thrusters (phase-plane logic with a deadband)."""

    mode: Literal["off", "hold"] = Field("off", description="hold: hold the LVLH attitude the body has when "
                                         "the jets take it over (the body carrying `part`, unless the CMGs hold it)")
    part: str = Field("zvezda", description="the body carrying this part is held")
    jet_parts: tuple[str, ...] = Field(("zvezda",), description="whose attitude jets fire")
    deadband_deg: Real = Field(1.0, gt=0, le=30.0)
    rate_gain_s: Real = Field(20.0, ge=0, le=1000.0, description="switching line: error + gain * rate")
    max_rate_deg_s: Real = Field(0.05, gt=0, le=10.0, description="rates above this are always damped")
    period_s: Real = Field(0.5, gt=0, le=10.0, description="control update period = shortest pulse")


class ControlSettings(_Strict):
    cmg: CmgControl = CmgControl()
    jets: JetControl = JetControl()


class JetBurn(_Thrust):
    """A translation burn from real jets: those of `part` thrusting within 15 deg of `direction_body`."""


#: A mesh's placement in its part's frame, m: a part is at most ~100 m long (the truss); the
#: mesh-fit check (TOLERANCES.part_mesh_margin_m) refuses what misses by more than metres anyway.
Offset = Annotated[Real, Field(ge=-1e4, le=1e4)]


class PartMesh(_Strict):
    """Bring your own mesh: a file drawn as ``part`` instead of its generated model. Collision stays
    the part's primitives unless ``collision = "convex"``: then the physics collides with a convex
    decomposition of the mesh (pybullet's V-HACD). Placed in the part's frame: origin at its centre
    of mass, station axes."""

    part: str
    file: str = Field(description="mesh file (.glb, .gltf, .obj, .stl, .ply); relative to the scene file")
    scale: Real = Field(1.0, ge=1e-6, le=1e4, description="multiplies the file's coordinates (0.001 for mm)")
    rotation_deg: tuple[Angle, Angle, Angle] = Field((0.0, 0.0, 0.0), description="about x, y, z, in that order")
    offset_m: tuple[Offset, Offset, Offset] = Field((0.0, 0.0, 0.0), description="then moved by this much, m")
    collision: Literal["primitives", "convex"] = Field(
        "primitives", description="primitives: the part's own (as before); convex: a convex decomposition of this mesh")

    @field_validator("file")
    @classmethod
    def _absolute(cls, value: str, info: ValidationInfo) -> str:
        """Relative to the scene file's folder (the working folder for a scene built in code); kept
        absolute, so that the record's scene text finds the file from anywhere."""
        folder = (info.context or {}).get("folder") or Path.cwd()
        return str((Path(folder) / value).resolve())


class Scene(_Strict):
    """A validated scene: what to simulate and how to show it. Every table is optional.

    Built in code (``Scene(separation=(Separation(interface="zarya/pma1", t_s=20.0),))``), read
    from TOML (``load_scene``) or changed (``with_changes``), it is checked the same way: types and
    ranges, then the names of interfaces, parts and jets against the station. ``source`` says
    where it came from (a file, or ``Scene(...)``) and does not count in ``==``; ``toml_text`` is
    the scene as TOML, which records store.
    """

    scene: SceneInfo = SceneInfo()
    orbit: OrbitSettings = OrbitSettings()
    station: StationSettings = StationSettings()
    simulation: SimulationSettings = SimulationSettings()
    record: RecordSettings = RecordSettings()
    separation: tuple[Separation, ...] = ()
    burn: tuple[Burn, ...] = ()
    control: ControlSettings = ControlSettings()
    jet_burn: tuple[JetBurn, ...] = ()
    render: RenderSettings = RenderSettings()
    part_mesh: tuple[PartMesh, ...] = ()
    _source: str = PrivateAttr(CODE_SOURCE)

    @model_validator(mode="before")
    @classmethod
    def _tables_again(cls, data: Any) -> Any:
        """Tables given as objects are validated again, from the keys they were given: a table
        copied without validation (pydantic's model_copy of RenderSettings) cannot slip in."""
        return _plain(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _names_exist(self, info: ValidationInfo) -> Scene:
        """Names against the station (SceneError, not wrapped by pydantic); notes where it came from."""
        context = info.context or {}
        source = context.get("source", CODE_SOURCE)
        _check_names(self, context.get("station") or build_station(), source)
        self._source = source
        return self

    @property
    def source(self) -> str:
        """Where the scene came from: its file, ``Scene(...)``, or either ``with changes``."""
        return self._source

    @property
    def toml_text(self) -> str:
        """The scene as TOML: the keys it was given (a file's, after overrides; or code's), not the
        defaults it took. ``scene_from_text(scene.toml_text) == scene``; a record stores this."""
        return tomli_w.dumps(_plain(self))

    def with_changes(self, changes: Mapping[str, Any], /) -> Scene:
        """A new scene with ``changes`` (``{"key.path": value}``, list items by index, as ``--set``),
        validated like a file: ``scene.with_changes({"separation.0.delta_v_mps": 0.2})``."""
        source = self.source if self.source.endswith(" with changes") else f"{self.source} with changes"
        data = _plain(self)
        for key, value in changes.items():
            set_key(data, str(key), _plain(value), source, how="")
        return _validated(data, source)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update`` (top-level tables), the same as ``with_changes``: validated."""
        if not update:
            return super().model_copy(deep=deep)
        return cast(Self, self.with_changes(update))

    def __eq__(self, other: object) -> bool:
        """Equal when every table is; where each came from (``source``) does not count."""
        if not isinstance(other, Scene):
            return NotImplemented
        return dict(self) == dict(other)


# --- loading -------------------------------------------------------------------------------
def _parse_value(text: str) -> Any:
    """A --set value as TOML (numbers, booleans, arrays, quoted strings), else a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_override(data: dict[str, Any], assignment: str, source: str) -> None:
    """Apply ``key.path=value`` (the value as TOML) to raw scene data; list items by index."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise SceneError(f"--set {assignment!r}: expected KEY.PATH=VALUE, e.g. separation.0.delta_v_mps=0.2")
    set_key(data, key.strip(), _parse_value(raw.strip()), source)


def set_key(data: dict[str, Any], key: str, value: Any, source: str, how: str = "--set ") -> None:
    """Set ``key`` (dotted path, list items by index) in raw scene data; ``how`` starts the key in errors."""
    parts = key.split(".")
    node: Any = data
    for depth, name in enumerate(parts[:-1]):
        here = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not name.isdigit() or int(name) >= len(node):
                raise SceneError(f"{source}: {how}{key}: '{'.'.join(parts[:depth])}' has no item {name} "
                                 f"(it has {len(node)})")
            node = node[int(name)]
        elif isinstance(node, dict):
            if name not in node and parts[depth + 1].isdigit():
                raise SceneError(f"{source}: {how}{key}: '{here}' has no item {parts[depth + 1]} (the scene has "
                                 f"no [[{here}]] table; add one to the scene file)")
            node = node.setdefault(name, {})
        else:
            raise SceneError(f"{source}: {how}{key}: '{'.'.join(parts[:depth])}' is a value, not a table")
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise SceneError(f"{source}: {how}{key}: no item {last} (it has {len(node)})")
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise SceneError(f"{source}: {how}{key}: '{'.'.join(parts[:-1])}' is a value, not a table")


def _format_pydantic(source: str, err: ValidationError, root: type[BaseModel] | None = None) -> str:
    """err as 'SOURCE: key.path = value: why' lines; key paths start at root (default: Scene)."""
    return format_validation_error(err, source, allowed=lambda loc: _allowed_keys(loc, root or Scene))


def _allowed_keys(loc: tuple[Any, ...], root: type[BaseModel]) -> list[str]:
    model: Any = root
    for name in loc:
        if isinstance(name, int):
            continue
        field = model.model_fields.get(str(name))
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return [k for k, f in model.model_fields.items() if not f.exclude]


def _check_names(scene: Scene, station: Station, source: str) -> None:
    def unknown(kind: str, key: str, value: str, valid: tuple[str, ...]) -> SceneError:
        return SceneError(f"{source}: {unknown_name(key, kind, value, valid)}")

    opened: set[str] = set()
    for k, sep in enumerate(scene.separation):
        try:
            name = station.interface(sep.interface).name
        except KeyError:
            raise unknown("interface", f"separation.{k}.interface", sep.interface, station.interface_names) from None
        if name in opened:
            raise SceneError(f"{source}: separation.{k}.interface = {sep.interface!r}: opened twice")
        if sep.t_s >= scene.scene.duration_s:
            raise SceneError(f"{source}: separation.{k}.t_s = {sep.t_s}: must be before scene.duration_s "
                             f"({scene.scene.duration_s})")
        opened.add(name)
    for k, burn in enumerate(scene.burn):
        if burn.part not in station.part_names:
            raise unknown("part", f"burn.{k}.part", burn.part, station.part_names)
    from ..station.actuators import station_jets

    carriers = tuple(sorted({j.part for j in station_jets()}))
    checks = [("control.cmg.part", scene.control.cmg.part, station.part_names),
              ("control.jets.part", scene.control.jets.part, station.part_names)]
    checks += [(f"control.jets.jet_parts.{k}", p, carriers) for k, p in enumerate(scene.control.jets.jet_parts)]
    checks += [(f"jet_burn.{k}.part", b.part, carriers) for k, b in enumerate(scene.jet_burn)]
    for key, value, valid in checks:
        if value not in valid:
            raise unknown("part" if valid is station.part_names else "jet carrier", key, value, valid)
    import numpy as np

    for k, jet_burn in enumerate(scene.jet_burn):
        wanted = np.asarray(jet_burn.direction_body, float) / np.linalg.norm(jet_burn.direction_body)
        dirs = sorted({j.thrust_dir_station for j in station_jets() if j.part == jet_burn.part})
        if not any(float(np.dot(d, wanted)) >= np.cos(np.radians(15.0)) for d in dirs):
            shown = ", ".join("[" + ", ".join(f"{v:g}" for v in d) + "]" for d in dirs)
            raise SceneError(f"{source}: jet_burn.{k}.direction_body = {list(jet_burn.direction_body)}: no jet of "
                             f"{jet_burn.part!r} thrusts within 15 deg of it; its jets thrust along {shown}")
    for key, name in (("control.cmg.attitude", scene.control.cmg.attitude),):
        if name not in ATTITUDES:
            raise SceneError(f"{source}: {key} = {name!r}: must be one of {', '.join(ATTITUDES)}")
    for k, pm in enumerate(scene.part_mesh):  # bring your own mesh: the part exists, the file loads and fits
        if pm.part not in station.part_names:
            raise unknown("part", f"part_mesh.{k}.part", pm.part, station.part_names)
        from ..station.assets import PartMeshError, check_convex_mesh, load_part_mesh

        try:
            meshes = load_part_mesh(pm.file, pm.scale, pm.offset_m, pm.rotation_deg, pm.part)
            if pm.collision == "convex":
                check_convex_mesh(meshes, pm.file)
        except PartMeshError as exc:
            raise SceneError(f"{source}: part_mesh.{k}.file = {exc}") from None


def _validated(data: dict[str, Any], source: str, station: Station | None = None,
               folder: Path | None = None) -> Scene:
    """The one way raw data becomes a Scene (files, records' texts, changes): types and ranges,
    then names; SceneError naming source and the key otherwise."""
    context = {"source": source, "station": station, "folder": folder}
    try:
        return Scene.model_validate(data, context=context)
    except ValidationError as err:
        raise SceneError(_format_pydantic(source, err)) from None
    except RecursionError:
        raise SceneError(_TOO_DEEP.format(source=source)) from None


_TOO_DEEP = ("{source}: arrays or tables nested too deep (a scene nests a few levels: "
             "[[separation]] holds numbers and 3-item arrays)")


def parse_scene(data: dict[str, Any], source: str = CODE_SOURCE, station: Station | None = None) -> Scene:
    """Validate raw TOML data (after overrides) into a Scene; part_mesh files are relative to source's folder."""
    folder = Path(source).parent if Path(source).is_file() else None
    return _validated(data, source, station, folder)


def scene_from_text(text: str, source: str = "<scene text>", overrides: tuple[str, ...] | list[str] = ()) -> Scene:
    """Parse, override and validate scene TOML text (a file's, or one carried to a sweep worker)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SceneError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:
        raise SceneError(_TOO_DEEP.format(source=source)) from None
    for assignment in overrides:
        apply_override(data, assignment, source)
    return parse_scene(data, source)


def load_scene(path: str | Path, overrides: tuple[str, ...] | list[str] = ()) -> Scene:
    """Read, override and validate a scene file."""
    import stat

    path = Path(path)
    source = str(path)
    try:
        mode = path.stat()
    except OSError:
        raise SceneError(f"{source}: no such scene file") from None
    if not stat.S_ISREG(mode.st_mode):  # a FIFO or a device would block or never end
        raise SceneError(f"{source}: not a regular file (a scene is a .toml text file)")
    if mode.st_size > BUDGET.max_scene_bytes:
        raise SceneError(f"{source}: {mode.st_size:,} bytes: a scene file may have at most "
                         f"{BUDGET.max_scene_bytes:,} (issvis.core.budget.max_scene_bytes)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SceneError(f"{source}: not a UTF-8 text file") from None
    return scene_from_text(text, source, overrides)
