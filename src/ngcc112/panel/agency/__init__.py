"""An agency user's pages: their own dispatches, one dispatch, and its forms."""
