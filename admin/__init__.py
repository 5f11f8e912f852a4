"""The web process: admin panel and health; webhooks and simulator join it later.

Build it with `admin.app.create_app`; serve it with `python -m admin`.
"""
