"""The operator panel: aiohttp app, JSON API, websocket screen-pop (see :mod:`ngcc112.panel.app`)."""
