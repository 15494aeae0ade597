"""Live hand-over to a person (1999 operator).

A conversation is with the assistant ("bot"), waiting for a person ("queued") or with a
person ("person"). `hook.intercept` / `hook.observe` are called by bot.conversation for every
message: while a person holds the conversation, citizen messages go to the operator instead
of Rasa. Operators work through bot.staff.operator; their words reach the citizen through
bot.notify (web: polled by the page; LINE: pushed).

Asking for a person (the button, the phrases in knowledge_base/handoff_phrases.yml, the NLU
intent human_handoff) queues the conversation only in staffed hours (BOT_HANDOFF_HOURS); outside
them the citizen is told the hours and 1999 and the assistant goes on answering.
"""
