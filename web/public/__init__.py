"""The public column (专栏公示): ``create_app`` (web.public.app) over ``public_engine`` (web.public.store)."""

from web.public.app import create_app
from web.public.store import PublicStoreMissing, public_engine, public_store_url

__all__ = ["PublicStoreMissing", "create_app", "public_engine", "public_store_url"]
