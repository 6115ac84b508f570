"""How a URL input is fetched: the `download` mapping of a `urls` or `mmc4` recipe input."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from synthloop import __version__
from synthloop.images import MAX_IMAGE_BYTES

USER_AGENT_TOKEN = "synthloop"
USER_AGENT = f"{USER_AGENT_TOKEN}/{__version__} (image dataset download; honours X-Robots-Tag noai)"
# img2dataset's default disallowed directives (rom1504/img2dataset@95523bc, img2dataset/main.py `download`)
DISALLOWED_DIRECTIVES = ("noai", "noimageai", "noindex", "noimageindex")


class DownloadSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    concurrency: int = Field(64, ge=1, le=4096, description="requests in flight per worker process")
    per_host: int = Field(16, ge=1, le=4096, description="requests in flight per host, per worker process")
    timeout: float = Field(10.0, gt=0, le=600, description="seconds one attempt may take, body included")
    retries: int = Field(1, ge=0, le=10, description="further attempts after a timeout, a connection error, "
                                                      "408, 429 or a 5xx answer")
    backoff: float = Field(0.5, ge=0, le=60, description="seconds before the first retry; doubled for each next one")
    max_redirects: int = Field(5, ge=0, le=30, description="redirects followed (to http or https URLs only)")
    max_bytes: int = Field(16 << 20, ge=1, le=MAX_IMAGE_BYTES, description="largest body accepted; a longer one "
                                                                           "is aborted as it streams")
    user_agent: str = Field(USER_AGENT, min_length=1, description="User-Agent header: say who downloads")
    disallowed_directives: list[str] = Field(list(DISALLOWED_DIRECTIVES), description=(
        "X-Robots-Tag directives (for all agents, or for the token `synthloop`) that opt an image out"))
    resize: int | None = Field(None, ge=8, le=65_536, description="longest side kept; larger images are "
                                                                  "shrunk and re-encoded as JPEG")
