"""Rasa 3.6 dialogue policy: a citizen's message whose intent is a service of the catalogue (or
nlu_fallback) goes to action_route, and after action_route the bot listens. Runs inside the Rasa
environment, named in config.yml.

This replaces ~190 generated rules "intent → action_route" (one per service, two rule keys each)
that RulePolicy had to learn and then search on every prediction. The intents come from the
training build (bot/training.py writes them into the built config.yml), so the policy needs no
training and no files. RulePolicy keeps the few hand-written rules (nlu_data/rules.yml) and the
case form's loop: at equal confidence the ensemble prefers the higher priority, RulePolicy's 6
over this policy's 5, so a form in progress and the menu tiles' rules win, exactly where a
generated rule used to lose to them.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

ROUTE_ACTION = "action_route"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class RoutePolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": 5, "intents": [], "action": ROUTE_ACTION}

    def __init__(self, config: Dict[Text, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._intents = frozenset(config["intents"])

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        result = self._default_predictions(domain)
        action = self.next_action(tracker)
        if action is not None and action in domain.action_names_or_texts:
            result[domain.index_for_action(action)] = 1.0
        return self._prediction(result)

    def next_action(self, tracker: DialogueStateTracker) -> Optional[str]:
        """action_route right after a routable message, action_listen right after action_route,
        else nothing (another policy decides)."""
        last = next((e for e in reversed(tracker.events) if isinstance(e, (ActionExecuted, UserUttered))), None)
        if isinstance(last, UserUttered) and tracker.latest_action_name == ACTION_LISTEN_NAME:
            intent = (last.intent or {}).get("name")
            return self.config["action"] if intent in self._intents else None
        if isinstance(last, ActionExecuted) and last.action_name == self.config["action"]:
            return ACTION_LISTEN_NAME
        return None
