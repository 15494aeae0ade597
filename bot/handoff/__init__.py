"""Live hand-over to a person (1999 operator).

A conversation is with the assistant ("bot"), waiting for a person ("queued") or with a
person ("person"). `hook.intercept` / `hook.observe` are called by bot.conversation for every
message: while a person holds the conversation, citizen messages go to the operator instead
of Rasa. Operators work through bot.staff.operator; their words reach the citizen through
bot.notify (web: polled by the page; LINE: pushed).
"""
