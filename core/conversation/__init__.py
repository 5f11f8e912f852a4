"""The conversation: plain chat types, the dialog as a pure function, its words and catalog."""
