"""Notices citizens choose (issue #21 item 7): subscriptions to topics per district, and
broadcasts staff send to them.

- topics.py         the five topics (water, power, typhoon, air, roadworks) and how citizens name them
- models.py         the tables: notice_subscriptions, notice_broadcasts
- subscriptions.py  subscribe / renew / stop / list; lapse after BOT_NOTICE_MONTHS with one renewal prompt
- quiet.py          quiet hours (BOT_NOTICE_QUIET_HOURS, Asia/Taipei) that hold non-urgent notices
- chat.py           「我要訂閱停水通知 三民區」「我的訂閱」「取消訂閱」 and their buttons, before Rasa
- broadcasts.py     compose, reach and LINE cost, approval of emergencies, delivery figures, the worker
- line_multicast.py LINE multicast in batches of at most 500 user ids
- http.py           /staff/broadcasts and /staff/api/broadcasts (roles broadcaster and admin)
"""
