"""The JSON API's request and response models (pydantic), by concern; the OpenAPI description is
generated from them (:mod:`ngcc112.panel.openapi`) and the handlers read their input with them
(:func:`ngcc112.panel.api_models.read.read_model`)."""
