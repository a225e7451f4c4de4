"""The sandbox HTTP server: HubSpot CRM v3/v4, Calendly v2 and a published lead sheet, served from a World.

Use `SandboxServer(world, ServerConfig(...))` as a context manager in tests or `leadflow sandbox
serve` from the command line. Endpoints, status codes, headers and fault knobs: docs/sandbox.md (part 2).
"""

from leadflow.sandbox.server.config import Faults, Limits, ServerConfig
from leadflow.sandbox.server.runner import SandboxServer

__all__ = ["Faults", "Limits", "SandboxServer", "ServerConfig"]
