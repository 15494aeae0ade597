"""Case intake and tracking.

  store.py    tables (cases, case_events, case_followers, case_counters) and their functions
  dedupe.py   open cases of the same service nearby (250 m, or the same stretch of road: same
              road, section, lane and alley, house numbers within 20), 7 days
  places.py   Kaohsiung address / landmark / district recognition
  intake.py   the case conversation as plain functions (actions/cases.py adapts it to Rasa)
  open311.py  GeoReport v2 under /open311/v2/ (api keys: BOT_OPEN311_API_KEYS, comma-separated)
  media_url.py  an Open311 media_url fetched safely into a stored copy, or kept as a link
  api.py      POST /api/cases/{number}/status (Bearer BOT_STAFF_API_TOKEN) → notifies citizens
  http.py     the routers bot/app.py mounts
"""
