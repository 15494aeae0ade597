"""The web chat: static page (static/), operator page (operator/), photo uploads."""
