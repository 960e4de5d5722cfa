"""The ``[render]`` section of a scene: video settings, camera keyframes, time map, overlays.

Validated with pydantic like the rest of the scene (``issvis.scene``); no rendering imports here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RenderSettings(BaseModel):
    """How a record becomes a video. Command-line flags override these."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width_px: int = Field(1920, ge=16, le=7680, multiple_of=2, description="video width, even")
    height_px: int = Field(1080, ge=16, le=4320, multiple_of=2, description="video height, even")
    fps: int = Field(30, ge=1, le=240)
    seconds: float | None = Field(None, gt=0, description="video length; default from the time map")
