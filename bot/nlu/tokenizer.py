"""Rasa's JiebaTokenizer, cutting the text with places and numbers masked (bot/nlu/feature_mask.py).

The tokens feed only the count featurizers (no entity extractor reads their offsets). The place
names come from the component's config, which bot/training.py fills from the curated lists when it
trains; Rasa stores a component's config in the model, so a model masks what it was trained with
even after the lists change (a change of them retrains). Not in the dictionary folder: Rasa's
JiebaTokenizer loads every file there as a jieba dictionary.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu import feature_mask


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class PlaceMaskingJiebaTokenizer(JiebaTokenizer):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # place_names: [[name, placeholder], ...], longest first; None: today's curated lists.
        return {**JiebaTokenizer.get_default_config(), "place_names": None}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource) -> None:
        super().__init__(config, model_storage, resource)
        given = config.get("place_names")
        self.names = (feature_mask.current_place_names() if given is None
                      else tuple((str(n), str(p)) for n, p in given))

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        import jieba

        text = message.get(attribute)
        if attribute == TEXT:
            text = feature_mask.mask_places(text, self.names)
        tokens = [Token(word, start) for word, start, _ in jieba.tokenize(text)]
        return self._apply_token_pattern(tokens)
