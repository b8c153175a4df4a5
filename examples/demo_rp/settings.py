"""Settings of the demo relying party (environment variables prefixed ``DEMO_RP_``)."""

import json
import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DemoRPSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_RP_")

    issuer: str = "http://127.0.0.1:8000"
    base_url: str = "http://127.0.0.1:8080"
    # What `broker clients create` printed; client_id/client_secret below override it.
    client_file: Path = Path("var/demo_rp_client.json")
    client_id: str | None = None
    client_secret: str | None = None
    # A fresh secret per process: restarting the demo logs everyone out, which is fine for a demo.
    session_secret: str = Field(default_factory=lambda: secrets.token_urlsafe(32))
    scope: str = "openid profile identification account"
    title: str = "Cổng dịch vụ công tỉnh (demo)"

    def client_credentials(self) -> tuple[str | None, str | None]:
        """The registered client, from the settings or else from ``client_file`` (None if neither)."""
        if self.client_id:
            return self.client_id, self.client_secret
        if not self.client_file.is_file():
            return None, None
        data = json.loads(self.client_file.read_text(encoding="utf-8"))
        return data.get("client_id"), data.get("client_secret")
