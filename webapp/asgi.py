"""HTTP through Django, websockets through Channels."""
import os

from webapp.entry import require_settings_module

require_settings_module("asgi")
# each request runs in its own thread here: database connections come from a pool (settings/base.py)
os.environ["LAB_DB_POOL"] = "true"

from webapp import daphne_bodycap  # noqa: E402
from webapp.bodycap import BodySizeLimit  # noqa: E402
from webapp.http import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()
daphne_bodycap.install()  # before daphne accepts a connection: it imports this module first

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from jobs.routing import websocket_urlpatterns  # noqa: E402
from jobs.ws_auth import BrowserOriginValidator, TokenAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(django_asgi_app),
        "websocket": BrowserOriginValidator(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
