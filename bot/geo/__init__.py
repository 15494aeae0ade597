"""Places on the map, without a GIS stack: importable from both environments (gateway .venv and
Rasa .venv-rasa); needs the standard library, PyYAML and, for typed addresses, spaCy + jieba.

  boundaries.py  district and village (里) of a point, from the Ministry of the Interior's boundaries
  gazetteer.py   landmarks and roads of knowledge_base/places/ (names, English names, coordinates)
  address.py     a typed address (Chinese or English) → district, road, lane, alley, number, floor …
"""
