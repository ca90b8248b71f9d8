"""Facts: the contract as the language sees it (``model``), and reading a facts file into records (``reading``)."""
